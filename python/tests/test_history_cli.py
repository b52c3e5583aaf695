"""`mcp-push history` and `mcp-push status RUN`: what the CLI (and a server) recorded, as tables and JSON,
secrets masked."""

from __future__ import annotations

import json

from .local_server import Behaviour
from .mcp_helpers import ntfy_env, webhook_env
from .test_cli import assert_one_line_error, mcp_push

SECRET = "hk_0a1b2c3d4e5f6a7b"


def env_of(vendor) -> dict[str, str]:
    vendor.routes["/hook"] = Behaviour(status=401, body=f"bad key {SECRET}")
    return {**ntfy_env(vendor), **webhook_env(vendor), "WEBHOOK_URL": f"{vendor.url}/hook?key={SECRET}",
            "MCP_PUSH_RETRY_ATTEMPTS": "1"}


def report_a_run(vendor) -> dict[str, str]:
    env = env_of(vendor)
    for event, extra in (("start", []), ("update", ["--progress", "0.4", "--step", "compile"]), ("end", [])):
        process = mcp_push("event", "--run-id", "nightly", "--event", event, "--message", f"{event} it", *extra,
                           env=env)
        assert process.returncode == 1  # the webhook fails each time
    return env


def test_status_shows_each_channel_and_every_event_masked(vendor):
    env = report_a_run(vendor)
    process = mcp_push("status", "nightly", env=env)
    assert process.returncode == 0, process.stderr
    lines = process.stdout.splitlines()
    assert lines[0].startswith("run nightly: ended, 3 events, progress 40%")
    assert lines[1].split() == ["channel", "state", "delivered", "failed", "waiting", "detail"]
    assert lines[2].split()[:5] == ["ntfy", "delivered", "3", "0", "0"]
    assert lines[3].split()[:5] == ["webhook", "failed", "0", "3", "0"] and "HTTP 401" in lines[3]
    events = [line.split() for line in lines[6:]]
    assert [e[2] for e in events] == ["start", "update", "end"]
    assert "compile" in lines[7] and "40%" in lines[7] and "ntfy delivered, webhook failed" in lines[7]
    assert SECRET not in process.stdout


def test_status_json_is_the_run_view_and_a_message_id_finds_its_run(vendor):
    env = env_of(vendor)
    sent = json.loads(mcp_push("event", "--run-id", "r9", "--event", "start", "--message", "go", "--json",
                               env=env).stdout)
    view = json.loads(mcp_push("status", sent["message_id"], "--json", env=env).stdout)
    assert (view["run_id"], view["state"], view["events"][0]["message_id"]) == ("r9", "running", sent["message_id"])
    assert {c["channel"]: c["state"] for c in view["channels"]} == {"ntfy": "delivered", "webhook": "failed"}
    assert SECRET not in json.dumps(view)


def test_history_lists_deliveries_newest_first_and_filters(vendor):
    env = report_a_run(vendor)
    mcp_push("send", "plain", "message", "--channel", "ntfy", env=env)
    everything = mcp_push("history", env=env)
    assert everything.returncode == 0
    lines = everything.stdout.splitlines()
    assert lines[0].split() == ["time", "run", "event", "channel", "state", "tries", "http", "detail"]
    assert len(lines) == 1 + 7 and lines[1].split()[2:6] == ["-", "message", "ntfy", "delivered"]
    failed = mcp_push("history", "--failed", "--run", "nightly", env=env).stdout.splitlines()
    assert len(failed) == 1 + 3 and all("webhook" in line and "failed (rejected)" in line for line in failed[1:])
    assert all(SECRET not in line for line in lines + failed)
    rows = json.loads(mcp_push("history", "--since", "1h", "--json", env=env).stdout)
    assert len(rows) == 7 and rows[0]["title"] == "plain"
    assert mcp_push("history", "--run", "other", env=env).stdout == "No deliveries recorded that match.\n"


def test_an_unknown_run_and_a_bad_duration_are_one_line_errors(vendor):
    env = env_of(vendor)
    assert_one_line_error(mcp_push("status", "nope", env=env), 1, "no run or message 'nope' in the delivery history")
    assert_one_line_error(mcp_push("history", "--since", "soon", env=env), 2,
                          "--since: must be a duration such as 30m, 1h or 2d, got 'soon'")
    assert_one_line_error(mcp_push("history", env={**env, "MCP_PUSH_HISTORY": "false"}), 2,
                          "the delivery history is off (MCP_PUSH_HISTORY=false)")
