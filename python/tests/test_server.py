"""server.py, the MCP server, through real MCP clients: the SDK's in-process client, a stdio subprocess (SDK client
and raw JSON-RPC), and streamable HTTP with and without a bearer token. Channels point at a local
HTTP server; what it received is asserted."""

from __future__ import annotations

import json
import queue
import re
import subprocess
import sys
import threading
import time

import anyio
import httpx2
import pytest
from mcp import Client, MCPError, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

import mcp_push
from mcp_push.service.server import ServerConfigError, create_server, tool_names, tool_slug
from mcp_push.specs import load_channels

from .local_server import Behaviour
from .mcp_helpers import (  # noqa: F401  (shared fixtures)
    REPO,
    anyio_backend,
    child_env,
    http_server,
    in_process_server,
    no_server_settings,
    ntfy_env,
    webhook_env,
)

STRICT_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # Claude Desktop, Cursor, OpenAI, Copilot CLI
SECRET_URL_KEY = "hk_7f3a9c2e5b1d8f4a"
SECRET_NTFY_TOKEN = "tk_q8w7e6r5t4y3u2i1"


def configure(monkeypatch, values):
    for name, value in values.items():
        monkeypatch.setenv(name, value)


def text_of(result) -> str:
    return "\n".join(block.text for block in result.content if block.type == "text")


# --- tools/list -----------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_tools_list_advertises_underscore_names_with_schemas_annotations_and_titles():
    async with Client(in_process_server()) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        assert client.server_info.version == mcp_push.__version__
        assert "notify_event" in client.instructions and "run_id" in client.instructions
    assert set(tools) == {"notify_send", "notify_event", "notify_ask", "notify_answer", "notify_status"}
    tools.pop("notify_status")  # read-only, its own result (test_status_tool.py)
    for tool in tools.values():
        assert STRICT_NAME.match(tool.name)
        assert tool.title and tool.description
        hints = tool.annotations
        assert (hints.read_only_hint, hints.destructive_hint, hints.idempotent_hint, hints.open_world_hint) == (
            False, False, False, True)
    for tool in (tools["notify_send"], tools["notify_event"]):
        out = tool.output_schema
        assert {"ok", "delivered", "total", "skipped", "summary", "channels"} <= set(out["properties"])
        assert "channels" in tool.input_schema["properties"]
    assert {"answer", "by", "channel", "at", "timed_out"} <= set(tools["notify_ask"].output_schema["properties"])
    assert set(tools["notify_send"].input_schema["properties"]) == {"title", "content", "channels", "wait", "tags",
                                                                    "format"}
    event = tools["notify_event"].input_schema
    assert set(event["properties"]) == {"run_id", "event", "message", "data", "timestamp", "channels", "wait",
                                        "tags"}
    assert set(event["required"]) == {"run_id", "event", "message"}
    assert event["properties"]["event"]["enum"] == ["start", "update", "end", "error"]
    # Optional arguments carry a plain `type`, so simple clients can turn CLI text into JSON values.
    assert event["properties"]["data"]["type"] == "object"
    assert event["properties"]["data"]["properties"]["progress"] == {"type": "number", "minimum": 0, "maximum": 1}
    assert event["properties"]["channels"]["type"] == "array"


@pytest.mark.anyio
async def test_dotted_names_are_advertised_instead_when_asked(monkeypatch):
    monkeypatch.setenv("MCP_PUSH_TOOL_NAMES", "dotted")
    async with Client(in_process_server()) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
    assert names == {"notify.send", "notify.event", "notify.ask", "notify.answer", "notify.status"}


@pytest.mark.parametrize("value", ["both", "\u00a0dotted"])  # white space is ASCII only (canonical rule 10)
def test_an_unknown_tool_name_style_is_a_configuration_error(monkeypatch, value):
    monkeypatch.setenv("MCP_PUSH_TOOL_NAMES", value)
    with pytest.raises(ServerConfigError, match="^MCP_PUSH_TOOL_NAMES: must be one of underscore, dotted$"):
        in_process_server()


