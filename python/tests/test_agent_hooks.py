"""`mcp-push hook claude-code|codex|cursor` (service/agent_hooks.py) run as the hosts run it, in a child
process, with each host's JSON from its documentation (fixtures/agent_hooks/, sources in their $comment),
against a loopback vendor: the message the vendor gets (once the detached delivery is over: hook_helpers),
exit 0 whatever happens (a failing vendor, garbage input, a bad option), and the hand-off to a running
server's REST endpoint (MCP_PUSH_URL). A hung vendor, the host's pipes and a killed delivery:
test_hook_detached.py."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mcp_push.service.agent_hooks import last_assistant_message

from .hook_helpers import hook, hook_log, wait_until
from .local_server import Behaviour, VendorServer
from .mcp_helpers import REPO, child_env, free_port, http_server, webhook_env

FIXTURES = Path(__file__).parent / "fixtures" / "agent_hooks"
NO_RETRY = {"MCP_PUSH_RETRY_ATTEMPTS": "1"}
TOKEN = "hook_tok_1a2b3c4d5e6f"  # noqa: S105 (a test token)
RUN = "shop (3f2a9c1e)"  # the project folder of the fixtures' cwd, and the session id's first 8 characters


def fixture(name: str, **changes) -> dict:
    data = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    data.update(changes)
    return data


def received(vendor) -> list[dict]:
    return [json.loads(r.body) for r in vendor.received if r.path == "/hook"]


def transcript(tmp_path: Path) -> str:
    path = tmp_path / "session.jsonl"
    shutil.copy(FIXTURES / "claude_code_transcript.jsonl", path)
    return str(path)


# --- Claude Code ---------------------------------------------------------------------------------------


def test_claude_code_stop_ends_the_run_with_the_last_assistant_message_of_the_transcript(vendor, tmp_path):
    process = hook("claude-code", stdin=fixture("claude_code_stop.json", transcript_path=transcript(tmp_path)),
                   env=webhook_env(vendor))
    assert (process.returncode, process.stdout, process.stderr) == (0, b"", b"")
    [message] = received(vendor)
    assert message["title"] == f"✅ {RUN} finished"
    assert message["content"] == "Fixed: the discount was applied twice in `total()`. Tests pass."


def test_claude_code_stop_prefers_last_assistant_message_and_survives_a_missing_transcript(vendor, tmp_path):
    payload = fixture("claude_code_stop.json", transcript_path=str(tmp_path / "gone.jsonl"),
                      last_assistant_message="Deployed to staging.")
    assert hook("claude-code", stdin=payload, env=webhook_env(vendor)).returncode == 0
    del payload["last_assistant_message"]
    assert hook("claude-code", stdin=payload, env=webhook_env(vendor)).returncode == 0
    assert [m["content"] for m in received(vendor)] == ["Deployed to staging.", "Claude Code finished its turn."]


def test_claude_code_notification_says_the_agent_waits_and_why(vendor):
    process = hook("claude-code", stdin=fixture("claude_code_notification.json"), env=webhook_env(vendor))
    assert process.returncode == 0, process.stderr
    [message] = received(vendor)
    assert message["title"] == f"⏳ {RUN} update"
    assert message["content"] == "Waiting for you: Claude needs your permission to use Bash"


def test_claude_code_stop_failure_is_an_error_with_its_type(vendor):
    process = hook("claude-code", stdin=fixture("claude_code_stop_failure.json"), env=webhook_env(vendor))
    assert process.returncode == 0, process.stderr
    [message] = received(vendor)
    assert message["title"] == f"❌ {RUN} failed"
    assert message["content"] == ("Turn failed: rate_limit: Rate limit exceeded: 100 requests per minute\n"
                                  "Error code: rate_limit")


def test_claude_code_subagent_stop_is_an_update(vendor):
    process = hook("claude-code", stdin=fixture("claude_code_subagent_stop.json"), env=webhook_env(vendor))
    assert process.returncode == 0, process.stderr
    [message] = received(vendor)
    assert message["title"] == f"⏳ {RUN} update"
    assert message["content"] == "Subagent Explore finished: Found 3 call sites of parse_order in src/orders/."


def test_claude_code_session_start_is_sent_only_when_asked_for(vendor):
    start = fixture("claude_code_session_start.json")
    assert hook("claude-code", stdin=start, env=webhook_env(vendor)).returncode == 0
    assert received(vendor) == []  # opt-in
    assert hook("claude-code", "--on", "start,end", stdin=start, env=webhook_env(vendor)).returncode == 0
    opted_in = {**webhook_env(vendor), "MCP_PUSH_HOOK_EVENTS": "start"}
    assert hook("claude-code", stdin=start, env=opted_in).returncode == 0
    assert [(m["title"], m["content"]) for m in received(vendor)] == [
        (f"🚀 {RUN} started", "Claude Code session started (startup)")] * 2


def test_on_limits_the_events_sent(vendor):
    process = hook("claude-code", "--on", "error", stdin=fixture("claude_code_notification.json"),
                   env=webhook_env(vendor))
    assert process.returncode == 0
    assert received(vendor) == []


def test_unknown_hook_events_and_bad_input_send_nothing_and_exit_0(vendor):
    env = webhook_env(vendor)
    unknown = hook("claude-code", stdin=fixture("claude_code_stop.json", hook_event_name="PreToolUse"), env=env)
    garbage = hook("claude-code", stdin=b'{"session_id": "abc", "hook_event', env=env)
    not_an_object = hook("claude-code", stdin=b"[1, 2]", env=env)
    bad_option = hook("claude-code", "--on", "strat", stdin=fixture("claude_code_stop.json"), env=env)
    no_host = subprocess.run([sys.executable, "-m", "mcp_push", "hook", "vim"], env=child_env(), cwd=REPO,
                             capture_output=True, text=True, timeout=60)
    assert [p.returncode for p in (unknown, garbage, not_an_object, bad_option, no_host)] == [0] * 5
    assert unknown.stderr == b""
    assert b"the hook's input on stdin is not JSON" in garbage.stderr
    assert b"not a JSON object" in not_an_object.stderr
    assert b"--on: 'strat' is not one of start, update, end, error" in bad_option.stderr
    assert "HOST must be one of claude-code, codex, cursor, not 'vim'" in no_host.stderr
    assert received(vendor) == []


def test_a_failing_vendor_is_logged_in_the_hook_log_and_the_hook_exits_0(vendor):
    vendor.routes["/hook"] = Behaviour(status=500, body='{"message": "db down"}')
    process = hook("claude-code", stdin=fixture("claude_code_notification.json"),
                   env={**webhook_env(vendor), **NO_RETRY})
    assert (process.returncode, process.stdout, process.stderr) == (0, b"", b"")  # the host shows nothing
    log = hook_log()
    assert "mcp-push hook claude-code[" in log and "0 of 1 channel delivered: webhook" in log and "db down" in log


def test_no_channel_configured_is_logged_and_exits_0():
    process = hook("claude-code", stdin=fixture("claude_code_notification.json"))
    assert process.returncode == 0
    assert b"no channel is configured" in process.stderr
    assert hook_log() == ""  # nothing was started for nothing


def test_an_unknown_channel_is_said_on_stderr_at_once(vendor):
    process = hook("claude-code", "--channel", "nope", stdin=fixture("claude_code_notification.json"),
                   env=webhook_env(vendor))
    assert process.returncode == 0
    assert b"unknown channel 'nope'" in process.stderr
    assert received(vendor) == [] and hook_log() == ""


# --- Codex and Cursor ----------------------------------------------------------------------------------


def test_codex_notify_ends_the_run_with_the_last_assistant_message(vendor):
    payload = json.dumps(fixture("codex_notify.json"))
    process = hook("codex", payload, env=webhook_env(vendor))
    assert (process.returncode, process.stdout, process.stderr) == (0, b"", b"")
    [message] = received(vendor)
    assert message["title"] == "✅ api (b5f6c1c2) finished"
    assert message["content"] == "Rename complete and verified `cargo build` succeeds."
    other = hook("codex", json.dumps({"type": "approval-requested", "cwd": "/x"}), env=webhook_env(vendor))
    assert other.returncode == 0 and len(received(vendor)) == 1


def test_cursor_stop_prints_an_empty_answer_and_ends_the_run(vendor, tmp_path):
    cursor_transcript = tmp_path / "cursor.jsonl"
    cursor_transcript.write_text(
        '{"role":"user","message":{"content":[{"type":"text","text":"add a footer"}]}}\n'
        '{"role":"assistant","message":{"content":[{"type":"text","text":"Added the footer to layout.tsx."}]}}\n',
        encoding="utf-8")
    payload = b"\xef\xbb\xbf" + json.dumps(fixture("cursor_stop.json")).encode()  # Cursor may send a BOM
    process = hook("cursor", stdin=payload, env=webhook_env(vendor))
    assert (process.returncode, process.stdout, process.stderr) == (0, b"{}\n", b"")
    with_transcript = fixture("cursor_stop.json", transcript_path=str(cursor_transcript))
    assert hook("cursor", stdin=with_transcript, env=webhook_env(vendor)).returncode == 0
    failed = hook("cursor", stdin=fixture("cursor_stop.json", status="error"), env=webhook_env(vendor))
    assert (failed.returncode, failed.stdout) == (0, b"{}\n")
    assert [(m["title"], m["content"]) for m in received(vendor)] == [
        ("✅ site (cdefee2d) finished", "Cursor's agent finished."),
        ("✅ site (cdefee2d) finished", "Added the footer to layout.tsx."),
        ("❌ site (cdefee2d) failed", "Cursor's agent stopped with an error.\nError code: error"),
    ]


def test_cursor_answers_even_when_its_options_are_wrong(vendor):
    process = hook("cursor", "--bogus", stdin=fixture("cursor_stop.json"), env=webhook_env(vendor))
    assert (process.returncode, process.stdout) == (0, b"{}\n")
    assert b"unrecognized arguments: --bogus" in process.stderr


# --- the hand-off to a running server ------------------------------------------------------------------


ACCEPTED = json.dumps({"ok": True, "delivered": 0, "queued": 1, "total": 1, "skipped": None,
                       "summary": "accepted by 1 channel, delivering: webhook queued", "channels": []})


def test_with_mcp_push_url_the_event_goes_to_the_servers_rest_endpoint(vendor):
    server = VendorServer(routes={"/v1/": Behaviour(status=202, body=ACCEPTED)}).start()
    try:
        env = {**webhook_env(vendor), "MCP_PUSH_URL": server.url, "MCP_PUSH_HTTP_TOKEN": TOKEN}
        process = hook("claude-code", "--channel", "webhook", stdin=fixture("claude_code_stop_failure.json"),
                       env=env)
    finally:
        server.stop()
    assert (process.returncode, process.stderr) == (0, b"")
    [request] = server.received
    assert (request.path, request.headers["Authorization"]) == ("/v1/events", f"Bearer {TOKEN}")
    assert re.fullmatch("[0-9a-f]{32}", request.headers["Idempotency-Key"])  # asked again with it if slow
    body = json.loads(request.body)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", body.pop("timestamp"))  # the host's moment
    assert body == {
        "run_id": RUN, "event": "error", "channels": ["webhook"], "data": {"error_code": "rate_limit"},
        "message": "Turn failed: rate_limit: Rate limit exceeded: 100 requests per minute"}
    assert received(vendor) == []  # the server delivers, not the hook


def test_with_no_server_listening_the_hook_sends_the_event_itself(vendor):
    env = {**webhook_env(vendor), "MCP_PUSH_URL": f"http://127.0.0.1:{free_port()}"}
    process = hook("claude-code", stdin=fixture("claude_code_notification.json"), env=env)
    assert process.returncode == 0
    assert b"cannot reach the mcp-push server" in process.stderr and b"sending it directly" in process.stderr
    assert [m["title"] for m in received(vendor)] == [f"⏳ {RUN} update"]


def test_a_server_that_refuses_the_token_is_logged_and_nothing_else_is_sent(vendor):
    server = VendorServer(routes={"/v1/": Behaviour(status=401, body='{"error": "unauthorized"}')}).start()
    try:
        env = {**webhook_env(vendor), "MCP_PUSH_URL": server.url, "MCP_PUSH_HTTP_TOKEN": TOKEN}
        process = hook("claude-code", stdin=fixture("claude_code_notification.json"), env=env)
    finally:
        server.stop()
    assert process.returncode == 0
    assert b"refused the token (401)" in process.stderr and TOKEN.encode() not in process.stderr
    assert received(vendor) == [] and hook_log() == ""


def test_end_to_end_through_a_real_server_to_the_vendor(vendor):
    """`mcp-push serve --transport http` (its REST endpoint) takes the hook's event and delivers it."""
    env = {**webhook_env(vendor), "MCP_PUSH_HTTP_TOKEN": TOKEN}
    with http_server(env) as url:
        process = hook("claude-code", "-v", stdin=fixture("claude_code_stop.json", last_assistant_message="Shipped."),
                       env={**env, "MCP_PUSH_URL": url.removesuffix("/mcp")})
        assert process.returncode == 0
        assert process.stderr.startswith(b"mcp-push hook claude-code: ")
        wait_until(lambda: received(vendor), "the server's delivery")
    assert received(vendor) == [{"title": f"✅ {RUN} finished", "content": "Shipped."}]


