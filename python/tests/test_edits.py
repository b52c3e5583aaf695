"""Edit in place outside the MCP server (send_event with MCP_PUSH_EDIT_PROGRESS=true), against a real
local vendor: a run's first post is remembered in process memory and its updates edit it."""

from __future__ import annotations

import hashlib
import json

from mcp_push.edits import EditRefs, lane_key
from mcp_push.events import RunLog, send_event
from mcp_push.lanekey import PROCESS_SALT
from mcp_push.specs import load_channels

from .local_server import Behaviour


def telegram_env(vendor, **extra: str) -> dict[str, str]:
    return {"TG_BOT_TOKEN": "123:abc", "TG_USER_ID": "77", "TG_API_HOST": vendor.url, "HITOKOTO": "false", **extra}


def ntfy_env(vendor, **extra: str) -> dict[str, str]:
    return {"NTFY_URL": vendor.url, "NTFY_TOPIC": "runs", "HITOKOTO": "false", **extra}


def send_run(env, kinds, edits, run_id="r"):
    """Sends the events of one run in order to the one configured channel; returns its results."""
    runs = RunLog()
    results = [send_event({"run_id": run_id, "event": kind, "message": f"{kind} {i}"}, env=env, runs=runs,
                          edits=edits) for i, kind in enumerate(kinds)]
    return [result.channels[0] for result in results]


NOT_FOUND = '{"ok":false,"error_code":400,"description":"Bad Request: message to edit not found"}'


def methods(vendor) -> list[str]:
    return [r.path.rsplit("/", 1)[1] for r in vendor.received]


def test_telegram_updates_edit_the_starts_message_and_the_end_replaces_the_progress(vendor):
    vendor.routes["/"] = Behaviour(body='{"ok":true,"result":{"message_id":42}}')
    results = send_run(telegram_env(vendor, MCP_PUSH_EDIT_PROGRESS="true"), ("start", "update", "update", "end"),
                       EditRefs())
    assert all(r.ok for r in results)
    assert methods(vendor) == ["sendMessage", "editMessageText", "editMessageText", "editMessageText"]
    for edit in vendor.received[1:4]:
        body = json.loads(edit.body)
        assert body["message_id"] == 42 and body["chat_id"] == "77"
    assert "update 2" in json.loads(vendor.received[2].body)["text"]


def test_ntfy_the_first_update_is_posted_and_the_next_replaces_it_by_its_id(vendor):
    vendor.routes["/"] = Behaviour(body='{"id":"Ab3dE","event":"message"}')
    send_run(ntfy_env(vendor, MCP_PUSH_EDIT_PROGRESS="true"), ("update", "update", "end"), EditRefs())
    assert [r.path for r in vendor.received] == ["/runs", "/runs/Ab3dE", "/runs/Ab3dE"]


def test_without_the_opt_in_every_event_is_posted(vendor):
    vendor.routes["/"] = Behaviour(body='{"ok":true,"result":{"message_id":42}}')
    edits = EditRefs()
    send_run(telegram_env(vendor), ("start", "update", "update", "end"), edits)
    assert methods(vendor) == ["sendMessage"] * 4
    assert edits.get(lane_key(load_channels()["telegram"], telegram_env(vendor), PROCESS_SALT), "r") is None


def test_a_refused_edit_is_posted_anew_and_that_post_becomes_the_runs_message(vendor):
    vendor.script = [
        Behaviour(body='{"ok":true,"result":{"message_id":41}}'),
        Behaviour(status=400, body=NOT_FOUND),
        Behaviour(body='{"ok":true,"result":{"message_id":42}}'),
        Behaviour(body='{"ok":true,"result":{"message_id":42}}'),
    ]
    results = send_run(telegram_env(vendor, MCP_PUSH_EDIT_PROGRESS="true"), ("start", "update", "update"), EditRefs())
    assert [r.status for r in results] == ["delivered"] * 3
    assert methods(vendor) == ["sendMessage", "editMessageText", "sendMessage", "editMessageText"]
    assert [json.loads(vendor.received[i].body)["message_id"] for i in (1, 3)] == [41, 42]


