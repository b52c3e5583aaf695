"""Long messages tell the truth (spec/README.md, "Long messages" and "Results"): a result says how many
parts went out (`parts`) and whether content was cut (`truncated`), `attempts` counts every request tried
(parts and targets summed, retries included), and the cut part ends with the visible mark within the limit.
The vendor is a real local HTTP server; the MCP server is reached through the SDK's client."""

from __future__ import annotations

import json

import pytest
from mcp import Client

from mcp_push import dispatch
from mcp_push.redact import Redactor
from mcp_push.result import ChannelResult, SendResult
from mcp_push.service.engine import Engine
from mcp_push.service.outcome import outcome
from mcp_push.service.server import PushResult
from mcp_push.specs import load_settings

from .local_server import Behaviour
from .mcp_helpers import in_process_server

MARK = load_settings()["overflow"]["truncated_mark"]
ROBOT_LIMIT = 2048  # WeCom group robot: bytes of text content (spec/channels/wecom_bot.yaml)


def wecom_env(vendor, **extra: str) -> dict[str, str]:
    return {"QYWX_KEY": "key_wb_long", "QYWX_ORIGIN": vendor.url, "HITOKOTO": "false", **extra}


def texts(vendor) -> list[str]:
    return [json.loads(r.body)["text"]["content"] for r in vendor.received]


def test_a_1_mb_message_reports_5_parts_and_truncated_and_its_last_part_shows_the_mark(vendor):
    [channel] = dispatch("Nightly log", "x" * 1_000_000, wecom_env(vendor)).channels
    sent = texts(vendor)
    assert (channel.ok, channel.status, channel.parts, channel.truncated) == (True, "delivered", 5, True)
    assert channel.attempts == 5 == len(sent)  # one try per part, no retry
    assert [text.split("\n\n")[0] for text in sent] == [f"Nightly log ({i}/5)" for i in range(1, 6)]
    assert sent[-1].endswith(MARK) and not any(text.endswith(MARK) for text in sent[:-1])
    assert all(len(text.encode("utf-8")) <= ROBOT_LIMIT for text in sent)  # the mark is inside the limit


def test_a_message_that_fits_is_one_part_not_truncated(vendor):
    [channel] = dispatch("t", "short", wecom_env(vendor)).channels
    assert (channel.ok, channel.attempts, channel.parts, channel.truncated) == (True, 1, 1, False)


def test_a_split_that_needs_no_more_than_5_parts_is_not_truncated(vendor):
    [channel] = dispatch("t", "y" * 6000, wecom_env(vendor)).channels
    assert (channel.ok, channel.attempts, channel.parts, channel.truncated) == (True, 3, 3, False)
    assert "".join(text.split("\n\n", 1)[1] for text in texts(vendor)) == "y" * 6000


def test_truncate_mode_is_one_part_marked_and_reported_truncated(vendor):
    env = wecom_env(vendor, MCP_PUSH_OVERFLOW="truncate")
    [channel] = dispatch("t", "z" * 5000, env).channels
    [text] = texts(vendor)
    assert (channel.ok, channel.attempts, channel.parts, channel.truncated) == (True, 1, 1, True)
    assert text.endswith(MARK) and len(text.encode("utf-8")) <= ROBOT_LIMIT


def test_attempts_sum_the_tries_of_every_part_retries_included(vendor):
    # Part 2 of 3 is answered 503 once, then accepted: 3 parts, 4 requests.
    vendor.script = [Behaviour(), Behaviour(status=503, body="busy")]
    [channel] = dispatch("t", "y" * 6000, wecom_env(vendor)).channels
    assert (channel.ok, channel.attempts, channel.parts) == (True, 4, 3)
    assert len(vendor.received) == 4


def test_a_failed_part_is_named_and_the_later_parts_are_still_sent(vendor):
    vendor.script = [Behaviour(), Behaviour(body='{"errcode":40008,"errmsg":"invalid message type"}')]
    [channel] = dispatch("t", "y" * 6000, wecom_env(vendor)).channels
    assert (channel.ok, channel.status, channel.attempts, channel.parts) == (False, "rejected", 3, 3)
    assert channel.error.startswith("1 of 3 requests failed; first, part 2/3: ")
    assert "invalid message type" in channel.error


def test_no_part_is_counted_when_the_token_fetch_fails_first(vendor):
    # WeCom app fetches a token before any part: refused, nothing of the message went out.
    vendor.routes["/cgi-bin/gettoken"] = Behaviour(body='{"errcode":40013,"errmsg":"invalid corpid"}')
    env = {"QYWX_AM": "ww_corp,secret_app_long,@all,1000002", "QYWX_ORIGIN": vendor.url, "HITOKOTO": "false"}
    [channel] = dispatch("t", "y" * 6000, env).channels
    assert (channel.ok, channel.status, channel.attempts, channel.parts) == (False, "rejected", 1, 0)
    assert channel.truncated is False


def test_the_engine_reports_parts_and_truncated_too(vendor):
    engine = Engine(wecom_env(vendor))
    ticket = engine.submit("t", "x" * 20_000)
    engine.pump()
    [channel] = ticket.result().channels
    assert (channel.ok, channel.attempts, channel.parts, channel.truncated) == (True, 5, 5, True)


def test_the_tool_result_model_carries_parts_and_truncated():
    result = SendResult([ChannelResult("wecom_bot", True, "delivered", None, 5, 12, 200, 5, True)])
    shown = PushResult.model_validate(outcome(result, Redactor([]))).model_dump()
    [channel] = shown["channels"]
    assert (channel["attempts"], channel["parts"], channel["truncated"]) == (5, 5, True)


@pytest.mark.anyio
async def test_notify_send_says_how_a_long_message_went_out(vendor, monkeypatch):
    for name, value in wecom_env(vendor).items():
        monkeypatch.setenv(name, value)
    async with Client(in_process_server()) as client:
        result = await client.call_tool("notify_send", {"title": "Nightly", "content": "x" * 1_000_000, "wait": True})
    assert not result.is_error
    [channel] = result.structured_content["channels"]
    assert (channel["ok"], channel["attempts"], channel["parts"], channel["truncated"]) == (True, 5, 5, True)
    assert texts(vendor)[-1].endswith(MARK)


@pytest.fixture
def anyio_backend():
    return "asyncio"


def test_a_results_json_keys_are_in_the_order_node_writes_them():
    # js/test/sendNotify.test.js pins the same order for Node's results (PY_CHANNEL_KEYS).
    keys = list(ChannelResult("ntfy", True, "delivered").to_dict())
    assert keys == ["channel", "ok", "status", "error", "attempts", "elapsed_ms", "http_status", "parts", "truncated"]