@pytest.mark.anyio
@pytest.mark.parametrize("style", ["underscore", "dotted"])
async def test_per_channel_tools_for_configured_channels_only(vendor, monkeypatch, style):
    configure(monkeypatch, {**webhook_env(vendor), **ntfy_env(vendor), "MCP_PUSH_CHANNEL_TOOLS": "true",
                            "MCP_PUSH_TOOL_NAMES": style})
    async with Client(in_process_server()) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        # Both spellings reach the webhook's tool, whichever is advertised; only that channel is used.
        first = await client.call_tool("notify_channel_webhook", {
            "wait": True, "title": "only", "content": "the webhook"})
        second = await client.call_tool("notify.channel.webhook", {"wait": True, "title": "again", "content": "dotted"})
    sep = "." if style == "dotted" else "_"
    channel_tools = {name for name in tools if name.startswith(f"notify{sep}channel")}
    assert channel_tools == {f"notify{sep}channel{sep}ntfy", f"notify{sep}channel{sep}webhook"}
    assert set(tools[f"notify{sep}channel{sep}ntfy"].input_schema["properties"]) == {"title", "content", "wait"}
    for result in (first, second):
        assert not result.is_error
        assert [c["channel"] for c in result.structured_content["channels"]] == ["webhook"]
    assert vendor.json_bodies() == [{"title": "only", "content": "the webhook"},
                                    {"title": "again", "content": "dotted"}]


def test_every_channel_tool_name_fits_strict_clients():
    for channel in load_channels():
        underscore, dotted = tool_names("channel", channel)
        assert STRICT_NAME.match(underscore), underscore
        assert re.match(r"^[A-Za-z0-9_.-]{1,64}$", dotted), dotted
    assert tool_slug("my.chan nel/ü") == "my_chan_nel__"
    assert len(tool_names("channel", "x" * 100)[0]) == 64


@pytest.mark.anyio
async def test_channel_tools_are_off_by_default(vendor, monkeypatch):
    configure(monkeypatch, webhook_env(vendor))
    async with Client(in_process_server()) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        with pytest.raises(MCPError):
            await client.call_tool("notify_channel_webhook", {"wait": True, "title": "t", "content": "c"})
    assert names == {"notify_send", "notify_event", "notify_ask", "notify_answer", "notify_status"}
    assert vendor.received == []


# --- tools/call: delivered ------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_notify_event_is_rendered_and_delivered(vendor, monkeypatch):
    configure(monkeypatch, webhook_env(vendor))
    async with Client(in_process_server()) as client:
        result = await client.call_tool("notify_event", {
            "wait": True, "run_id": "nightly-42", "event": "update", "message": "halfway through the tests",
            "data": {"step": "tests", "progress": 0.5},
        })
    assert not result.is_error, text_of(result)
    [body] = vendor.json_bodies()
    assert "nightly-42" in body["title"] and "50%" in body["title"]
    assert "halfway through the tests" in body["content"]
    assert "tests" in body["content"] and "50%" in body["content"]
    structured = result.structured_content
    assert structured["ok"] is True and structured["delivered"] == structured["total"] == 1
    [channel] = structured["channels"]
    assert channel | {"elapsed_ms": 0} == {"channel": "webhook", "ok": True, "status": "delivered", "error": None,
                                          "elapsed_ms": 0, "http_status": 200, "attempts": 1,
                                          "parts": 1, "truncated": False}
    assert text_of(result) == "1 of 1 channel delivered: webhook"


@pytest.mark.anyio
@pytest.mark.parametrize("tool", ["notify_event", "notify.event"])
async def test_notify_event_keeps_extra_data_fields_and_shows_them(vendor, monkeypatch, tool):
    """Issue 11 item 12: a data field the template has no line for is accepted and rendered (it was
    refused as "not a known field"); a host's null for a known field still stands for "omitted"."""
    configure(monkeypatch, webhook_env(vendor))
    async with Client(in_process_server()) as client:
        result = await client.call_tool(tool, {
            "wait": True, "run_id": "r", "event": "update", "message": "m",
            "data": {"shard": 3, "step": None, "host": "ci-7", "retried": None},
        })
    assert not result.is_error, text_of(result)
    [body] = vendor.json_bodies()
    assert body["content"] == "m\nshard: 3\nhost: ci-7\nretried: null"
    assert result.structured_content["delivered"] == 1