def test_an_edit_whose_text_is_unchanged_is_delivered_and_keeps_the_message(vendor):
    vendor.routes["/"] = Behaviour(body='{"ok":true,"result":{"message_id":42}}')
    vendor.routes["/bot123:abc/editMessageText"] = Behaviour(status=400, body=json.dumps({
        "ok": False, "error_code": 400,
        "description": "Bad Request: message is not modified: specified new message content and reply markup are "
                       "exactly the same as a current content and reply markup of the message"}))
    results = send_run(telegram_env(vendor, MCP_PUSH_EDIT_PROGRESS="true"), ("start", "update", "update"), EditRefs())
    assert [r.status for r in results] == ["delivered"] * 3
    assert methods(vendor) == ["sendMessage", "editMessageText", "editMessageText"]


def test_the_end_forgets_the_run_so_a_later_update_is_posted(vendor):
    vendor.routes["/"] = Behaviour(body='{"ok":true,"result":{"message_id":42}}')
    send_run(telegram_env(vendor, MCP_PUSH_EDIT_PROGRESS="true"), ("start", "end", "update"), EditRefs())
    assert methods(vendor) == ["sendMessage", "editMessageText", "sendMessage"]


def test_runs_and_credentials_keep_their_own_messages(vendor):
    vendor.routes["/"] = Behaviour(body='{"ok":true,"result":{"message_id":42}}')
    env = telegram_env(vendor, MCP_PUSH_EDIT_PROGRESS="true")
    edits = EditRefs()
    send_run(env, ("start",), edits, run_id="a")
    send_run(env, ("update",), edits, run_id="b")  # another run: its first update is posted
    send_run({**env, "TG_BOT_TOKEN": "456:def"}, ("update",), edits, run_id="a")  # another bot
    assert methods(vendor) == ["sendMessage", "sendMessage", "sendMessage"]


def test_a_failed_first_post_remembers_nothing(vendor):
    vendor.script = [Behaviour(status=400, body=NOT_FOUND.replace("message to edit", "chat"))]
    vendor.routes["/"] = Behaviour(body='{"ok":true,"result":{"message_id":42}}')
    send_run(telegram_env(vendor, MCP_PUSH_EDIT_PROGRESS="true"), ("start", "update"), EditRefs())
    assert methods(vendor) == ["sendMessage", "sendMessage"]


def test_at_most_the_limit_of_runs_is_remembered_per_credential_oldest_forgotten_first():
    edits = EditRefs(limit=2)
    for run in ("a", "b", "c"):
        edits.set("telegram:x", run, run.upper())
    edits.set("telegram:y", "a", "other")
    assert [edits.get("telegram:x", run) for run in ("a", "b", "c")] == [None, "B", "C"]
    assert edits.get("telegram:y", "a") == "other"


def test_the_lane_key_is_the_channel_and_a_salted_digest_of_its_secrets_only():
    spec = load_channels()["telegram"]
    salt = b"fixed test salt"
    key = lane_key(spec, {"TG_BOT_TOKEN": "123:abc", "TG_USER_ID": "77"}, salt)
    assert key == "telegram:88ab7eef88c2fc32"  # HMAC-SHA256; js/test/edits.test.js pins the same
    # Not the unsalted SHA-256 of the token that earlier versions stored (telegram:1d2ae9a27724af11).
    assert key != "telegram:" + hashlib.sha256(b"123:abc").hexdigest()[:16]
    assert "123:abc" not in key
    assert key == lane_key(spec, {"TG_BOT_TOKEN": "123:abc", "TG_USER_ID": "78"}, salt)
    assert key != lane_key(spec, {"TG_BOT_TOKEN": "456:def", "TG_USER_ID": "77"}, salt)
    assert key != lane_key(spec, {"TG_BOT_TOKEN": "123:abc", "TG_USER_ID": "77"}, b"another salt")
