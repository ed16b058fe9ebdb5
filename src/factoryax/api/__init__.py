"""The HTTP API (FastAPI) that serves the dashboard, partners and scripts.

Contract:

- one router per capability (:data:`~factoryax.api.routers.ROUTERS`), documented in the
  OpenAPI schema at ``/openapi.json`` (``/docs`` for a browser);
- every call but ``/api/healthz`` and ``/api/login`` needs a token
  (``Authorization: Bearer fax_<id>_<secret>`` or the session cookie); tokens are stored
  scrypt-hashed; roles viewer / operator / engineer / quality / admin / partner and a
  site scope decide what a token reaches; a partner reaches only certificates, evidence
  bundles and verification, never plant data;
- every write request (POST/PUT/PATCH/DELETE) leaves an audit row, whatever its outcome;
- request bodies over ``ApiConfig.max_body_bytes`` get 413; every 4xx is JSON
  ``{"error": "…what, where and the fix…", "status": n}``;
- live views update over Server-Sent Events (``/api/live``);
- the API writes only through the capabilities' public functions (ingest, safety, share).
"""

from __future__ import annotations

from factoryax.api.app import create_app
from factoryax.api.audit import AuditLog, AuditRow
from factoryax.api.auth import AuthError, Principal, Role, TokenInfo, TokenStore
from factoryax.api.context import API_DIR, ApiConfig, ApiContext
from factoryax.api.routers.alarms import store as store_alarm_events

__all__ = [
    "API_DIR",
    "ApiConfig",
    "ApiContext",
    "AuditLog",
    "AuditRow",
    "AuthError",
    "Principal",
    "Role",
    "TokenInfo",
    "TokenStore",
    "create_app",
    "store_alarm_events",
]