@pytest.mark.anyio
async def test_notify_event_end_says_how_long_the_run_took(vendor, monkeypatch):
    configure(monkeypatch, webhook_env(vendor))
    async with Client(in_process_server()) as client:
        for event, stamp in (("start", "2026-05-01T12:00:00Z"), ("end", "2026-05-01T12:03:05Z")):
            result = await client.call_tool("notify_event", {
                "wait": True, "run_id": "deploy-7", "event": event, "message": f"deploy {event}", "timestamp": stamp,
                "data": {"artifact_url": "https://ci.example.com/runs/7"} if event == "end" else None,
            })
            assert not result.is_error, text_of(result)
    start, end = vendor.json_bodies()
    assert "deploy-7" in start["title"] and "deploy start" in start["content"]
    assert "https://ci.example.com/runs/7" in end["content"]
    assert "3m 5s" in end["content"]


@pytest.mark.anyio
async def test_a_call_returns_once_accepted_and_the_message_is_still_delivered(vendor, monkeypatch):
    configure(monkeypatch, webhook_env(vendor))
    held = threading.Event()  # the vendor answers only after the call has returned
    vendor.routes["/hook"] = Behaviour(gate=held, body="ok")
    async with Client(in_process_server()) as client:
        try:
            result = await client.call_tool("notify_event", {"run_id": "r", "event": "start", "message": "go"})
        finally:
            held.set()
        structured = result.structured_content
        assert not result.is_error and structured["ok"] is True
        assert (structured["queued"], structured["delivered"]) == (1, 0)
        # Accepted reads as accepted: ok per channel, and a summary that does not say "0 delivered".
        assert (structured["channels"][0]["status"], structured["channels"][0]["ok"]) == ("queued", True)
        assert text_of(result) == structured["summary"] == "accepted by 1 channel, delivering: webhook queued"
        deadline = time.monotonic() + 5
        while not vendor.received and time.monotonic() < deadline:
            await anyio.sleep(0.05)
    assert len(vendor.received) == 1


@pytest.mark.anyio
async def test_dotted_notify_send_is_delivered_to_every_configured_channel(vendor, monkeypatch):
    configure(monkeypatch, {**webhook_env(vendor), **ntfy_env(vendor, "ops")})
    async with Client(in_process_server()) as client:
        result = await client.call_tool("notify.send", {
            "wait": True, "title": "Backup", "content": "finished in 3 min"})
    assert not result.is_error, text_of(result)
    assert result.structured_content["delivered"] == 2
    assert text_of(result) == "2 of 2 channels delivered: ntfy; webhook"
    by_path = {r.path: r for r in vendor.received}
    assert json.loads(by_path["/hook"].body) == {"title": "Backup", "content": "finished in 3 min"}
    assert by_path["/ops"].body == b"finished in 3 min"


@pytest.mark.anyio
async def test_channels_argument_picks_among_configured_channels(vendor, monkeypatch):
    configure(monkeypatch, {**webhook_env(vendor), **ntfy_env(vendor, "ops")})
    async with Client(in_process_server()) as client:
        result = await client.call_tool("notify_send", {
            "wait": True, "title": "t", "content": "c", "channels": ["ntfy"]})
    assert [c["channel"] for c in result.structured_content["channels"]] == ["ntfy"]
    assert [r.path for r in vendor.received] == ["/ops"]


@pytest.mark.anyio
async def test_some_channels_failing_is_reported_per_channel_but_not_an_error(vendor, monkeypatch):
    configure(monkeypatch, {**webhook_env(vendor), **ntfy_env(vendor, "ops")})
    vendor.routes["/hook"] = Behaviour(status=503, body='{"message":"maintenance"}')
    async with Client(in_process_server()) as client:
        result = await client.call_tool("notify_send", {"wait": True, "title": "t", "content": "c"})
    assert not result.is_error
    assert text_of(result).startswith("1 of 2 channels delivered: ntfy; webhook rejected (")
    webhook = result.structured_content["channels"][1]
    assert (webhook["status"], webhook["http_status"], webhook["ok"]) == ("rejected", 503, False)
    assert "maintenance" in webhook["error"]


# --- tools/call: errors -----------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_no_channel_delivered_is_an_error_result_with_the_details(vendor, monkeypatch):
    configure(monkeypatch, webhook_env(vendor))
    vendor.routes["/hook"] = Behaviour(status=500, body="boom")
    async with Client(in_process_server()) as client:
        result = await client.call_tool("notify_send", {"wait": True, "title": "t", "content": "c"})
    assert result.is_error
    assert result.structured_content["ok"] is False
    assert result.structured_content["channels"][0]["status"] == "rejected"
    assert text_of(result).startswith("0 of 1 channel delivered: webhook rejected")


