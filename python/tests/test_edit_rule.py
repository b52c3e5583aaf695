"""One send path, one edit rule (spec/README.md, "Edit in place"): `send_event` and the MCP server's engine
both go through edits.post_or_edit, so the same vendor replies give the same result and the same requests.
A 4xx refusal of an edit is posted anew once; a 5xx or 429 is retried as the edit and, if it keeps failing,
is the edit's failure; an edit with no answer is never followed by a post. The vendor is a local server."""

from __future__ import annotations

import json

import pytest

from mcp_push.config import channel_env
from mcp_push.deliver import Outcome
from mcp_push.edits import EditRefs, edit_refused
from mcp_push.events import RunLog, event_message, send_event, validate_envelope
from mcp_push.planner import plan_channel
from mcp_push.result import ChannelResult
from mcp_push.service.engine import Engine
from mcp_push.specs import load_channels

from .local_server import Behaviour

POSTED = '{"ok":true,"result":{"message_id":41}}'
REPOSTED = '{"ok":true,"result":{"message_id":42}}'
NOT_FOUND = '{"ok":false,"error_code":400,"description":"Bad Request: message to edit not found"}'
DOWN = '{"ok":false,"error_code":500,"description":"Internal Server Error"}'
SLOW_DOWN = ('{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 2",'
             '"parameters":{"retry_after":2}}')
BLOCKED = '{"ok":false,"error_code":403,"description":"Forbidden: bot was blocked"}'

# The replies to the update (the run's start was posted as message 41), what the update's result must be,
# and the Telegram methods the update sent.
SCENARIOS = {
    "a 5xx that keeps failing is the edit's failure, never reposted": (
        [Behaviour(status=500, body=DOWN)] * 4,
        ("rejected", False, 500, 4), ["editMessageText"] * 4,
    ),
    "a 5xx then success is delivered as the edit": (
        [Behaviour(status=500, body=DOWN), Behaviour(body=POSTED)],
        ("delivered", True, 200, 2), ["editMessageText"] * 2,
    ),
    "a 429 waits and is retried as the edit": (
        [Behaviour(status=429, body=SLOW_DOWN), Behaviour(body=POSTED)],
        ("delivered", True, 200, 2), ["editMessageText"] * 2,
    ),
    "a 4xx refusal is posted anew, once": (
        [Behaviour(status=400, body=NOT_FOUND), Behaviour(body=REPOSTED)],
        ("delivered", True, 200, 2), ["editMessageText", "sendMessage"],
    ),
    "a 4xx refusal whose post fails too is the post's failure": (
        [Behaviour(status=400, body=NOT_FOUND), Behaviour(status=403, body=BLOCKED)],
        ("rejected", False, 403, 2), ["editMessageText", "sendMessage"],
    ),
}


def telegram_env(vendor) -> dict[str, str]:
    return {"TG_BOT_TOKEN": "123:abc", "TG_USER_ID": "77", "TG_API_HOST": vendor.url, "HITOKOTO": "false",
            "MCP_PUSH_EDIT_PROGRESS": "true"}


def envelope(kind: str, second: int) -> dict:
    return {"run_id": "r", "event": kind, "message": f"{kind} {second}", "timestamp": f"2026-01-01T00:00:0{second}Z"}


def via_send_event(env):
    runs, edits = RunLog(), EditRefs()
    return [send_event(envelope(kind, i), env=env, runs=runs, edits=edits).channels[0]
            for i, kind in enumerate(("start", "update"))]


def via_engine(env):
    runs, clock = RunLog(), [1_800_000_000.0]
    engine = Engine(env, clock=lambda: clock[0])
    results = []
    for i, kind in enumerate(("start", "update")):
        # As the MCP server submits an event: its text, and its card in the params.
        title, content, params = event_message(validate_envelope(envelope(kind, i)), env, runs)
        ticket = engine.submit(title, content, kind=kind, run_id="r", params=params)
        clock[0] += 5
        engine.pump()
        results.append(ticket.result().channels[0])
    return results


