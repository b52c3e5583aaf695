"""Event cards (cards.py, the specs' `event` blocks): fitting a card to its limit, the card riding in the
params past hooks and templates, and events arriving as cards through the MCP server's notify_event, the
REST endpoint and the outbox, while plain messages and MCP_PUSH_FORMAT=text stay text. The cards
themselves are pinned per channel by conformance/cases/cards/."""

from __future__ import annotations

import json

import httpx2
import pytest
from mcp import Client

from mcp_push.cards import CARD_PARAM, fit_card, take_card
from mcp_push.events import RunLog, event_message, plan_event, validate_envelope
from mcp_push.overflow import size
from mcp_push.service.engine import Engine
from mcp_push.service.outbox import Outbox
from mcp_push.specs import load_settings

from .mcp_helpers import (  # noqa: F401  (shared fixtures)
    anyio_backend,
    http_server,
    in_process_server,
    no_server_settings,
    ntfy_env,
)

HOSTILE = "**bold** <b>x</b> [click](javascript:alert(1)) @everyone <!channel>"
ESCAPED = "\\*\\*bold\\*\\* \\<b\\>x\\</b\\> \\[click\\]\\(javascript:alert\\(1\\)\\) @everyone \\<\\!channel\\>"


def card_of(message: str, details: str = "") -> dict:
    return {"kind": "update", "title": "⏳ r 1%", "message": message, "details": details, "run_id": "r"}


def measure_as_json(card) -> int:
    """A stand-in card: its message and details as a JSON document (so newlines and quotes grow)."""
    return size(json.dumps({"t": card["title"], "m": card["message"], "d": card["details"]}, ensure_ascii=False),
                "bytes")


# --- fitting a card ---------------------------------------------------------------------------------------

def test_a_card_within_its_limit_or_without_one_is_sent_whole():
    card = card_of("short")
    assert fit_card(card, None, "split", measure_as_json) == ([card], False)
    assert fit_card(card, {"max": 1000, "unit": "bytes"}, "split", measure_as_json) == ([card], False)


def test_a_split_card_keeps_every_character_and_each_part_fits():
    message = "\n".join(f'line {i} "quoted"' for i in range(200))
    limit = {"max": 1200, "unit": "bytes"}
    parts, truncated = fit_card(card_of(message, "k: v"), limit, "split", measure_as_json)
    room = limit["max"] - load_settings()["overflow"]["reserve"]
    assert not truncated and 2 <= len(parts) <= load_settings()["overflow"]["max_parts"]
    assert all(measure_as_json(part) <= room for part in parts)
    # Cuts at line breaks drop the break itself: joined with one, the parts are the message.
    assert "\n".join(part["message"] for part in parts) == message
    assert [part["title"] for part in parts] == [f"⏳ r 1% ({i}/{len(parts)})" for i in range(1, len(parts) + 1)]
    assert [part["details"] for part in parts][-1] == "k: v" and not any(p["details"] for p in parts[:-1])


def test_a_truncated_card_is_cut_to_fit_and_marked():
    mark = load_settings()["overflow"]["truncated_mark"]
    [part], truncated = fit_card(card_of('"' * 3000), {"max": 500, "unit": "bytes"}, "truncate", measure_as_json)
    assert truncated and part["message"].endswith(mark)
    assert measure_as_json(part) <= 500 - load_settings()["overflow"]["reserve"]
    # Each quote is two bytes as JSON: the cut counts it as rendered, not as given.
    assert part["message"].count('"') > 200


def test_the_card_param_is_taken_out_before_hooks_and_templates_see_the_params():
    card, rest = take_card({CARD_PARAM: card_of("m"), "date": "2026-01-01"})
    assert card["message"] == "m" and rest == {"date": "2026-01-01"}
    assert take_card({"date": "x"}) == (None, {"date": "x"})
    # Bark merges params into its body ($merge: params): the card must not show up there.
    [request] = plan_event({"run_id": "r", "event": "start", "message": "m", "timestamp": "2026-01-01T00:00:00Z"},
                           env={"BARK_PUSH": "k", "HITOKOTO": "false"}, now=1767225600, redact=False)
    assert "$event" not in request["body"] and json.loads(request["body"])["group"] == "r"