@pytest.mark.anyio
async def test_no_channel_configured_is_an_error_result():
    async with Client(in_process_server()) as client:
        result = await client.call_tool("notify_send", {"wait": True, "title": "t", "content": "c"})
    assert result.is_error
    assert result.structured_content["skipped"] == "no channel is configured"
    assert text_of(result) == "Nothing sent: no channel is configured."


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"data": {"progress": 1.5}}, "data.progress: must be at most 1"),
        ({"data": {"progress": "half"}}, "data.progress: must be a number"),
        ({"event": "finished"}, "event: must be one of start, update, end, error"),
        ({"run_id": ""}, "run_id: must not be empty"),
        ({"data": {"artifact_url": "ftp://files/x"}}, "data.artifact_url: must be an http(s) URL"),
        ({"timestamp": "yesterday"}, "timestamp: must be an RFC 3339 date-time"),
        ({"data": "progress=0.5"}, "data: must be an object"),
    ],
)
async def test_an_invalid_envelope_is_an_error_naming_the_field_and_rule(vendor, monkeypatch, arguments, expected):
    configure(monkeypatch, webhook_env(vendor))
    envelope = {"run_id": "r1", "event": "update", "message": "m", **arguments}
    async with Client(in_process_server()) as client:
        result = await client.call_tool("notify_event", envelope)
        dotted = await client.call_tool("notify.event", envelope)
    for answer in (result, dotted):
        assert answer.is_error
        assert text_of(answer) == f"Error executing tool notify_event: invalid event: {expected}"
    assert vendor.received == []


@pytest.mark.anyio
async def test_a_missing_required_field_is_an_error_result(vendor, monkeypatch):
    configure(monkeypatch, webhook_env(vendor))
    async with Client(in_process_server()) as client:
        result = await client.call_tool("notify_event", {"wait": True, "run_id": "r1", "event": "start"})
    assert result.is_error and "message: is required" in text_of(result)
    assert vendor.received == []


@pytest.mark.anyio
async def test_nulls_stand_for_omitted_optional_arguments(vendor, monkeypatch):
    configure(monkeypatch, webhook_env(vendor))
    async with Client(in_process_server()) as client:
        result = await client.call_tool("notify_event", {
            "run_id": "r1", "event": "start", "message": "go", "data": {"step": None}, "timestamp": None,
            "channels": None,
        })
    assert not result.is_error, text_of(result)


@pytest.mark.anyio
@pytest.mark.parametrize(("channels", "error"), [
    (["dingtalk"], "channels: channel 'dingtalk' is not configured; configured: ntfy, webhook"),
    (["webhook", "nosuch"], "channels: unknown channel 'nosuch'; configured: ntfy, webhook"),
])
async def test_channels_naming_an_unconfigured_channel_is_an_error_listing_the_configured_ones(
    vendor, monkeypatch, channels, error
):
    configure(monkeypatch, {**webhook_env(vendor), **ntfy_env(vendor)})
    async with Client(in_process_server()) as client:
        send = await client.call_tool("notify_send", {"wait": True, "title": "t", "content": "c", "channels": channels})
        event = await client.call_tool("notify_event", {"wait": True, "run_id": "r", "event": "start", "message": "m",
                                                        "channels": channels})
    for result in (send, event):
        assert result.is_error
        text = text_of(result)
        assert error in text
    assert vendor.received == []


@pytest.mark.anyio
async def test_channel_names_are_matched_ignoring_case_as_in_the_library(vendor, monkeypatch):
    configure(monkeypatch, {**webhook_env(vendor), **ntfy_env(vendor)})
    async with Client(in_process_server()) as client:
        result = await client.call_tool("notify_send", {"wait": True, "title": "t", "content": "c",
                                                        "channels": ["WebHook"]})
    assert not result.is_error, text_of(result)
    assert [c["channel"] for c in result.structured_content["channels"]] == ["webhook"]
    assert len(vendor.received) == 1


@pytest.mark.anyio
async def test_an_empty_channels_list_is_an_error(vendor, monkeypatch):
    configure(monkeypatch, webhook_env(vendor))
    async with Client(in_process_server()) as client:
        result = await client.call_tool("notify_send", {"wait": True, "title": "t", "content": "c", "channels": []})
    assert result.is_error and "channels: must name at least one channel" in text_of(result)
    assert vendor.received == []