def shape(result) -> tuple:
    return (result.channel, result.ok, result.status, result.http_status, result.attempts, result.parts,
            result.truncated, result.error)


def wire(vendor) -> list[tuple[str, dict]]:
    return [(r.path.rsplit("/", 1)[1], json.loads(r.body)) for r in vendor.received]


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_send_event_and_the_engine_follow_the_same_edit_rule(vendor, scenario):
    replies, (status, ok, http_status, attempts), methods = SCENARIOS[scenario]
    seen = {}
    for name, path in (("send_event", via_send_event), ("engine", via_engine)):
        vendor.received.clear()
        vendor.script = [Behaviour(body=POSTED), *replies]
        start, update = path(telegram_env(vendor))
        assert start.ok, name
        assert (update.status, update.ok, update.http_status, update.attempts) == (status, ok, http_status, attempts)
        assert [method for method, _ in wire(vendor)[1:]] == methods, name
        seen[name] = (shape(start), shape(update), wire(vendor))
    assert seen["send_event"] == seen["engine"]


def test_after_a_refused_edit_the_new_post_is_what_the_next_update_edits_on_both_paths(vendor):
    for path in (via_send_event, via_engine):
        vendor.received.clear()
        vendor.script = [Behaviour(body=POSTED), Behaviour(status=400, body=NOT_FOUND), Behaviour(body=REPOSTED)]
        env = telegram_env(vendor)
        if path is via_send_event:
            runs, edits = RunLog(), EditRefs()
            for i, kind in enumerate(("start", "update", "update")):
                send_event(envelope(kind, i), env=env, runs=runs, edits=edits)
        else:
            runs, clock = RunLog(), [1_800_000_000.0]
            engine = Engine(env, clock=lambda clock=clock: clock[0])
            for i, kind in enumerate(("start", "update", "update")):
                title, content, params = event_message(validate_envelope(envelope(kind, i)), env, runs)
                engine.submit(title, content, kind=kind, run_id="r", params=params)
                clock[0] += 5
                engine.pump()
        sent = wire(vendor)
        assert [method for method, _ in sent] == ["sendMessage", "editMessageText", "sendMessage", "editMessageText"]
        assert [body["message_id"] for method, body in sent if method == "editMessageText"] == [41, 42]


def test_an_edit_with_no_answer_is_never_followed_by_a_post_on_either_path(vendor):
    # The edit may have landed: posting as well could show the message twice.
    for path in (via_send_event, via_engine):
        vendor.received.clear()
        vendor.script = [Behaviour(body=POSTED), Behaviour(body=POSTED, delay_s=1.5)]
        start, update = path({**telegram_env(vendor), "MCP_PUSH_TIMEOUT": "0.3"})
        assert start.ok and not update.ok
        assert update.status in ("timeout", "network_error") and update.attempts == 1
        assert [r.path.rsplit("/", 1)[1] for r in vendor.received] == ["sendMessage", "editMessageText"]


def test_which_answers_are_refusals_that_a_new_post_may_get_past():
    spec = load_channels()["telegram"]
    env = channel_env(spec, {"TG_BOT_TOKEN": "123:abc", "TG_USER_ID": "77"})
    edit = plan_channel(spec, env, "t", "c", {}, 0.0, "split", 42)
    post = plan_channel(spec, env, "t", "c", {}, 0.0, "split", None)

    def rejected(status, plan=edit):
        return Outcome(plan, ChannelResult("telegram", False, "rejected", "no", 1, 0, status))

    assert [edit_refused(rejected(s)) for s in (400, 403, 404, 200)] == [True] * 4
    assert [edit_refused(rejected(s)) for s in (302, 429, 500, 502, 503)] == [False] * 5
    assert not edit_refused(Outcome(edit, ChannelResult("telegram", False, "timeout", "no answer", 1)))
    assert not edit_refused(rejected(400, post))  # a post is never posted again
