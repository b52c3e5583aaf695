"""The caller of a fan-out waits once for every channel (api._run_concurrently): a channel still running
at its time budget is reported as a timeout and not waited for, the others keep their results, and a
channel whose thread ended without a result is reported at once rather than at its budget."""

from __future__ import annotations

import threading

from mcp_push import api
from mcp_push import result as R
from mcp_push.deliver import Outcome

ENV = {"GOTIFY_URL": "http://127.0.0.1:9", "GOTIFY_TOKEN": "gotify_tok_rc", "NTFY_TOPIC": "rc_topic",
       "NTFY_URL": "http://127.0.0.1:9"}


def _delivered(plan):
    return Outcome(plan, R.ChannelResult(plan.spec.name, True, R.DELIVERED, None, 1, 0, 200, 1))


def test_a_channel_past_its_budget_is_a_timeout_and_the_others_keep_their_results(monkeypatch):
    release = threading.Event()

    def send_plan(plan, timeout, progress=None, attempts=None):
        if plan.spec.name == "gotify":
            progress.attempts, progress.parts = 1, 1
            release.wait(30)  # hung until the test ends
        return _delivered(plan)

    monkeypatch.setattr(api, "send_plan", send_plan)
    monkeypatch.setattr(api, "time_budget", lambda plan, timeout, attempts=None: 0.2 if plan.spec.name == "gotify"
                        else 30.0)
    try:
        result = api.send("t", "c", ignore_default_config=True, **ENV)
    finally:
        release.set()
    gotify, ntfy = result.channels
    assert (gotify.channel, gotify.status, gotify.error, gotify.attempts, gotify.parts) == (
        "gotify", R.TIMEOUT, "no result within 0.2 s", 1, 1)
    assert gotify.elapsed_ms >= 200
    assert (ntfy.channel, ntfy.status) == ("ntfy", R.DELIVERED)


def test_a_channel_whose_thread_ended_without_a_result_is_reported_without_waiting_for_its_budget(monkeypatch):
    def send_plan(plan, timeout, progress=None, attempts=None):
        if plan.spec.name == "ntfy":
            raise RuntimeError("a bug below send_plan")  # the worker reports it and ends the task
        return _delivered(plan)

    monkeypatch.setattr(api, "send_plan", send_plan)
    monkeypatch.setattr(threading, "excepthook", lambda args: None)
    monkeypatch.setattr(api, "time_budget", lambda plan, timeout, attempts=None: 3600.0)
    done: list = []
    caller = threading.Thread(target=lambda: done.append(api.send("t", "c", ignore_default_config=True, **ENV)))
    caller.start()
    caller.join(60)  # a hang guard: waiting out the 3600 s budget would leave the caller running
    assert not caller.is_alive()
    gotify, ntfy = done[0].channels
    assert (gotify.status, ntfy.status, ntfy.error) == (R.DELIVERED, R.TIMEOUT, "no result within 3600 s")