@pytest.mark.anyio
@pytest.mark.parametrize("extra", [{"DD_BOT_TOKEN": "x"}, {"env": {"WEBHOOK_URL": "http://127.0.0.1:9/"}},
                                   {"WEBHOOK_URL": "http://127.0.0.1:9/steal"}])
async def test_credentials_and_config_are_not_accepted_as_arguments(vendor, monkeypatch, extra):
    configure(monkeypatch, webhook_env(vendor))
    async with Client(in_process_server()) as client:
        send = await client.call_tool("notify_send", {"wait": True, "title": "t", "content": "c", **extra})
        event = await client.call_tool("notify.event", {
            "wait": True, "run_id": "r", "event": "start", "message": "m", **extra})
    for result in (send, event):
        assert result.is_error
        assert f"{next(iter(extra))}: not an argument of this tool" in text_of(result)
    assert vendor.received == []


@pytest.mark.anyio
@pytest.mark.parametrize("name", ["notify_nothing", "notify.channel.dingtalk", "notify_channel_webhook", ""])
async def test_an_unknown_tool_is_a_protocol_error(vendor, monkeypatch, name):
    configure(monkeypatch, webhook_env(vendor))
    async with Client(in_process_server()) as client:
        with pytest.raises(MCPError) as raised:
            await client.call_tool(name, {"title": "t", "content": "c"})
    assert raised.value.error.code == -32602
    assert f"Unknown tool: {name}" in raised.value.error.message
    assert vendor.received == []


@pytest.mark.anyio
async def test_secrets_never_appear_in_results_listings_or_instructions(vendor, monkeypatch):
    # The vendor echoes the request (URL with its key, headers with the token) in its error.
    webhook = webhook_env(vendor, f"/hook/{SECRET_URL_KEY}")
    configure(monkeypatch, {**webhook, **ntfy_env(vendor), "NTFY_TOKEN": SECRET_NTFY_TOKEN,
                            "MCP_PUSH_CHANNEL_TOOLS": "true"})
    vendor.routes["/"] = Behaviour(status=401, body=json.dumps({
        "message": f"bad key {SECRET_URL_KEY} for {vendor.url}/hook/{SECRET_URL_KEY}",
        "error": f"token Bearer {SECRET_NTFY_TOKEN} rejected",
    }))
    async with Client(in_process_server()) as client:
        seen = [client.instructions, (await client.list_tools()).model_dump_json()]
        for name, arguments in [
            ("notify_send", {"title": "t", "content": "c", "wait": True}),
            ("notify_event", {"run_id": "r", "event": "error", "message": "m", "data": {"error_code": "E1"},
                              "wait": True}),
            ("notify_channel_ntfy", {"title": "t", "content": "c", "wait": True}),
            ("notify_send", {"title": "t", "content": "c", "channels": ["dingtalk"]}),
        ]:
            result = await client.call_tool(name, arguments)
            assert result.is_error
            seen.append(result.model_dump_json())
    assert len(vendor.received) == 5  # the vendor did see them: the requests carried the secrets
    errors = "\n".join(seen)
    assert "bad key ***" in errors and "rejected" in errors
    for secret in (SECRET_URL_KEY, SECRET_NTFY_TOKEN):
        assert secret not in errors


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("tool", "arguments", "expected"),
    [
        ("notify_send", {"title": 5, "content": "c"}, "title: must be a string"),
        ("notify_send", {"title": "t", "content": ["c"]}, "content: must be a string"),
        ("notify_send", {"title": "t", "content": "c", "wait": "yes"}, "wait: must be a boolean"),
        ("notify_send", {"title": "t", "content": "c", "channels": "ntfy"}, "channels: must be an array"),
        ("notify_send", {"title": "t", "content": "c", "channels": [7]}, "channels.0: must be a string"),
        ("notify_send", {"content": "c"}, "title: is required"),
        ("notify_event", {"run_id": 5, "event": "start", "message": "m"}, "invalid event: run_id: must be a string"),
        ("notify_event", {"run_id": "r", "event": "start", "message": "m", "wait": 1}, "wait: must be a boolean"),
    ],
)
async def test_arguments_of_the_wrong_type_are_refused_naming_the_field_and_rule(
    vendor, monkeypatch, tool, arguments, expected
):
    configure(monkeypatch, webhook_env(vendor))
    async with Client(in_process_server()) as client:
        result = await client.call_tool(tool, arguments)
    name = tool.replace(".", "_")
    assert result.is_error
    assert text_of(result) == f"Error executing tool {name}: {expected}"
    assert "pydantic" not in text_of(result) and "http" not in text_of(result)
    structured = result.structured_content
    assert (structured["ok"], structured["error"], structured["channels"]) == (False, expected, [])
    assert vendor.received == []


