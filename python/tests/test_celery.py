"""The Celery integration with a real worker (celery.contrib.testing: the in-memory broker, a cache result
backend) running real tasks, against a loopback vendor (the custom webhook, {"title", "content"} as JSON)."""

from __future__ import annotations

import re
import threading

import pytest
from celery import Celery
from celery.contrib.testing.worker import start_worker

from mcp_push.integrations.celery import connect, task_filter

from .mcp_helpers import webhook_env

SECRET = "wh_5e8d1c9a7b3f2e6d"


@pytest.fixture(scope="module")  # one app: Celery registers task names process-wide
def app():
    app = Celery("jobs", broker="memory://", backend="cache+memory://")
    app.conf.task_default_retry_delay = 0

    @app.task(name="jobs.backup")
    def backup():
        return "ok"

    @app.task(name="jobs.import")
    def import_rows():
        raise ValueError(f"row 7: bad date (posting to /hook/{SECRET})")

    @app.task(name="jobs.flaky", bind=True, max_retries=2)
    def flaky(self):
        if self.request.retries == 0:
            raise self.retry(exc=ConnectionError("db unreachable"), countdown=0)
        return "second time lucky"

    @app.task(name="other.cleanup")
    def cleanup():
        return "done"

    return app


@pytest.fixture(autouse=True)
def own_secret_registry(monkeypatch):
    """The worker runs in this process: the long-lived secrets earlier tests registered (some as short as
    "in") are not this worker's configuration."""
    from mcp_push import redact

    monkeypatch.setattr(redact, "REGISTRY", redact.SecretRegistry())


def wait_for(vendor, count: int) -> list[dict]:
    """The vendor's first `count` messages, once they came (the worker sends them in a thread of its own)."""
    arrived = threading.Event()
    for _ in range(600):
        if len(vendor.received) >= count:
            break
        arrived.wait(0.05)
    return vendor.json_bodies()


def test_a_real_worker_reports_success_failure_and_retry(app, vendor):
    env = {**webhook_env(vendor, f"/hook/{SECRET}"), "HITOKOTO": "false", "MCP_PUSH_RETRY_ATTEMPTS": "1"}
    connection = connect(app, tasks="jobs.*", on_start=True, env=env)
    try:
        with start_worker(app, perform_ping_check=False):
            ok = app.tasks["jobs.backup"].delay()
            assert ok.get(timeout=30) == "ok"
            messages = wait_for(vendor, 2)
            assert [m["title"] for m in messages] == [f"🚀 jobs.backup-{ok.id} started",
                                                      f"✅ jobs.backup-{ok.id} finished"]
            assert re.fullmatch(rf"jobs.backup finished in \d+s\ntask: jobs.backup\ntask_id: {ok.id}",
                                messages[1]["content"])

            failed = app.tasks["jobs.import"].delay()
            with pytest.raises(ValueError):
                failed.get(timeout=30)
            messages = wait_for(vendor, 4)[2:]
            assert [m["title"] for m in messages] == [f"🚀 jobs.import-{failed.id} started",
                                                      f"❌ jobs.import-{failed.id} failed"]
            error = messages[1]["content"]
            assert re.match(r"jobs.import failed after \d+s: ValueError: row 7: bad date \(posting to /hook/\*\*\*\)",
                            error)
            assert "Error code: ValueError" in error and SECRET not in error

            retried = app.tasks["jobs.flaky"].delay()
            assert retried.get(timeout=30) == "second time lucky"
            messages = wait_for(vendor, 7)[4:]
            run = f"jobs.flaky-{retried.id}"
            assert [m["title"] for m in messages] == [f"🚀 {run} started", f"⏳ {run} update", f"✅ {run} finished"]
            assert messages[1]["content"].startswith("jobs.flaky retrying (attempt 2): ConnectionError: db unreachable")

            other = app.tasks["other.cleanup"].delay()  # not admitted by the filter: nothing sent
            assert other.get(timeout=30) == "done"
            assert connection.flush(30)
        assert len(vendor.received) == 7
    finally:
        connection.disconnect()


def test_without_on_start_only_the_outcome_is_sent(app, vendor):
    env = {**webhook_env(vendor), "HITOKOTO": "false"}
    connection = connect(app, tasks=lambda name: name == "jobs.backup", env=env)
    try:
        with start_worker(app, perform_ping_check=False):
            result = app.tasks["jobs.backup"].delay()
            result.get(timeout=30)
            messages = wait_for(vendor, 1)
            assert connection.flush(30)
        assert [m["title"] for m in messages] == [f"✅ jobs.backup-{result.id} finished"]
    finally:
        connection.disconnect()


def test_task_filters():
    assert task_filter("jobs.*")("jobs.backup") and not task_filter("jobs.*")("other.x")
    assert task_filter(["a", "b.*"])("b.c") and not task_filter(["a", "b.*"])("c")
    assert task_filter(lambda name: name.endswith("!"))("x!")
