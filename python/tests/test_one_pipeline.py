"""One pipeline: the library (`dispatch`, `send_event`) and the MCP server's engine plan, send and apply
the edit rule alike, so the same vendor replies give the same results and the same requests. Every
conformance case with scripted replies is replayed through both paths and the two are compared (every
result field but elapsed_ms, every request that went out)."""

from __future__ import annotations

import json

import pytest

from conformance.runners.cases import load_cases
from conformance.runners.python_runner import FakePace, mock_vendor
from mcp_push import dispatch, retry
from mcp_push.config import channel_env
from mcp_push.edits import EDIT_VAR
from mcp_push.events import RunLog, event_message, render_event, send_event, validate_envelope
from mcp_push.lanekey import lane_key
from mcp_push.service.engine import Engine
from mcp_push.service.outbox import Outbox
from mcp_push.specs import load_channels
from mcp_push.tokens import TOKENS

RUN_ID = "pipeline-run"
CASES = [c for c in load_cases() if "replies" in c.data]


def _message(case) -> tuple[str, str, str, str | None, dict | None]:
    """(title, content, kind, run id, params) as either path gets them: an event is rendered first, its
    card (if the format is card) in the params, as the MCP server submits it."""
    given = case.data["input"]
    if "event" not in given:
        return given["title"], given["content"], "message", None, given.get("params")
    runs = RunLog()
    for earlier in given.get("seen", []):
        render_event(validate_envelope(earlier, now=case.now), runs)
    event = validate_envelope(given["event"], now=case.now)
    title, content, params = event_message(event, case.env, runs)
    return title, content, event["event"], event["run_id"], params


def _library(case):
    given = case.data["input"]
    if "event" in given and given.get("edit_refs") is None:
        runs = RunLog()
        for earlier in given.get("seen", []):
            render_event(validate_envelope(earlier, now=case.now), runs)
        return send_event(given["event"], env=case.env, runs=runs, now=case.now)
    title, content, _, _, params = _message(case)
    return dispatch(title, content, case.env, params=params, now=case.now,
                    edit_refs=given.get("edit_refs"), channels=given.get("channels"))


def _engine(case):
    """The server's path: accepted by the engine, sent by its lane on a clock standing at the case's time.
    A case's edit refs are the run's messages in the engine's outbox, and the message is that run's update."""
    given = case.data["input"]
    title, content, kind, run_id, params = _message(case)
    source = dict(case.env)
    refs = given.get("edit_refs")
    if refs is not None:
        source[EDIT_VAR] = "true"
        kind, run_id = "update", run_id or RUN_ID
    engine = Engine(source, Outbox(None, lambda: case.now), clock=lambda: case.now)
    specs = load_channels()
    for name, ref in (refs or {}).items():
        spec = specs[name]
        engine.outbox.set_ref(lane_key(spec, channel_env(spec, source), engine.outbox.lane_salt), run_id,
                              json.dumps(ref))
    ticket = engine.submit(title, content, kind=kind, run_id=run_id, channels=given.get("channels"),
                           params=params)
    engine.pump()
    engine.close()
    return ticket.result()


def _replay(case, path):
    TOKENS.clear()
    fake = FakePace()
    saved, retry.PACE = retry.PACE, retry.Pace(fake.sleep, fake.monotonic, fake.random, at_once=1)
    mock, vendor = mock_vendor(case.data["replies"])
    try:
        with mock:
            result = path(case)
    finally:
        retry.PACE = saved
        TOKENS.clear()
    results = [{k: v for k, v in r.to_dict().items() if k != "elapsed_ms"} for r in result]
    wire = [(r.method, r.url, r.body) for r in vendor.received]
    return results, result.skipped, wire, fake.slept


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_the_library_and_the_engine_give_the_same_results_for_the_same_replies(case):
    library = _replay(case, _library)
    engine = _replay(case, _engine)
    assert engine == library


def _counting_plans(monkeypatch) -> list[object]:
    import mcp_push.service.engine as engine_module

    made: list[object] = []
    real = engine_module.plan_channel

    def counted(*args, **kwargs):
        made.append(args[7] if len(args) > 7 else kwargs.get("edit_ref"))  # the 8th: edit_ref
        return real(*args, **kwargs)

    monkeypatch.setattr(engine_module, "plan_channel", counted)
    return made


def test_the_engine_plans_a_delivery_once_and_sends_that_plan(monkeypatch):
    made = _counting_plans(monkeypatch)
    mock, vendor = mock_vendor([{"status": 200, "body": '{"errcode":0,"errmsg":"ok"}'}])
    engine = Engine({"DD_BOT_TOKEN": "tok_dd_once_1", "HITOKOTO": "false"}, Outbox(None), clock=lambda: 1700000000.0)
    with mock:
        ticket = engine.submit("t", "c")
        engine.pump()
    engine.close()
    # DingTalk is rate limited: its cost is the planned request count, and the request sent is that plan's.
    assert (ticket.result()["dingtalk"].status, len(made), len(vendor.received)) == ("delivered", 1, 1)


def test_an_edit_is_planned_when_it_goes_and_its_fallback_is_the_post_planned_on_acceptance(monkeypatch):
    made = _counting_plans(monkeypatch)
    source = {"TG_BOT_TOKEN": "123:tok_tg_once", "TG_USER_ID": "77", EDIT_VAR: "true", "HITOKOTO": "false"}
    engine = Engine(source, Outbox(None), clock=lambda: 1700000000.0)
    spec = load_channels()["telegram"]
    engine.outbox.set_ref(lane_key(spec, channel_env(spec, source), engine.outbox.lane_salt), RUN_ID, "41")
    refused = '{"ok":false,"error_code":400,"description":"Bad Request: message to edit not found"}'
    mock, vendor = mock_vendor([{"status": 400, "body": refused},
                                {"status": 200, "body": '{"ok":true,"result":{"message_id":42}}'}])
    with mock:
        ticket = engine.submit("t", "c", kind="update", run_id=RUN_ID)
        engine.pump()
    engine.close()
    assert ticket.result()["telegram"].status == "delivered"
    assert [r.url.rsplit("/", 1)[1] for r in vendor.received] == ["editMessageText", "sendMessage"]
    assert made == [None, 41]  # the post on acceptance, the edit when it went; the post was not planned again