@pytest.mark.anyio
async def test_every_refusal_carries_structured_content(vendor, monkeypatch):
    configure(monkeypatch, webhook_env(vendor))
    async with Client(in_process_server()) as client:
        refused = [
            await client.call_tool("notify_send", {"title": "t", "content": "c", "channels": ["nope"]}),
            await client.call_tool("notify_send", {"title": "t", "content": "c", "channels": []}),
            await client.call_tool("notify_send", {"title": "t", "content": "c", "TOKEN": "x"}),
            await client.call_tool("notify_event", {"run_id": "r", "event": "begin", "message": "m"}),
        ]
    for result in refused:
        assert result.is_error
        assert result.structured_content["error"] in text_of(result)
        assert result.structured_content["channels"] == []


def test_a_channel_whose_tries_failed_so_far_reads_retrying_with_the_error(vendor, monkeypatch):
    from mcp_push import retry
    from mcp_push.config import agent_defaults
    from mcp_push.service.engine import Engine
    from mcp_push.service.outcome import SecretRedactor, outcome

    configure(monkeypatch, webhook_env(vendor))
    vendor.routes["/hook"] = Behaviour(status=503, body='{"message":"overloaded"}')
    hold = threading.Event()  # the wait before the next try lasts until the test has looked
    monkeypatch.setattr(retry, "PACE", retry.Pace(lambda _s: hold.wait(30), time.monotonic, lambda: 0.0))
    source = agent_defaults(dict(__import__("os").environ))
    engine = Engine(source).start()
    try:
        ticket = engine.submit("t", "c")
        deadline = time.monotonic() + 20
        while ticket.result()[0].status != "retrying" and time.monotonic() < deadline:
            time.sleep(0.02)
        report = outcome(ticket.result(), SecretRedactor(source))
    finally:
        hold.set()
        engine.close()
    [channel] = report["channels"]
    assert (channel["status"], channel["ok"]) == ("retrying", False)
    assert "HTTP 503" in channel["error"] and "overloaded" in channel["error"]
    assert report["ok"] is True  # the server still has it: accepted, not failed
    assert report["summary"] == f"accepted by 1 channel, delivering: webhook retrying ({channel['error']})"


@pytest.mark.anyio
async def test_waiting_calls_hold_no_worker_thread(vendor, monkeypatch):
    """60 wait=true calls against a vendor that stalls, then a wait=false call: it is answered while
    all 60 still wait (before, the waits filled the SDK's 40 worker threads and it queued behind them)."""
    from mcp_push.config import agent_defaults
    from mcp_push.service.engine import Engine

    gate = threading.Event()
    configure(monkeypatch, {**webhook_env(vendor), **ntfy_env(vendor, "other"), "MCP_PUSH_TIMEOUT": "60"})
    vendor.routes["/hook"] = Behaviour(gate=gate)
    engine = Engine(agent_defaults(dict(__import__("os").environ))).start()  # its owner starts it
    waited: list = []
    try:
        async with Client(create_server(engine=engine)) as client, anyio.create_task_group() as group:
            async def wait_true(index: int) -> None:
                waited.append(await client.call_tool("notify_send", {
                    "title": f"t{index}", "content": "c", "channels": ["webhook"], "wait": True}))

            for index in range(60):
                group.start_soon(wait_true, index)
            # Every one of them is in: one on the wire (stalled), 59 waiting in the webhook's lane.
            for _ in range(400):
                lanes = [lane for lane in engine.lanes.values() if lane.spec.name == "webhook"]
                if lanes and len(lanes[0].queue) + lanes[0].busy == 60:
                    break
                await anyio.sleep(0.05)
            else:
                raise AssertionError("the 60 waiting calls never all reached the engine")
            quick = None
            with anyio.move_on_after(30):  # a bound, not a measure: before the fix it never came
                quick = await client.call_tool("notify_send", {"title": "q", "content": "c", "channels": ["ntfy"]})
            still_waiting = 60 - len(waited)
            gate.set()
    finally:
        gate.set()
        engine.close()
    assert quick is not None and not quick.is_error
    assert still_waiting == 60
    assert len(waited) == 60 and all(r.structured_content["delivered"] == 1 for r in waited)


