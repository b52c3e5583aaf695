"""procrastinate workers running mcp-push's deliveries: `mcp-push worker`, one inside each `mcp-push serve`
(MCP_PUSH_WORKERS), or one pass in a test's thread (run_once).

A worker that is SIGKILLed leaves its job `doing`, holding its lane; every worker looks for such jobs every
RESCUE_SECONDS (procrastinate's heartbeats tell a dead worker: none for STALLED_SECONDS) and puts them back,
in their place in the lane (one that a newer job of its run covers is finished: jobs._JobManager). The row
of a job killed on the wire is sent again (at least once, never lost).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

from procrastinate import PsycopgConnector

from . import jobs
from .url import scrub

log = logging.getLogger("mcp_push")

HEARTBEAT_SECONDS = 2.0
STALLED_SECONDS = 8.0
RESCUE_SECONDS = 3.0
UNPARK_SECONDS = 0.5
# procrastinate notifies workers of new jobs only; a lane's job leaving `doing` notifies them too (schema.py's
# trigger), so the next job of a busy lane goes at once. Polling, this often, finds what no notification tells: a
# rescheduled job falling due, a notification that came while the worker was fetching.
POLL_SECONDS = 0.25


def _worker_app(engine: Any) -> Any:
    return jobs.build_app(PsycopgConnector(conninfo=engine.url, kwargs={"connect_timeout": 5}), engine.run_job,
                          engine.url)


def _options(concurrency: int, wait: bool = True) -> dict[str, Any]:
    return {"queues": [jobs.QUEUE], "concurrency": concurrency, "wait": wait, "install_signal_handlers": False,
            "update_heartbeat_interval": HEARTBEAT_SECONDS, "stalled_worker_timeout": STALLED_SECONDS,
            "delete_jobs": "successful", "listen_notify": wait, "fetch_job_polling_interval": POLL_SECONDS}


async def rescue(app: Any, url: str = "") -> int:
    """Puts the jobs of dead workers back to be run (jobs._JobManager.retry_job: one a newer job of its run
    covers is finished instead); returns how many were found. A job that cannot be put back now (another
    worker's rescue took it first, PostgreSQL went away) is said, masked, and left for the next round: the
    others are still put back."""
    stalled = await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=STALLED_SECONDS, queue=jobs.QUEUE)
    for job in stalled:
        log.warning("worker: taking over a delivery job of a worker that is gone (job %s)", job.id)
        try:
            await app.job_manager.retry_job(job)
        except Exception as exc:
            log.warning("worker: job %s of a worker that is gone could not be put back yet: %s", job.id,
                        _said(exc, url))
    return len(stalled)


def _said(exc: BaseException, url: str) -> str:
    """An error as the log may show it: one line, the database URL's password masked. procrastinate's own errors
    often say nothing but their type: the driver's error under them says what happened."""
    cause = exc.__cause__ if not str(exc) and exc.__cause__ is not None else exc
    text = str(cause) or type(cause).__name__
    return scrub(text, url) if url else " ".join(text.split())


async def _rescuing(app: Any, engine: Any) -> None:
    rounds = 0
    failing = False  # said once per outage, not every round
    while True:
        await asyncio.sleep(UNPARK_SECONDS)
        rounds += 1
        try:
            await asyncio.to_thread(engine.unpark)  # the parked updates that are due get a job again
            if rounds * UNPARK_SECONDS >= RESCUE_SECONDS:
                rounds = 0
                await rescue(app, engine.url)
        except Exception as exc:  # PostgreSQL away for a moment: the next round will do
            if not failing:
                log.warning("worker: looking for due and stalled jobs failed; trying again: %s",
                            _said(exc, engine.url))
            failing = True
        else:
            if failing:
                log.info("worker: looking for due and stalled jobs works again")
            failing = False


class WorkerStopped(RuntimeError):
    """procrastinate's worker (or the rescuing loop beside it) ended without being asked to."""


async def serve_jobs(engine: Any, concurrency: int, stop: asyncio.Event | None = None) -> None:
    """Runs jobs until cancelled (or `stop` is set), rescuing dead workers' jobs meanwhile. Raises what ended
    the worker or the rescuing loop otherwise (WorkerStopped when either returned): the caller starts again.
    Before, that error was gathered away and serve_jobs returned, so `mcp-push worker` exited 0 and
    delivered nothing more (seen in the replicas test)."""
    app = _worker_app(engine)
    async with app.open_async():
        await rescue(app, engine.url)
        tasks = [asyncio.create_task(app.run_worker_async(**_options(concurrency))),
                 asyncio.create_task(_rescuing(app, engine))]
        if stop is not None:
            tasks.append(asyncio.create_task(stop.wait()))
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    if stop is not None and stop.is_set():
        return
    for task in done:
        if not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]
    raise WorkerStopped("the job worker stopped")


async def serve_jobs_forever(engine: Any, concurrency: int, stop: asyncio.Event | None = None) -> None:
    """serve_jobs, started again RETRY_DB_SECONDS after whatever ended it (PostgreSQL gone, a driver error),
    said once per stop with the URL masked: a worker never stops delivering until it is asked to."""
    while stop is None or not stop.is_set():
        try:
            await serve_jobs(engine, concurrency, stop)
        except Exception as exc:
            log.warning("worker: stopped by an error, starting again in %.0f s: %s", jobs.RETRY_DB_SECONDS,
                        _said(exc, engine.url))
            log.debug("worker: what stopped it", exc_info=True)
            if stop is None:
                await asyncio.sleep(jobs.RETRY_DB_SECONDS)
                continue
            try:
                await asyncio.wait_for(stop.wait(), jobs.RETRY_DB_SECONDS)
            except asyncio.TimeoutError:
                pass


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
            await serve_jobs_forever(self.engine, self.concurrency, self._stop)

        asyncio.run(main())

    def stop(self, timeout: float = 10.0) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout)
