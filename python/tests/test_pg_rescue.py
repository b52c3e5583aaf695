"""A dead worker's job taken over (service/pg/worker.rescue), and a job put back whose queueing lock a newer job of
its run holds (jobs._JobManager), in-process against a real PostgreSQL (pg_helpers.py).

A worker that is SIGKILLed leaves in procrastinate's tables what `die_holding_the_next_job` leaves: its
procrastinate_workers row with a heartbeat that stopped, and the job it fetched `doing` under its id (holding
its lane's lock); the delivery row it took is `sending` when the worker died on the wire."""

from __future__ import annotations

import asyncio
import json
import logging
import threading

import psycopg
import pytest

from mcp_push.service.pg import jobs
from mcp_push.service.pg.engine import PgEngine
from mcp_push.service.pg.worker import STALLED_SECONDS, _worker_app, rescue

from .local_server import Behaviour
from .pg_helpers import pg_url  # noqa: F401 - a fixture

PASSWORD = "mcp_push"


def webhook(vendor) -> dict[str, str]:
    return {"WEBHOOK_URL": f"{vendor.url}/hook", "WEBHOOK_CONTENT_TYPE": "application/json",
            "WEBHOOK_BODY": "title: $title\ncontent: $content", "HITOKOTO": "false"}


def titles(vendor) -> list[str]:
    return [json.loads(r.body)["title"] for r in vendor.received if r.status == 200]


def die_holding_the_next_job(engine: PgEngine) -> dict:
    """A worker registers, fetches the next job (as procrastinate's worker does) and takes its row onto the wire,
    then dies before the vendor saw anything: its heartbeat stops. Returns the job (its procrastinate row) and the
    row's channel."""

    async def fetch() -> int:
        app = _worker_app(engine)
        async with app.open_async():
            worker = await app.job_manager.register_worker()
            job = await app.job_manager.fetch_job(queues=[jobs.QUEUE], worker_id=worker)
            assert job is not None
            return job.id

    job_id = asyncio.run(fetch())
    with psycopg.connect(engine.url, autocommit=True) as conn:
        job = dict(zip(("id", "args", "queueing_lock", "worker_id"), conn.execute(
            "SELECT id, args, queueing_lock, worker_id FROM procrastinate_jobs WHERE id = %s", (job_id,)).fetchone(),
            strict=True))
        args = job["args"]
        delivery = (engine.state.take_row(args["row"]) if "row" in args else
                    engine.state.take_update(args["lane"], args["run_id"], args["gen"]))
        engine.state.sending(delivery.row)
        job["channel"] = delivery.channel
        conn.execute("UPDATE procrastinate_workers SET last_heartbeat = now() - make_interval(secs => %s) "
                     "WHERE id = %s", (STALLED_SECONDS * 2, job["worker_id"]))
    return job


def rescue_once(engine: PgEngine) -> int:
    async def once() -> int:
        app = _worker_app(engine)
        async with app.open_async():
            return await rescue(app, engine.url)

    return asyncio.run(once())


def jobs_left(url: str) -> list[tuple[str, str | None]]:
    with psycopg.connect(url) as conn:
        return [tuple(row) for row in conn.execute("SELECT status::text, queueing_lock FROM procrastinate_jobs "
                                                   "ORDER BY id")]


@pytest.fixture
def engine(pg_url, vendor):  # noqa: F811
    made = PgEngine(webhook(vendor), pg_url)
    yield made
    made.close()


def test_a_dead_workers_update_job_covered_by_a_newer_one_of_its_run_is_finished_and_frees_the_lane(engine, vendor):
    engine.submit("start", "c", kind="start", run_id="r")
    engine.pump()
    engine.submit("update 1", "c", kind="update", run_id="r")
    dead = die_holding_the_next_job(engine)
    assert dead["queueing_lock"] is not None
    # A newer update of the run: its job takes the same queueing lock (free while the dead one is `doing`).
    newer = engine.submit("update 2", "c", kind="update", run_id="r")
    assert [status for status, _ in jobs_left(engine.url)] == ["doing", "todo"]
    engine.pump()
    assert titles(vendor) == ["start"]  # the dead job holds the lane
    assert rescue_once(engine) == 1
    engine.pump()
    assert titles(vendor) == ["start", "update 2"]  # the newest row, once
    assert jobs_left(engine.url) == []  # nothing holds the lane
    assert newer.wait(5) and newer.result().channels[0].status == "delivered"
    end = engine.submit("end", "c", kind="end", run_id="r")
    engine.pump()
    assert titles(vendor) == ["start", "update 2", "end"]
    assert end.wait(5) and end.result().channels[0].status == "delivered"


def test_a_dead_workers_job_nothing_covers_is_put_back_in_its_place_and_delivered_once(engine, vendor):
    ticket = engine.submit("end", "c", kind="end", run_id="r")
    behind = engine.submit("deploy", "done")
    die_holding_the_next_job(engine)
    engine.pump()
    assert titles(vendor) == []  # the dead job holds the lane, and what is behind it waits
    assert rescue_once(engine) == 1
    engine.pump()
    assert titles(vendor) == ["end", "deploy"]  # its place in the lane kept
    assert jobs_left(engine.url) == []
    assert [t.wait(5) and t.result().channels[0].status for t in (ticket, behind)] == ["delivered", "delivered"]