# --- real transports ------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_stdio_subprocess_with_the_sdk_client(vendor):
    params = StdioServerParameters(command=sys.executable, args=["-m", "mcp_push"], cwd=str(REPO),
                                   env=child_env(webhook_env(vendor)))
    async with Client(params) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        sent = await client.call_tool("notify.send", {"wait": True, "title": "over stdio", "content": "hello"})
        event = await client.call_tool("notify_event", {
            "wait": True, "run_id": "r9", "event": "error", "message": "DB timeout",
                                                        "data": {"error_code": "E_DB"}})
        invalid = await client.call_tool("notify_event", {
            "wait": True, "run_id": "r9", "event": "update", "message": "m",
                                                          "data": {"progress": -0.1}})
        with pytest.raises(MCPError) as unknown:
            await client.call_tool("notify.nothing", {})
    assert names == {"notify_send", "notify_event", "notify_ask", "notify_answer", "notify_status"}
    assert not sent.is_error and not event.is_error
    assert invalid.is_error and "data.progress: must be at least 0" in text_of(invalid)
    assert unknown.value.error.code == -32602
    first, second = vendor.json_bodies()
    assert first == {"title": "over stdio", "content": "hello"}
    assert "r9" in second["title"] and "DB timeout" in second["content"] and "E_DB" in second["content"]


def _rpc(process, lines: queue.Queue, message: dict, timeout: float = 20.0) -> dict | None:
    process.stdin.write((json.dumps(message) + "\n").encode())
    process.stdin.flush()
    if "id" not in message:
        return None
    while True:
        reply = json.loads(lines.get(timeout=timeout))
        if reply.get("id") == message["id"]:
            return reply


