"""Unit spellings and the linear conversions between the units plants actually log.

Only conversions that are exact and unambiguous are listed; anything else is a mismatch
that goes to quarantine with the reason, never a silent guess.

Examples:
    >>> conversion("degF", "°C")
    (0.5555555555555556, -17.77777777777778)
    >>> conversion("kPa", "bar")
    (0.01, 0.0)
    >>> conversion("psi", "mm/s") is None
    True
"""

from __future__ import annotations

__all__ = ["canonical_unit", "conversion"]

_ALIASES: dict[str, str] = {
    "c": "°C",
    "degc": "°C",
    "℃": "°C",
    "°c": "°C",
    "deg c": "°C",
    "celsius": "°C",
    "f": "°F",
    "degf": "°F",
    "℉": "°F",
    "°f": "°F",
    "fahrenheit": "°F",
    "k": "K",
    "kelvin": "K",
    "mm/s": "mm/s",
    "mm/sec": "mm/s",
    "in/s": "in/s",
    "ips": "in/s",
    "bar": "bar",
    "mbar": "mbar",
    "kpa": "kPa",
    "mpa": "MPa",
    "pa": "Pa",
    "psi": "psi",
    "a": "A",
    "amp": "A",
    "amps": "A",
    "ma": "mA",
    "w": "W",
    "kw": "kW",
    "l/min": "L/min",
    "lpm": "L/min",
    "m3/h": "m3/h",
    "m³/h": "m3/h",
    "mm": "mm",
    "um": "µm",
    "µm": "µm",
    "in": "in",
    "rpm": "rpm",
    "1/min": "rpm",
    "hz": "Hz",
    "ppm": "ppm",
    "%": "%",
    "s": "s",
    "ms": "ms",
}

# (from, to) -> (scale, offset): to = from * scale + offset
_LINEAR: dict[tuple[str, str], tuple[float, float]] = {
    ("°F", "°C"): (5 / 9, -32 * 5 / 9),
    ("K", "°C"): (1.0, -273.15),
    ("in/s", "mm/s"): (25.4, 0.0),
    ("kPa", "bar"): (0.01, 0.0),
    ("MPa", "bar"): (10.0, 0.0),
    ("Pa", "bar"): (1e-5, 0.0),
    ("mbar", "bar"): (1e-3, 0.0),
    ("psi", "bar"): (0.0689475729, 0.0),
    ("mA", "A"): (1e-3, 0.0),
    ("W", "kW"): (1e-3, 0.0),
    ("m3/h", "L/min"): (1000 / 60, 0.0),
    ("µm", "mm"): (1e-3, 0.0),
    ("in", "mm"): (25.4, 0.0),
    ("Hz", "rpm"): (60.0, 0.0),
    ("ms", "s"): (1e-3, 0.0),
}


def canonical_unit(unit: str) -> str:
    """The canonical spelling of a unit (``'degC'`` → ``'°C'``); unknown ones unchanged."""
    text = unit.strip()
    return _ALIASES.get(text.lower(), text)


def conversion(source: str, target: str) -> tuple[float, float] | None:
    """``(scale, offset)`` converting ``source`` values to ``target``, or None if unknown."""
    src, dst = canonical_unit(source), canonical_unit(target)
    if src == dst or not src or not dst:
        return (1.0, 0.0)
    if (src, dst) in _LINEAR:
        return _LINEAR[(src, dst)]
    if (dst, src) in _LINEAR:
        scale, offset = _LINEAR[(dst, src)]
        return (1 / scale, -offset / scale)
    return None
