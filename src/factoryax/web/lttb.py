"""Largest-Triangle-Three-Buckets downsampling (Steinarsson 2013) for charts.

A week of 1 Hz data is 604,800 points per signal; a chart a few hundred pixels wide
shows at most a few thousand. LTTB keeps the first and last point and, from each of
``threshold - 2`` equal buckets, the point that spans the largest triangle with the
point kept before it and the mean of the next bucket — peaks and dips survive, which
averaging would flatten.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["lttb"]

FloatArray = npt.NDArray[np.float64]


def lttb(x: FloatArray, y: FloatArray, threshold: int) -> npt.NDArray[np.intp]:
    """Indices of the points to keep, ascending.

    Args:
        x: strictly increasing positions (e.g. epoch milliseconds).
        y: values; NaN values are never chosen unless a bucket holds nothing else.
        threshold: points to keep (>= 3); all points are kept when there are fewer.

    Raises:
        ValueError: ``x`` and ``y`` differ in length or ``threshold`` < 3.

    Examples:
        >>> x = np.arange(10, dtype=float)
        >>> y = np.array([0, 0, 0, 9, 0, 0, 0, 0, -9, 0], dtype=float)
        >>> lttb(x, y, 4).tolist()
        [0, 3, 8, 9]
    """
    n = len(x)
    if len(y) != n:
        raise ValueError(f"x and y differ in length: {n} != {len(y)}")
    if threshold < 3:
        raise ValueError(f"threshold must be >= 3 points, got {threshold!r}")
    if n <= threshold:
        return np.arange(n)
    yy = np.where(np.isfinite(y), y, np.nan)
    edges = np.linspace(1, n - 1, threshold - 1).astype(np.intp)
    keep = np.empty(threshold, dtype=np.intp)
    keep[0] = 0
    keep[-1] = n - 1
    a = 0
    for i in range(threshold - 2):
        lo, hi = edges[i], max(edges[i + 1], edges[i] + 1)
        nlo, nhi = hi, (edges[i + 2] if i + 2 < len(edges) else n)
        nhi = max(nhi, nlo + 1)
        nxt = yy[nlo:nhi]
        avg_x = float(x[nlo:nhi].mean())
        finite = nxt[np.isfinite(nxt)]
        avg_y = float(finite.mean()) if finite.size else float(yy[a]) if np.isfinite(yy[a]) else 0.0
        ya = float(yy[a]) if np.isfinite(yy[a]) else avg_y
        area = np.abs((x[a] - avg_x) * (yy[lo:hi] - ya) - (x[a] - x[lo:hi]) * (avg_y - ya))
        pick = lo if np.all(np.isnan(area)) else lo + int(np.nanargmax(area))
        keep[i + 1] = pick
        a = pick
    return keep
