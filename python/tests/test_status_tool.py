"""notify_status and the runs resources, through a real MCP SDK client, over the server's own engine and
history: what an agent learns about its run and its messages after the calls returned."""

from __future__ import annotations

import json

import pytest
from mcp import Client

from .local_server import Behaviour
from .mcp_helpers import (  # noqa: F401  (shared fixtures)
    anyio_backend,
    in_process_server,
    no_server_settings,
    ntfy_env,
    webhook_env,
)

SECRET = "hk_5e4d3c2b1a0f9e8d"


def run_env(monkeypatch, vendor) -> None:
    """ntfy delivers; the webhook, whose URL carries a secret, is refused with that URL echoed back."""
    vendor.routes["/hook"] = Behaviour(status=403, body=f"forbidden: /hook?key={SECRET}")
    for name, value in {**ntfy_env(vendor), **webhook_env(vendor), "WEBHOOK_URL": f"{vendor.url}/hook?key={SECRET}",
                        "MCP_PUSH_RETRY_ATTEMPTS": "1"}.items():
        monkeypatch.setenv(name, value)


@pytest.mark.anyio
async def test_notify_status_is_read_only_and_has_an_output_schema(monkeypatch, vendor):
    run_env(monkeypatch, vendor)
    async with Client(in_process_server()) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    status = tools["notify_status"]
    hints = status.annotations
    assert (hints.read_only_hint, hints.destructive_hint, hints.idempotent_hint) == (True, False, True)
    assert {"found", "run_id", "channels", "events", "summary"} <= set(status.output_schema["properties"])
    assert set(status.input_schema["properties"]) == {"run_id", "message_id", "limit"}
    assert "message_id" in tools["notify_send"].output_schema["properties"]


@pytest.mark.anyio
async def test_a_run_reported_by_events_is_told_by_notify_status_and_the_resources(monkeypatch, vendor):
    run_env(monkeypatch, vendor)
    async with Client(in_process_server()) as client:
        ids = []
        for event, data in (("start", {}), ("update", {"progress": 0.5, "step": "tests"}), ("end", {})):
            result = await client.call_tool("notify_event", {"run_id": "r-1", "event": event, "message": f"{event}!",
                                                             "data": data, "wait": True})
            ids.append(result.structured_content["message_id"])
        assert len(set(ids)) == 3
        status = (await client.call_tool("notify_status", {"run_id": "r-1"})).structured_content
        by_message = (await client.call_tool("notify_status", {"message_id": ids[1], "limit": 1})).structured_content
        listed = {str(r.uri) for r in (await client.list_resources()).resources}
        templates = {t.uri_template for t in (await client.list_resource_templates()).resource_templates}
        runs = json.loads((await client.read_resource("mcp-push://runs")).contents[0].text)
        one = json.loads((await client.read_resource("mcp-push://runs/r-1")).contents[0].text)
        missing = json.loads((await client.read_resource("mcp-push://runs/nope")).contents[0].text)
    assert (status["found"], status["state"], status["events_total"], status["progress"]) == (True, "ended", 3, 0.5)
    assert [e["event"] for e in status["events"]] == ["start", "update", "end"]
    channels = {c["channel"]: c for c in status["channels"]}
    assert (channels["ntfy"]["state"], channels["ntfy"]["delivered"]) == ("delivered", 3)
    assert (channels["webhook"]["state"], channels["webhook"]["failed"], channels["webhook"]["http_status"]) == (
        "failed", 3, 403)
    assert "forbidden" in channels["webhook"]["error"] and SECRET not in json.dumps(status)
    assert by_message["run_id"] == "r-1" and [e["message_id"] for e in by_message["events"]] == [ids[2]]
    assert "mcp-push://runs" in listed and "mcp-push://runs/{run_id}" in templates
    assert [r["run_id"] for r in runs["runs"]] == ["r-1"] and runs["runs"][0]["channels"] == status["channels"]
    assert one["channels"] == status["channels"] and len(one["events"]) == 3
    assert missing == {"found": False, "run_id": "nope"}


@pytest.mark.anyio
async def test_a_queued_message_is_reported_queued_until_it_goes(monkeypatch, vendor):
    import threading

    gate = threading.Event()
    vendor.routes["/"] = Behaviour(gate=gate)
    for name, value in ntfy_env(vendor).items():
        monkeypatch.setenv(name, value)
    async with Client(in_process_server()) as client:
        sent = (await client.call_tool("notify_send", {"title": "t", "content": "c"})).structured_content
        status = (await client.call_tool("notify_status", {"message_id": sent["message_id"]})).structured_content
        gate.set()
        await client.call_tool("notify_send", {"title": "t2", "content": "c", "wait": True})
        after = (await client.call_tool("notify_status", {"message_id": sent["message_id"]})).structured_content
    assert (status["found"], status["run_id"], status["state"]) == (True, None, "sent")
    assert status["channels"][0]["state"] == "queued"
    assert after["channels"][0]["state"] == "delivered"


@pytest.mark.anyio
@pytest.mark.parametrize("arguments, problem", [
    ({}, "run_id: give a run_id or a message_id (one of them)"),
    ({"run_id": "a", "message_id": "b"}, "run_id: give a run_id or a message_id (one of them)"),
    ({"run_id": "a", "limit": 0}, "limit: must be at least 1"),
])
async def test_notify_status_refuses_unclear_questions_in_field_rule_words(monkeypatch, vendor, arguments, problem):
    run_env(monkeypatch, vendor)
    async with Client(in_process_server()) as client:
        result = await client.call_tool("notify_status", arguments)
    assert result.is_error and result.structured_content["error"] == problem


@pytest.mark.anyio
async def test_an_unknown_run_is_not_found_rather_than_an_error(monkeypatch, vendor):
    run_env(monkeypatch, vendor)
    async with Client(in_process_server()) as client:
        result = await client.call_tool("notify_status", {"run_id": "never"})
    assert not result.is_error and result.structured_content["found"] is False
    assert "No run 'never' in the delivery history" in result.structured_content["summary"]