def test_stdio_server_writes_nothing_but_json_rpc_to_stdout(vendor):
    """Raw JSON-RPC over the pipes, with the console channel on (it writes to stderr) and a tool
    failing: every stdout line, to the end, must be a JSON-RPC message. One try per request: the failing
    tool's result, not the retry backoff (about 5 s of real waits; test_retry pins it), is what matters here."""
    env = child_env({**webhook_env(vendor), "CONSOLE": "true", "MCP_PUSH_RETRY_ATTEMPTS": "1"})
    process = subprocess.Popen([sys.executable, "-m", "mcp_push"], env=env, cwd=REPO, stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    raw: list[bytes] = []
    lines: queue.Queue = queue.Queue()

    def read() -> None:
        for line in process.stdout:
            raw.append(line)
            lines.put(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        init = _rpc(process, lines, {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}})
        assert init["result"]["serverInfo"]["name"] == "mcp-push"
        _rpc(process, lines, {"jsonrpc": "2.0", "method": "notifications/initialized"})
        listed = _rpc(process, lines, {"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
        assert {t["name"] for t in listed["result"]["tools"]} == {"notify_send", "notify_event", "notify_ask",
                                                                  "notify_answer", "notify_status"}
        sent = _rpc(process, lines, {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {
            "name": "notify.send", "arguments": {"wait": True, "title": "raw", "content": "to console and webhook"}}})
        assert sent["result"]["isError"] is False
        assert sent["result"]["structuredContent"]["delivered"] == 2
        vendor.routes["/hook"] = Behaviour(status=500, body="down")
        event = _rpc(process, lines, {"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {
            "name": "notify_event", "arguments": {"wait": True, "run_id": "x", "event": "end", "message": "done"}}})
        assert event["result"]["structuredContent"]["channels"][1]["status"] == "rejected"
        unknown = _rpc(process, lines, {"jsonrpc": "2.0", "id": 5, "method": "tools/call",
                                        "params": {"name": "nope", "arguments": {}}})
        assert unknown["error"]["code"] == -32602
    finally:
        process.stdin.close()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        reader.join(5)
        stderr = process.stderr.read().decode()
    assert raw, stderr
    for line in raw:
        message = json.loads(line)
        assert message["jsonrpc"] == "2.0" and ("id" in message or "method" in message), line
    assert "to console and webhook" in stderr  # the console channel's output went to stderr


@pytest.mark.anyio
async def test_streamable_http_serves_the_sdk_client(vendor):
    with http_server(webhook_env(vendor)) as url:
        async with Client(url) as client:
            names = {tool.name for tool in (await client.list_tools()).tools}
            result = await client.call_tool("notify.send", {"wait": True, "title": "over http", "content": "hi"})
            invalid = await client.call_tool("notify_event", {
                "wait": True, "run_id": "r", "event": "begin", "message": "m"})
            with pytest.raises(MCPError) as unknown:
                await client.call_tool("notify_unknown", {})
    assert names == {"notify_send", "notify_event", "notify_ask", "notify_answer", "notify_status"}
    assert not result.is_error and result.structured_content["delivered"] == 1
    assert invalid.is_error and "event: must be one of" in text_of(invalid)
    assert unknown.value.error.code == -32602
    assert vendor.json_bodies() == [{"title": "over http", "content": "hi"}]


@pytest.mark.anyio
async def test_streamable_http_with_a_token_requires_the_bearer_header(vendor):
    token = "mcp-http-token-5d1e"
    initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
    headers = {"Accept": "application/json, text/event-stream"}
    with http_server({**webhook_env(vendor), "MCP_PUSH_HTTP_TOKEN": token}) as url:
        async with httpx2.AsyncClient() as raw:
            for auth in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": token},
                         {"Authorization": f"Basic {token}"}):
                denied = await raw.post(url, json=initialize, headers={**headers, **auth})
                assert denied.status_code == 401, auth
                assert token not in denied.text
            allowed = await raw.post(url, json=initialize, headers={**headers, "Authorization": f"Bearer {token}"})
            assert allowed.status_code == 200
        async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as http:
            async with Client(streamable_http_client(url, http_client=http)) as client:
                result = await client.call_tool("notify_send", {"wait": True, "title": "with token", "content": "ok"})
        assert not result.is_error, text_of(result)
        with pytest.raises(Exception):  # noqa: B017 - the SDK's exception for a 401 is not part of this test
            async with Client(url) as client:
                await client.list_tools()
    assert vendor.json_bodies() == [{"title": "with token", "content": "ok"}]


@pytest.mark.anyio
async def test_the_server_appends_no_hitokoto_quote_unless_asked(vendor, monkeypatch):
    # QingLong's drop-ins keep HITOKOTO on by default; an agent's messages should not get a random quote.
    from mcp_push.specs import load_settings

    from .local_server import Behaviour

    vendor.routes["/hitokoto"] = Behaviour(body='{"hitokoto":"quote","from":"book"}')
    monkeypatch.setitem(load_settings()["hitokoto"], "url", f"{vendor.url}/hitokoto")
    configure(monkeypatch, webhook_env(vendor))
    monkeypatch.delenv("HITOKOTO", raising=False)
    async with Client(in_process_server()) as client:
        assert not (await client.call_tool("notify_send", {"wait": True, "title": "t", "content": "c"})).is_error
    assert [r.path for r in vendor.received if r.path.startswith("/hitokoto")] == []
    monkeypatch.setenv("HITOKOTO", "true")
    async with Client(in_process_server()) as client:
        assert not (await client.call_tool("notify_send", {"wait": True, "title": "t", "content": "c"})).is_error
    assert vendor.json_bodies()[-1]["content"] == "c\n\nquote    ----book"


def test_create_server_runs_on_the_engine_its_caller_owns_and_never_starts_one():
    """One owner of the engine's lifecycle (lifecycle.py in `mcp-push serve`): create_server neither
    builds an engine of its own nor starts the one it is given."""
    from mcp_push.config import agent_defaults
    from mcp_push.service.engine import Engine

    engine = Engine(agent_defaults(dict(__import__("os").environ)))
    try:
        create_server(engine=engine)
        assert engine.running is False
        with pytest.raises(TypeError, match="engine"):
            create_server()
    finally:
        engine.close()


@pytest.mark.anyio
async def test_an_event_envelope_is_validated_once_per_call(vendor, monkeypatch):
    """The envelope is checked in one pass (the route's check_arguments), not again in the tool body."""
    from mcp_push.service import server as server_module

    configure(monkeypatch, webhook_env(vendor))
    checked: list = []
    real = server_module.validate_envelope
    monkeypatch.setattr(server_module, "validate_envelope", lambda envelope: checked.append(envelope) or real(envelope))
    async with Client(in_process_server()) as client:
        result = await client.call_tool("notify_event", {"run_id": "r1", "event": "start", "message": "go",
                                                         "wait": True})
    assert result.structured_content["delivered"] == 1
    assert [e["run_id"] for e in checked] == ["r1"]
