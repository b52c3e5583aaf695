"""One live run card on Discord and Matrix (MCP_PUSH_EDIT_PROGRESS=true), end to end: notify_event through
the MCP server and its engine to loopback vendors. The first event posts; the run's later events, its end
too, edit that message in place (Discord: PATCH of the webhook message; Matrix: an m.replace event); a
refused edit is posted anew under the one edit rule."""

from __future__ import annotations

import json

import pytest
from mcp import Client

from .local_server import Behaviour
from .mcp_helpers import anyio_backend, in_process_server, no_server_settings  # noqa: F401  (shared fixtures)

DISCORD_HOOK = "/api/webhooks/1249873065412345678/mcpCardTok_9xK2"
MATRIX_ROOM = "!cardRoom:matrix.example.org"


def configure(monkeypatch, values) -> None:
    for name, value in {"HITOKOTO": "false", "MCP_PUSH_EDIT_PROGRESS": "true", **values}.items():
        monkeypatch.setenv(name, value)


async def run_events(*events: tuple[str, str, dict], after=None, more: tuple = ()) -> list:
    """notify_event for each event of run deploy-7 (waiting for the results); then `after()`, then `more`."""
    results = []
    async with Client(in_process_server()) as client:
        for index, (kind, message, data) in enumerate(events + more):
            if index == len(events) and after is not None:
                after()
            result = await client.call_tool("notify_event", {
                "wait": True, "run_id": "deploy-7", "event": kind, "message": message, "data": data})
            assert not result.is_error, result.content
            results.append(result.structured_content["channels"][0])
    return results


RUN = (("start", "deploying v1.2", {}), ("update", "migrating", {"step": "db", "progress": 0.4}),
       ("end", "v1.2 is live", {"artifact_url": "https://ci.example.org/runs/7"}))


@pytest.mark.anyio
async def test_a_discord_run_card_is_posted_once_then_patched_in_place_to_its_end(vendor, monkeypatch):
    vendor.routes[DISCORD_HOOK] = Behaviour(body='{"id":"1311000000000000001","channel_id":"99","content":"x"}')
    configure(monkeypatch, {"DISCORD_WEBHOOK_URL": f"{vendor.url}{DISCORD_HOOK}"})
    results = await run_events(*RUN)
    assert [r["status"] for r in results] == ["delivered"] * 3
    sent = [(r.method, r.path) for r in vendor.received]
    assert sent == [("POST", f"{DISCORD_HOOK}?wait=true"),
                    ("PATCH", f"{DISCORD_HOOK}/messages/1311000000000000001"),
                    ("PATCH", f"{DISCORD_HOOK}/messages/1311000000000000001")]
    bodies = vendor.json_bodies()
    # An event is a card (an embed, cards.py): the final state replaces the progress, with its link.
    cards = [body["embeds"][0] for body in bodies]
    assert "deploying v1.2" in cards[0]["description"] and "migrating" in cards[1]["description"]
    assert "v1.2 is live" in cards[2]["description"] and cards[2]["url"] == "https://ci.example.org/runs/7"
    assert all(body["allowed_mentions"] == {"parse": []} for body in bodies)


@pytest.mark.anyio
async def test_a_discord_edit_of_a_deleted_message_is_posted_anew_and_that_post_is_edited_next(vendor, monkeypatch):
    configure(monkeypatch, {"DISCORD_WEBHOOK_URL": f"{vendor.url}{DISCORD_HOOK}"})
    vendor.routes[f"{DISCORD_HOOK}/messages/1001"] = Behaviour(
        status=404, body='{"message":"Unknown Message","code":10008}')
    vendor.routes[f"{DISCORD_HOOK}/messages/1002"] = Behaviour(body='{"id":"1002"}')
    # The start's post answers id 1001 (then deleted in Discord); the fallback post answers 1002.
    vendor.routes[DISCORD_HOOK] = Behaviour(body='{"id":"1001"}')
    second = {DISCORD_HOOK: Behaviour(body='{"id":"1002"}')}
    results = await run_events(RUN[0], after=lambda: vendor.routes.update(second), more=(RUN[1], RUN[2]))
    assert [r["status"] for r in results] == ["delivered"] * 3
    assert results[1]["attempts"] == 2  # the refused edit counts
    assert [(r.method, r.path.split("?")[0].removeprefix(DISCORD_HOOK)) for r in vendor.received] == [
        ("POST", ""), ("PATCH", "/messages/1001"), ("POST", ""), ("PATCH", "/messages/1002")]


