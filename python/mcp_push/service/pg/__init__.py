"""The PostgreSQL backend (MCP_PUSH_DATABASE_URL): replicas of `mcp-push serve` and `mcp-push worker`s share
one queue, one quota per credential, the run cards to edit and the idempotency keys (docs/DEPLOYMENT.md).

Deliveries are procrastinate jobs (jobs.py); a credential's lane is a procrastinate `lock`, so the worker
holding it is the only sender on that lane; a run's updates are coalesced with a `queueing_lock` per run and
lane, the newest content read from its row when it goes. The state (state.py) is mcp-push's own tables
(schema.py) next to procrastinate's. The delivery itself is the embedded engine's (engine.Engine.deliver).

Needs the optional extra: pip install 'mcp-push[postgres]'.
"""

from __future__ import annotations

INSTALL_HINT = "MCP_PUSH_DATABASE_URL needs the postgres extra: pip install 'mcp-push[postgres]'"


def require() -> None:
    """ImportError with the install line when procrastinate or psycopg is missing."""
    try:
        import procrastinate  # noqa: F401
        import psycopg  # noqa: F401
        import psycopg_pool  # noqa: F401
    except ImportError as exc:
        raise ImportError(f"{INSTALL_HINT} ({exc})") from None
