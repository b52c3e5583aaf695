"""A PostgreSQL worker never stops delivering on its own (pg/worker.py): what ends procrastinate's worker is
raised from serve_jobs (before, it was gathered away and `mcp-push worker` exited 0, delivering nothing more:
seen in the replicas test), and serve_jobs_forever starts it again, the error said with the URL masked."""

from __future__ import annotations

import asyncio
import logging

import pytest
from procrastinate import App

from mcp_push.service.pg import jobs, worker
from mcp_push.service.pg.engine import PgEngine

from .pg_helpers import pg_url  # noqa: F401 - a fixture

PASSWORD = "pw_worker_0042"


def test_what_ends_the_job_worker_is_raised_not_swallowed(pg_url, monkeypatch):  # noqa: F811
    async def broken(self, **options):
        raise RuntimeError("the worker broke")

    monkeypatch.setattr(App, "run_worker_async", broken)
    engine = PgEngine({"HITOKOTO": "false"}, pg_url)
    try:
        with pytest.raises(RuntimeError, match="the worker broke"):
            asyncio.run(worker.serve_jobs(engine, 1))

        async def returned(self, **options):
            return None

        monkeypatch.setattr(App, "run_worker_async", returned)
        with pytest.raises(worker.WorkerStopped):
            asyncio.run(worker.serve_jobs(engine, 1))
    finally:
        engine.close()


def test_a_stopped_worker_is_started_again_and_the_error_said_masked(monkeypatch, caplog):
    url = f"postgresql://push:{PASSWORD}@127.0.0.1:1/push"
    calls: list[int] = []
    stop = asyncio.Event()

    async def serve_jobs(engine, concurrency, stop_event=None):
        calls.append(concurrency)
        if len(calls) < 3:
            raise RuntimeError(f"connection to {url} lost")
        stop.set()  # the third start works until it is asked to stop

    monkeypatch.setattr(worker, "serve_jobs", serve_jobs)
    monkeypatch.setattr(jobs, "RETRY_DB_SECONDS", 0.01)

    class Engine:
        pass

    engine = Engine()
    engine.url = url
    with caplog.at_level(logging.WARNING, logger="mcp_push"):
        asyncio.run(worker.serve_jobs_forever(engine, 2, stop))
    assert calls == [2, 2, 2]
    said = [r.getMessage() for r in caplog.records if "stopped by an error" in r.getMessage()]
    assert len(said) == 2
    assert all(PASSWORD not in line and "***" in line for line in said), said


def test_a_failed_heartbeat_is_said_and_the_next_one_still_goes(pg_url, monkeypatch, caplog):  # noqa: F811
    """procrastinate's heartbeat task ends at its first error and nothing notices: the worker ran on without
    heartbeats, and after STALLED_SECONDS the others re-ran its jobs as a dead worker's (jobs._JobManager)."""
    from procrastinate.manager import JobManager

    beats: list[str] = []
    stored = JobManager.update_heartbeat

    async def flaky(self, worker_id):
        if len(beats) < 2:
            beats.append("lost")
            raise RuntimeError(f"connection to {pg_url} lost")
        beats.append("stored")
        await stored(self, worker_id)

    monkeypatch.setattr(JobManager, "update_heartbeat", flaky)
    monkeypatch.setattr(worker, "HEARTBEAT_SECONDS", 0.05)
    engine = PgEngine({"HITOKOTO": "false"}, pg_url)
    stop = asyncio.Event()

    async def until_stored() -> None:
        while beats.count("stored") < 3:
            await asyncio.sleep(0.05)
        stop.set()

    async def main() -> None:
        await asyncio.gather(worker.serve_jobs(engine, 1, stop), asyncio.wait_for(until_stored(), 30))

    try:
        with caplog.at_level(logging.INFO, logger="mcp_push"):
            asyncio.run(main())
    finally:
        engine.close()
    assert beats[:2] == ["lost", "lost"] and beats.count("stored") >= 3
    said = [r.getMessage() for r in caplog.records if "heartbeat" in r.getMessage()]
    assert said[0].startswith("worker: a heartbeat was not stored (connection to ") and pg_url not in said[0]
    assert "***" in said[0]  # the URL masked
    assert sum("was not stored" in line for line in said) == 1  # once per outage
    assert "worker: heartbeats are stored again" in said