@pytest.mark.anyio
async def test_a_matrix_run_card_is_replaced_by_m_replace_events_of_the_first(vendor, monkeypatch):
    vendor.routes["/_matrix"] = Behaviour(body='{"event_id":"$firstEv:matrix.example.org"}')
    configure(monkeypatch, {"MATRIX_HOMESERVER": vendor.url, "MATRIX_ACCESS_TOKEN": "syt_card_tok_5e1",
                            "MATRIX_ROOM_ID": MATRIX_ROOM})
    results = await run_events(*RUN)
    assert [r["status"] for r in results] == ["delivered"] * 3
    assert [r.method for r in vendor.received] == ["PUT"] * 3
    paths = [r.path for r in vendor.received]
    assert all("/rooms/%21cardRoom%3Amatrix.example.org/send/m.room.message/" in p for p in paths)
    assert len(set(paths)) == 3  # each event its own txnId
    first, update, end = (json.loads(r.body) for r in vendor.received)
    assert "m.relates_to" not in first and "deploying v1.2" in first["body"]
    for edit in (update, end):
        assert edit["m.relates_to"] == {"rel_type": "m.replace", "event_id": "$firstEv:matrix.example.org"}
        assert edit["body"].startswith("* ")
        assert edit["m.new_content"]["msgtype"] == "m.text"
        assert edit["body"] == "* " + edit["m.new_content"]["body"]
    assert "migrating" in update["m.new_content"]["body"]
    assert "v1.2 is live" in end["m.new_content"]["body"]
    assert all(r.headers.get("Authorization") == "Bearer syt_card_tok_5e1" for r in vendor.received)


@pytest.mark.anyio
async def test_slack_with_a_bot_token_updates_its_card_with_chat_update(vendor, monkeypatch):
    vendor.routes["/api/chat."] = Behaviour(body='{"ok":true,"channel":"C0CARDS","ts":"1700000000.000100"}')
    configure(monkeypatch, {"SLACK_BOT_TOKEN": "xoxb-card-test-0000", "SLACK_CHANNEL_ID": "C0CARDS",
                            "SLACK_API_URL": f"{vendor.url}/api"})
    results = await run_events(*RUN)
    assert [r["status"] for r in results] == ["delivered"] * 3
    assert [r.path for r in vendor.received] == ["/api/chat.postMessage", "/api/chat.update", "/api/chat.update"]
    updates = vendor.json_bodies()[1:]
    assert all(u["ts"] == "1700000000.000100" and u["channel"] == "C0CARDS" for u in updates)
    assert "v1.2 is live" in updates[1]["text"]


@pytest.mark.anyio
async def test_mattermost_with_a_token_patches_its_card(vendor, monkeypatch):
    vendor.routes["/api/v4/posts"] = Behaviour(status=201, body='{"id":"qe93kkfd7783iqwuwfcwcxbsxr"}')
    configure(monkeypatch, {"MATTERMOST_URL": vendor.url, "MATTERMOST_TOKEN": "mmcardtoken000000000000000",
                            "MATTERMOST_CHANNEL_ID": "4xp9fdt2pbgjfyw8m5a6ud7tyr"})
    results = await run_events(*RUN)
    assert [r["status"] for r in results] == ["delivered"] * 3
    assert [(r.method, r.path) for r in vendor.received] == [
        ("POST", "/api/v4/posts"), ("PUT", "/api/v4/posts/qe93kkfd7783iqwuwfcwcxbsxr/patch"),
        ("PUT", "/api/v4/posts/qe93kkfd7783iqwuwfcwcxbsxr/patch")]
    assert "v1.2 is live" in vendor.json_bodies()[2]["message"] and "channel_id" not in vendor.json_bodies()[2]