# --- the transcript ------------------------------------------------------------------------------------


def test_the_transcript_is_read_tolerantly_and_from_its_end_only(tmp_path):
    path = tmp_path / "t.jsonl"
    assert last_assistant_message(str(tmp_path / "missing.jsonl")) == ""
    assert last_assistant_message("") == "" and last_assistant_message(None) == ""
    path.write_bytes(b'{"type":"assistant","message":{"role":"assistant","content":"early"}}\n'
                     b"not json at all\n\xff\xfe\n"
                     b'{"type":"assistant","message":{"role":"assistant","content":[{"type":"tool_use"}]}}\n'
                     b'{"type":"assistant","message":{"role":"assist')  # garbled, a tool call, a cut line
    assert last_assistant_message(str(path)) == "early"
    # A big transcript: only its tail is read, and the line the bounded read cuts into is skipped.
    filler = b'{"type":"user","message":{"role":"user","content":"' + b"x" * 1000 + b'"}}\n'
    old = b'{"type":"assistant","message":{"role":"assistant","content":"too far back"}}\n'
    path.write_bytes(old + filler * 300 + b'{"type":"assistant","message":{"content":"last","role":"assistant"}}\n')
    assert last_assistant_message(str(path)) == "last"
    path.write_bytes(old + filler * 300)
    assert os.path.getsize(path) > 256 * 1024
    assert last_assistant_message(str(path)) == ""  # the old message lies before the last 256 KiB
    assert last_assistant_message(str(path), tail_bytes=10 * 1024 * 1024) == "too far back"


