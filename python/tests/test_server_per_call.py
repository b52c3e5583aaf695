"""What the MCP server does once rather than per call (issue 13): the env read into one snapshot per call and
what it decides kept while it is unchanged, tool schemas compiled once, results built without a model round
trip, a message planned once (when it goes, on a lane without a rate limit), a new row and the rows it
supersedes in one outbox commit. Behaviour, not timing: each test counts the work or compares the output."""

from __future__ import annotations

import os
from collections import ChainMap

import jsonschema
import pytest
from mcp import Client

from mcp_push import selection
from mcp_push.config import EnvSnapshot
from mcp_push.redact import Redactor
from mcp_push.result import ChannelResult, SendResult
from mcp_push.service import engine as engine_module
from mcp_push.service.engine import Engine
from mcp_push.service.envview import EnvView
from mcp_push.service.outbox import Outbox
from mcp_push.service.outcome import outcome
from mcp_push.service.server import PushResult, push_result

from .mcp_helpers import (  # noqa: F401  (anyio_backend, no_server_settings: shared fixtures)
    anyio_backend,
    in_process_server,
    no_server_settings,
    webhook_env,
)

# --- the env, once per call ------------------------------------------------------------------------------


def test_an_unchanged_env_gives_the_same_snapshot_and_a_change_a_new_one():
    env = {"NTFY_URL": "http://127.0.0.1:1/a"}
    view = EnvView(env)
    first = view.current()
    assert isinstance(first, EnvSnapshot) and first == env
    assert view.current() is first
    env["NTFY_URL"] = "http://127.0.0.1:1/b"  # a live mapping: the next call sees it
    second = view.current()
    assert second is not first and second["NTFY_URL"] == "http://127.0.0.1:1/b"


def test_os_environ_changes_are_seen_by_the_next_snapshot(monkeypatch):
    monkeypatch.setenv("MCP_PUSH_TEST_PER_CALL", "one")
    view = EnvView(ChainMap({"HITOKOTO": "false", "MCP_PUSH_TEST_PER_CALL": "shadowed"}, os.environ))
    first = view.current()
    assert first["MCP_PUSH_TEST_PER_CALL"] == "shadowed" and first["HITOKOTO"] == "false"  # first layer wins
    monkeypatch.setenv("PATH_PER_CALL_OTHER", "x")
    assert view.current() is not first and view.current()["PATH_PER_CALL_OTHER"] == "x"
    plain = EnvView(os.environ)
    before = plain.current()
    monkeypatch.setenv("MCP_PUSH_TEST_PER_CALL", "two")
    assert plain.current()["MCP_PUSH_TEST_PER_CALL"] == "two" and before["MCP_PUSH_TEST_PER_CALL"] == "one"


def test_configured_channels_of_a_snapshot_are_worked_out_once(monkeypatch):
    env = {"NTFY_URL": "http://127.0.0.1:1", "NTFY_TOPIC": "alerts", "WEBHOOK_URL": "http://127.0.0.1:1/hook"}
    snapshot = EnvSnapshot(env)
    counted: list[str] = []
    real = selection.channel_env
    monkeypatch.setattr(selection, "channel_env", lambda spec, source: counted.append(spec.name) or real(spec, source))
    names = [spec.name for spec, _ in selection.configured_channels(snapshot)]
    assert sorted(names) == ["ntfy", "webhook"]
    assert names == [spec.name for spec, _ in selection.configured_channels(env)]
    counted.clear()
    assert [spec.name for spec, _ in selection.configured_channels(snapshot)] == names
    assert counted == []
    assert [spec.name for spec, _ in selection.configured_channels(snapshot, ["NTFY"])] == ["ntfy"]
    assert counted == ["ntfy"]  # a selection of its own, worked out once too (names in any case)
    assert [spec.name for spec, _ in selection.configured_channels(snapshot, ["ntfy"])] == ["ntfy"]
    assert counted == ["ntfy"]


@pytest.mark.anyio
async def test_a_channel_configured_between_two_calls_is_used_by_the_second(vendor, monkeypatch):
    async with Client(in_process_server()) as client:
        before = await client.call_tool("notify_send", {"title": "t", "content": "c"})
        for name, value in webhook_env(vendor).items():
            monkeypatch.setenv(name, value)
        after = await client.call_tool("notify_send", {"title": "t", "content": "c", "wait": True})
    assert before.is_error and before.structured_content["skipped"] == "no channel is configured"
    assert after.structured_content["delivered"] == 1


