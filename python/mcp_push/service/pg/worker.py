"""procrastinate workers running mcp-push's deliveries: `mcp-push worker`, one inside each `mcp-push serve`
(MCP_PUSH_WORKERS), or one pass in a test's thread (run_once).

A worker that is SIGKILLed leaves its job `doing`, holding its lane; every worker looks for such jobs every
RESCUE_SECONDS (procrastinate's heartbeats tell a dead worker: none for STALLED_SECONDS) and puts them back,
in their place in the lane. The row of a job killed on the wire is sent again (at least once, never lost).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

from procrastinate import PsycopgConnector

from . import jobs

log = logging.getLogger("mcp_push")

HEARTBEAT_SECONDS = 2.0
STALLED_SECONDS = 8.0
RESCUE_SECONDS = 3.0
UNPARK_SECONDS = 0.5
# procrastinate notifies workers of new jobs only, not of a lock set free: the next job of a busy lane is
# found by polling, this often (procrastinate's default, 5 s, made a backlogged lane send one a 5 s).
POLL_SECONDS = 0.25


def _worker_app(engine: Any) -> Any:
    return jobs.build_app(PsycopgConnector(conninfo=engine.url, kwargs={"connect_timeout": 5}), engine.run_job)


def _options(concurrency: int, wait: bool = True) -> dict[str, Any]:
    return {"queues": [jobs.QUEUE], "concurrency": concurrency, "wait": wait, "install_signal_handlers": False,
            "update_heartbeat_interval": HEARTBEAT_SECONDS, "stalled_worker_timeout": STALLED_SECONDS,
            "delete_jobs": "successful", "listen_notify": wait, "fetch_job_polling_interval": POLL_SECONDS}


async def rescue(app: Any) -> int:
    """Puts the jobs of dead workers back to be run; returns how many."""
    stalled = await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=STALLED_SECONDS, queue=jobs.QUEUE)
    from procrastinate.exceptions import UniqueViolation
    from procrastinate.jobs import Status

    for job in stalled:
        log.warning("worker: taking over a delivery job of a worker that is gone (job %s)", job.id)
        try:
            await app.job_manager.retry_job(job)
        except UniqueViolation:
            # A newer job of the same run and lane already waits under this job's queueing lock, and it
            # sends the run's newest row when it runs: this one is covered. Finishing it frees the lane's
            # lock, which it held as `doing`; put back, it would have been refused again forever.
            log.info("worker: job %s is covered by a newer one of its run; finished", job.id)
            await app.job_manager.finish_job(job, status=Status.SUCCEEDED, delete_job=True)
    return len(stalled)


async def _rescuing(app: Any, engine: Any) -> None:
    rounds = 0
    while True:
        await asyncio.sleep(UNPARK_SECONDS)
        rounds += 1
        try:
            await asyncio.to_thread(engine.unpark)  # the parked updates that are due get a job again
            if rounds * UNPARK_SECONDS >= RESCUE_SECONDS:
                rounds = 0
                await rescue(app)
        except Exception:  # PostgreSQL away for a moment: the next round will do
            log.debug("worker: looking for stalled jobs failed", exc_info=True)


async def serve_jobs(engine: Any, concurrency: int, stop: asyncio.Event | None = None) -> None:
    """Runs jobs until cancelled (or `stop` is set), rescuing dead workers' jobs meanwhile."""
    app = _worker_app(engine)
    async with app.open_async():
        await rescue(app)
        tasks = [asyncio.create_task(app.run_worker_async(**_options(concurrency))),
                 asyncio.create_task(_rescuing(app, engine))]
        if stop is not None:
            tasks.append(asyncio.create_task(stop.wait()))
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


def run_once(engine: Any) -> None:
    """Every job that may go now, in this thread, one at a time; then returns."""
    app = _worker_app(engine)

    async def once() -> None:
        async with app.open_async():
            await app.run_worker_async(**_options(1, wait=False))

    asyncio.run(once())


class WorkerThread:
    """A worker inside a server process, on an event loop of its own."""

    def __init__(self, engine: Any, concurrency: int):
        self.engine, self.concurrency = engine, concurrency
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="mcp-push-pg-worker")

    def start(self) -> WorkerThread:
        self._thread.start()
        self._ready.wait(10)
        return self

    def _run(self) -> None:
        async def main() -> None:
            self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
            self._ready.set()
            while not self._stop.is_set():
                try:
                    await serve_jobs(self.engine, self.concurrency, self._stop)
                except Exception:  # PostgreSQL went away: try again shortly, never stop delivering
                    log.warning("worker: stopped by an error; starting again", exc_info=True)
                    try:
                        await asyncio.wait_for(self._stop.wait(), jobs.RETRY_DB_SECONDS)
                    except asyncio.TimeoutError:
                        pass

        asyncio.run(main())

    def stop(self, timeout: float = 10.0) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout)
