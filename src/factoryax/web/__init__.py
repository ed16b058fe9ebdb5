"""The dashboard: one offline page (HTML, CSS, vanilla JS, own canvas charts) and LTTB.

Contract:

- everything the browser loads ships in this package (``static/``); no CDN, no build step,
  no third-party JavaScript, so the dashboard works on a plant network with no internet;
- the page talks only to :mod:`factoryax.api` (JSON + SSE) and shows text in Korean or
  English (a toggle, remembered in the browser);
- long series are downsampled server-side with :func:`lttb` before they are sent.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from factoryax.web.lttb import lttb

__all__ = ["STATIC_DIR", "lttb"]

STATIC_DIR = Path(str(resources.files("factoryax.web").joinpath("static")))
"""The folder served at ``/static``: index.html, app.css, i18n.js, charts.js and app.js
(whose ``PAGES`` list is the navigation: adding a page is one line there)."""