# --- schemas compiled once -------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_no_schema_is_compiled_per_call(vendor, monkeypatch):
    for name, value in webhook_env(vendor).items():
        monkeypatch.setenv(name, value)
    compiled: list[object] = []
    real = jsonschema.Draft202012Validator

    def counting(schema, *args, **kwargs):
        compiled.append(schema)
        return real(schema, *args, **kwargs)

    async with Client(in_process_server()) as client:
        # Each tool's checks compile at their first use (events.schema_checker): one call of each kind first.
        await client.call_tool("notify_event", {"run_id": "warm", "event": "start", "message": "m"})
        await client.call_tool("notify_event", {"run_id": "warm", "event": "end", "message": "m",
                                                "channels": ["webhook"]})
        await client.call_tool("notify_event", {"run_id": "warm", "event": "nope", "message": "m"})
        monkeypatch.setattr(jsonschema, "Draft202012Validator", counting)
        for event in ("start", "update", "end"):
            result = await client.call_tool("notify_event", {"run_id": "r", "event": event, "message": "m",
                                                             "channels": ["webhook"]})
            assert not result.is_error
        refused = await client.call_tool("notify_event", {"run_id": "r", "event": "nope", "message": "m"})
    assert refused.is_error and "event" in refused.structured_content["error"]
    assert compiled == []


# --- results ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("channels, skipped", [
    ([ChannelResult("webhook", False, "queued")], None),
    ([ChannelResult("ntfy", True, "delivered", attempts=1, elapsed_ms=12, http_status=200, parts=2, truncated=True),
      ChannelResult("webhook", False, "rejected", "HTTP 400: token tk_secret_1 bad", attempts=2, elapsed_ms=3,
                    http_status=400)], None),
    ([], "no channel is configured"),
])
def test_push_result_is_the_models_json_without_the_round_trip(channels, skipped):
    shown = outcome(SendResult(channels, skipped=skipped), Redactor(["tk_secret_1"]))
    expected = PushResult.model_validate(shown).model_dump(mode="json")
    built = push_result(shown)
    assert built == expected and list(built) == list(expected)
    assert [list(c) for c in built["channels"]] == [list(c) for c in expected["channels"]]
    assert "tk_secret_1" not in str(built)


# --- planning once ---------------------------------------------------------------------------------------


def _counting_plans(monkeypatch) -> list[str]:
    planned: list[str] = []
    real = engine_module.plan_channel
    monkeypatch.setattr(engine_module, "plan_channel",
                        lambda spec, *args, **kwargs: planned.append(spec.name) or real(spec, *args, **kwargs))
    return planned


def test_an_update_superseded_on_a_lane_without_a_rate_limit_is_never_planned(vendor, monkeypatch):
    planned = _counting_plans(monkeypatch)
    engine = Engine(webhook_env(vendor))
    try:
        tickets = [engine.submit("t", f"update {i}", kind="update", run_id="r") for i in range(3)]
        assert planned == []
        engine.pump()
    finally:
        engine.close()
    assert planned == ["webhook"]
    assert [t.result().channels[0].status for t in tickets] == ["superseded", "superseded", "delivered"]
    assert [body["content"] for body in vendor.json_bodies()] == ["update 2"]


def test_a_rate_limited_lane_plans_at_acceptance_once(vendor, monkeypatch):
    planned = _counting_plans(monkeypatch)
    engine = Engine({"QYWX_KEY": "key_wb_test", "QYWX_ORIGIN": vendor.url, "HITOKOTO": "false"})
    try:
        ticket = engine.submit("t", "c")
        assert planned == ["wecom_bot"] and ticket.entries[0].plan is not None  # its cost: one request
        engine.pump()
    finally:
        engine.close()
    assert planned == ["wecom_bot"] and ticket.result().channels[0].status == "delivered"


# --- the outbox ------------------------------------------------------------------------------------------


def test_a_new_row_and_the_rows_it_supersedes_are_one_commit(tmp_path):
    path = tmp_path / "outbox.sqlite3"
    outbox = Outbox(path)
    old = outbox.add("lane", "webhook", "update", "r", "t", "old", {})
    other = outbox.add("lane", "webhook", "start", "r2", "t", "kept", {})
    statements: list[str] = []
    outbox._db.set_trace_callback(statements.append)
    new = outbox.add("lane", "webhook", "update", "r", "t", "new", {}, finished=[old])
    outbox._db.set_trace_callback(None)
    assert [s.split()[0] for s in statements] == ["BEGIN", "INSERT", "DELETE", "COMMIT"]
    outbox.close()
    rows = Outbox(path).adopt()  # what a next process would find
    assert [(r.row, r.content) for r in rows] == [(other, "kept"), (new, "new")]


def test_the_engine_stores_an_update_and_forgets_the_one_it_replaces_in_one_commit(vendor):
    engine = Engine(webhook_env(vendor))
    try:
        engine.submit("t", "first", kind="update", run_id="r")
        statements: list[str] = []
        engine.outbox._db.set_trace_callback(statements.append)
        engine.submit("t", "second", kind="update", run_id="r")
        engine.outbox._db.set_trace_callback(None)
        assert statements.count("COMMIT") == 1 and engine.outbox.pending() == 1
    finally:
        engine.close()
