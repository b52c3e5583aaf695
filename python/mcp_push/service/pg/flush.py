"""`mcp-push flush` on PostgreSQL: delivers what is pending in the database now, in this process, and exits.

What is pending is every row not yet final, whoever accepted it. The jobs of dead workers are taken back
first (worker.rescue), then worker passes run in this thread until no job is due within what is left of
the timeout; a running worker may send some of them meanwhile (a lane's lock keeps one sender). The result
is each of those rows' as it is then: final, or still `queued`.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from ... import result as R
from .engine import PgEngine, _channel_result
from .worker import _worker_app, rescue

# A pass that found jobs due but held (their lane busy elsewhere) looks again this soon.
POLL_SECONDS = 0.2


async def _rescue_once(engine: PgEngine) -> int:
    app = _worker_app(engine)
    async with app.open_async():
        return await rescue(app, engine.url)


def flush(engine: PgEngine, timeout: float) -> list[R.ChannelResult]:
    """Sends the pending deliveries; returns their results (a superseded update left out), [] for none."""
    pending = engine.state.unfinished()
    if not pending:
        return []
    asyncio.run(_rescue_once(engine))
    deadline = time.monotonic() + timeout
    while True:
        wait = engine.pump()
        left = deadline - time.monotonic()
        if wait is None or wait > left or not engine.state.unfinished():
            break
        time.sleep(max(wait, POLL_SECONDS))
    found = engine.state.results(row for row, _ in pending)
    results = [_channel_result(channel, found[row]) if row in found else R.ChannelResult(channel, False, R.QUEUED)
               for row, channel in pending]
    return [r for r in results if r.status != R.SUPERSEDED]


def flush_results(source: Any, timeout: float, error: type[Exception]) -> tuple[str, list[R.ChannelResult]]:
    """(the database as it may be shown, the results of flush) on MCP_PUSH_DATABASE_URL."""
    from .open import open_pg_engine

    engine = open_pg_engine(source, error)
    try:
        return engine.state.shown, flush(engine, timeout)
    finally:
        engine.close()