def test_event_message_carries_the_card_unless_the_format_is_text():
    envelope = validate_envelope({"run_id": "r", "event": "update", "message": "m", "data": {"progress": 0.5}}, now=0)
    title, content, params = event_message(envelope, {}, RunLog())
    assert (title, content) == ("⏳ r 50%", "m\nProgress: █████░░░░░ 50%")
    assert params[CARD_PARAM] | {"timestamp": ""} == {
        "kind": "update", "title": "⏳ r 50%", "mark": "⏳", "run_id": "r", "message": "m", "timestamp": "",
        "step": "", "artifact_url": "", "error_code": "", "percent": "50", "bar": "█████░░░░░", "details": "",
        "elapsed": "", "progress": 0.5}
    assert event_message(envelope, {"MCP_PUSH_FORMAT": "text"}, RunLog())[2] == {}


# --- through the service --------------------------------------------------------------------------------

@pytest.mark.anyio
async def test_notify_event_arrives_as_the_channels_card_and_notify_send_as_text(vendor, monkeypatch):
    for name, value in ntfy_env(vendor).items():
        monkeypatch.setenv(name, value)
    async with Client(in_process_server()) as client:
        event = await client.call_tool("notify_event", {
            "wait": True, "run_id": "r7", "event": "error", "message": HOSTILE,
            "data": {"error_code": "E1", "artifact_url": "https://ci.example.com/r/7"}})
        sent = await client.call_tool("notify_send", {"wait": True, "title": "t", "content": HOSTILE})
    assert not event.is_error and not sent.is_error
    card, plain = vendor.received
    assert (card.headers["Markdown"], card.headers["Tags"], card.headers["Priority"]) == ("yes", "error", "4")
    assert card.headers["Click"] == "https://ci.example.com/r/7"
    assert card.body.decode().startswith(ESCAPED + "\n\n**Error code:** E1")
    assert "Markdown" not in plain.headers and plain.body.decode() == HOSTILE


@pytest.mark.anyio
async def test_mcp_push_format_text_turns_the_cards_off(vendor, monkeypatch):
    for name, value in {**ntfy_env(vendor), "MCP_PUSH_FORMAT": "text"}.items():
        monkeypatch.setenv(name, value)
    async with Client(in_process_server()) as client:
        result = await client.call_tool("notify_event", {"wait": True, "run_id": "r", "event": "start",
                                                         "message": HOSTILE})
    assert not result.is_error
    [received] = vendor.received
    assert "Markdown" not in received.headers and received.body.decode() == HOSTILE


def test_a_bad_mcp_push_format_is_every_channels_config_error(vendor):
    from mcp_push.events import send_event

    result = send_event({"run_id": "r", "event": "start", "message": "m"},
                        env={**ntfy_env(vendor), "HITOKOTO": "false", "MCP_PUSH_FORMAT": "html"}, runs=RunLog())
    [channel] = result.channels
    assert (channel.status, channel.error) == ("config_error", "MCP_PUSH_FORMAT: must be one of card, text")
    assert vendor.received == []


def test_the_rest_endpoint_sends_events_as_cards(vendor):
    token = "rest-token-cards-1"
    with http_server({**ntfy_env(vendor), "MCP_PUSH_HTTP_TOKEN": token}) as url:
        with httpx2.Client(timeout=70) as client:
            answer = client.post(url.removesuffix("/mcp") + "/v1/events?wait=true",
                                 headers={"Authorization": f"Bearer {token}"},
                                 json={"run_id": "r", "event": "update", "message": "m", "data": {"progress": 0.2}})
    assert answer.status_code == 200 and answer.json()["delivered"] == 1
    [received] = vendor.received
    assert received.headers["Markdown"] == "yes"
    assert received.body.decode() == "m\n\n**Progress:** `██░░░░░░░░` 20%"


def test_a_card_queued_in_the_outbox_is_still_a_card_when_another_process_adopts_it(vendor, tmp_path):
    env = {**ntfy_env(vendor), "HITOKOTO": "false"}
    path = tmp_path / "outbox.sqlite3"
    title, content, params = event_message(
        validate_envelope({"run_id": "r", "event": "start", "message": HOSTILE}, now=0), env, RunLog())
    dead = Outbox(path)
    Engine(env, outbox=dead).submit(title, content, kind="start", run_id="r", params=params)  # never sent
    dead.close()  # its process ended: the row is an orphan for the next one
    second = Engine(env, outbox=Outbox(path))
    assert second.resume() == 1
    second.pump()
    [received] = vendor.received
    assert received.headers["Markdown"] == "yes" and received.body.decode() == ESCAPED