def test_a_long_last_message_is_clipped_for_a_notification(vendor):
    payload = fixture("claude_code_stop.json", last_assistant_message="word " * 1000)
    assert hook("claude-code", stdin=payload, env=webhook_env(vendor)).returncode == 0
    [message] = received(vendor)
    assert len(message["content"]) <= 1500 and message["content"].endswith("…")


# --- the Claude Code plugin ----------------------------------------------------------------------------


PLUGIN = REPO / "integrations" / "claude-code"


def test_the_plugin_files_are_valid_json_and_name_commands_the_cli_has():
    from mcp_push.service.agent_hooks import HOSTS
    from mcp_push.service.cli import _parser

    manifest = json.loads((PLUGIN / ".claude-plugin" / "plugin.json").read_text(encoding="utf-8"))
    assert manifest["name"] == "mcp-push" and manifest["version"] and manifest["description"]
    servers = json.loads((PLUGIN / ".mcp.json").read_text(encoding="utf-8"))["mcpServers"]
    assert servers["mcp-push"]["command"] == "mcp-push"
    assert _parser().parse_args(servers["mcp-push"]["args"]).command == "serve"
    hooks = json.loads((PLUGIN / "hooks" / "hooks.json").read_text(encoding="utf-8"))["hooks"]
    assert set(hooks) == {"SessionStart", "Notification", "Stop", "StopFailure", "SubagentStop"}
    for event, groups in hooks.items():
        for group in groups:
            for handler in group["hooks"]:
                assert handler["type"] == "command"
                words = handler["command"].split()
                assert words[:3] == ["mcp-push", "hook", "claude-code"], (event, words)
                args = _parser().parse_args(words[1:])
                assert args.command == "hook" and args.host in HOSTS
                assert 0 < handler["timeout"] <= 30  # the hook returns at once; the delivery is detached
                # No --on: MCP_PUSH_HOOK_EVENTS decides, so a session's start stays opt-in.
                assert "--on" not in words


def test_the_repository_is_a_marketplace_listing_the_plugin():
    marketplace = json.loads((REPO / ".claude-plugin" / "marketplace.json").read_text(encoding="utf-8"))
    [entry] = marketplace["plugins"]
    assert marketplace["name"] and marketplace["owner"]["name"]
    manifest = REPO / entry["source"] / ".claude-plugin" / "plugin.json"
    assert json.loads(manifest.read_text(encoding="utf-8"))["name"] == entry["name"]


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.json")))
def test_every_fixture_cites_its_source(name):
    assert "https://" in fixture(name)["$comment"]
