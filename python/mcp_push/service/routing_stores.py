"""The routing store a command outside the server uses (`mcp-push send`, `event`, `route --explain`, the
dry runs): the state folder's SQLite (routing_state.py), or with MCP_PUSH_DATABASE_URL the one every replica
shares in PostgreSQL (pg/routing.py).

Why the command needs the shared one: a throttle slot taken through a replica must hold for a send from
the command line too, and `only: recoveries` must see the error a replica (or the CLI on another machine)
recorded; the state folder is one machine's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .backend import BackendUnavailable, database_url


class _PgCommandStore:
    """pg/routing.PgRoutingStore on a pool of one connection, closed with the command."""

    def __init__(self, state: Any):
        from .pg.routing import PgRoutingStore

        self._state = state
        self._store = PgRoutingStore(state)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def close(self) -> None:
        self._state.close()


def routing_store_for(source: Mapping[str, Any], error: type[Exception]) -> Any:
    """The command's routing store (it has close()); `error` (the command's own) with one line when the
    postgres extra is missing or the database cannot be used, the URL's password masked."""
    url = database_url(source)
    if not url:
        from .routing_state import RoutingStore

        return RoutingStore.for_source(source)
    from . import pg

    try:
        pg.require()
    except ImportError as exc:
        raise error(str(exc)) from None
    from .pg.state import PgState

    try:
        return _PgCommandStore(PgState(url, max_size=1))
    except BackendUnavailable as exc:
        raise error(str(exc)) from None
