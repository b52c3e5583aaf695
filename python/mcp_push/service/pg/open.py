"""Opening the PostgreSQL backend for a command, with its failures in one line for people."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..backend import BackendUnavailable, database_url


def open_pg_engine(source: Mapping[str, Any], error: type[Exception]) -> Any:
    """The PgEngine on MCP_PUSH_DATABASE_URL, not started; `error` (a command's own) when the extra is
    missing or the database cannot be used (the URL's password masked)."""
    from . import require

    try:
        require()
    except ImportError as exc:
        raise error(str(exc)) from None
    from .engine import PgEngine

    try:
        engine = PgEngine(source, database_url(source))
    except BackendUnavailable as exc:
        raise error(str(exc)) from None
    from .asks import PgAskStore

    engine.state.asks = PgAskStore(engine.state)  # pending questions shared by the replicas (backend.Backend's slot)
    from .history import watch_pg

    return watch_pg(engine, source)  # the delivery history every replica shares, and the metrics