def test_an_update_rescheduled_while_a_newer_one_of_its_run_was_accepted_leaves_its_lane_and_the_wait_holds(
        engine, vendor):
    gate = threading.Event()
    # The vendor holds the first update, then asks to wait 7 s: the job is rescheduled, and procrastinate refuses
    # that retry, for a newer update of the run deferred a job under the same queueing lock meanwhile.
    vendor.script = [Behaviour(status=429, body="slow down", headers={"Retry-After": "7"}, gate=gate)]
    engine.submit("update 1", "c", kind="update", run_id="r")
    sending = threading.Thread(target=engine.pump)
    sending.start()
    try:
        for _ in range(600):
            if vendor.received:
                break
            threading.Event().wait(0.05)
        newer = engine.submit("update 2", "c", kind="update", run_id="r")
        with psycopg.connect(engine.url) as conn:  # before the vendor's answer: the wait is counted from later
            answered_after = conn.execute("SELECT clock_timestamp()").fetchone()[0]
    finally:
        gate.set()
        sending.join(60)
    assert [r.status for r in vendor.received] == [429]
    [(status, lock)] = jobs_left(engine.url)  # the covered job finished; the newer one waits the 7 s asked
    assert status == "todo" and lock is not None
    with psycopg.connect(engine.url) as conn:
        wait = conn.execute("SELECT extract(epoch FROM scheduled_at - %s) FROM procrastinate_jobs",
                            (answered_after,)).fetchone()[0]
    assert float(wait) >= 7  # however long the test took since
    engine.pump()
    assert len(vendor.received) == 1
    with psycopg.connect(engine.url, autocommit=True) as conn:  # the 7 s pass
        conn.execute("UPDATE procrastinate_jobs SET scheduled_at = now()")
    engine.pump()
    assert titles(vendor) == ["update 2"] and jobs_left(engine.url) == []
    assert newer.wait(5) and newer.result().channels[0].status == "delivered"


def test_a_job_that_cannot_be_put_back_is_said_masked_and_the_others_are_still_rescued(pg_url, vendor, caplog,  # noqa: F811
                                                                                        monkeypatch):
    # Two lanes (webhook and ntfy), a dead worker holding the job of each.
    engine = PgEngine({**webhook(vendor), "NTFY_URL": vendor.url, "NTFY_TOPIC": "alerts"}, pg_url)
    try:
        engine.submit("deploy", "done")
        first, second = die_holding_the_next_job(engine), die_holding_the_next_job(engine)
        assert first["worker_id"] != second["worker_id"]
        put_back = jobs._JobManager.retry_job

        async def flaky(self, job, **kwargs):
            if job.id == first["id"]:  # PostgreSQL went away for this one, saying where (with the password)
                raise psycopg.OperationalError(f'connection to "{pg_url}" failed: password {PASSWORD} rejected')
            return await put_back(self, job, **kwargs)

        monkeypatch.setattr(jobs._JobManager, "retry_job", flaky)
        with caplog.at_level(logging.WARNING, logger="mcp_push"):
            assert rescue_once(engine) == 2
        said = [r.getMessage() for r in caplog.records if "could not be put back" in r.getMessage()]
        assert len(said) == 1 and PASSWORD not in said[0] and ":***@" in said[0]
        engine.pump()
        paths = {"webhook": "/hook", "ntfy": "/alerts"}
        assert [r.path for r in vendor.received] == [paths[second["channel"]]]  # the other job was put back
        monkeypatch.setattr(jobs._JobManager, "retry_job", put_back)
        assert rescue_once(engine) == 1  # the next round puts it back
        engine.pump()
        assert sorted(r.path for r in vendor.received) == ["/alerts", "/hook"]
        assert jobs_left(pg_url) == []
    finally:
        engine.close()


def test_a_jobs_end_postgresql_did_not_take_is_stored_again_and_the_lane_is_free(engine, vendor, caplog, monkeypatch):
    from procrastinate.exceptions import ConnectorException
    from procrastinate.manager import JobManager

    monkeypatch.setattr(jobs, "RETRY_DB_SECONDS", 0.01)
    finish = JobManager.finish_job_by_id_async
    failures = []

    async def lost_once(self, **kwargs):
        if not failures:  # the connection went away as the worker stored the job's end, saying where
            failures.append(kwargs["job_id"])
            try:
                raise psycopg.OperationalError(f'connection to "{engine.url}" lost: password {PASSWORD}')
            except psycopg.OperationalError as exc:
                raise ConnectorException() from exc
        return await finish(self, **kwargs)

    monkeypatch.setattr(JobManager, "finish_job_by_id_async", lost_once)
    first = engine.submit("first", "c")
    second = engine.submit("second", "c")
    with caplog.at_level(logging.WARNING, logger="mcp_push"):
        engine.pump()
    assert len(failures) == 1
    said = [r.getMessage() for r in caplog.records if "was not stored" in r.getMessage()]
    assert len(said) == 1 and PASSWORD not in said[0] and ":***@" in said[0]
    assert titles(vendor) == ["first", "second"] and jobs_left(engine.url) == []  # the lane was not kept
    assert [t.wait(5) and t.result().channels[0].status for t in (first, second)] == ["delivered", "delivered"]
