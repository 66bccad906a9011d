"""Where the steward app used to live: it is :mod:`assay.steward.web.app` now (names kept for callers)."""

from __future__ import annotations

from assay.steward.web.app import (
    DATA_DOCS_CDNS,
    DATA_DOCS_CSP,
    DATA_DOCS_PREFIX,
    PAGE_CSP,
    SECURITY_HEADERS,
    acting_user,
    build_app,
)

__all__ = ["DATA_DOCS_CDNS", "DATA_DOCS_CSP", "DATA_DOCS_PREFIX", "PAGE_CSP", "SECURITY_HEADERS", "acting_user",
           "build_app"]
