"""The `mcp-push` command, run as `python -m mcp_push` in a child process: exit codes (0 all delivered,
1 some failed, 2 usage or configuration error), one-line errors without tracebacks, tables for people,
JSON for machines, and secrets masked in dry runs and in `channels`."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from .local_server import Behaviour
from .mcp_helpers import REPO, child_env, ntfy_env, webhook_env

SECRET_PATH_KEY = "wh_5e8d1c9a7b3f2e6d"
SECRET_TOKEN = "tk_m4n5b6v7c8x9z0a1"
SECRET_DINGTALK = "dd_0f1e2d3c4b5a69788796"


def mcp_push(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mcp_push", *args], env=child_env(env or {}), cwd=REPO,
                          capture_output=True, text=True, timeout=60)


def assert_one_line_error(process: subprocess.CompletedProcess, code: int, *phrases: str) -> None:
    assert process.returncode == code, process.stderr
    assert process.stdout == ""
    lines = process.stderr.splitlines()
    assert len(lines) == 1, process.stderr
    assert lines[0].startswith("mcp-push") and "error: " in lines[0]
    for phrase in phrases:
        assert phrase in lines[0]


# --- send ----------------------------------------------------------------------------------------------


def test_send_delivered_prints_a_table_and_exits_0(vendor):
    process = mcp_push("send", "Backup", "finished in 3 min", env={**webhook_env(vendor), **ntfy_env(vendor)})
    assert process.returncode == 0, process.stderr
    assert process.stderr == ""
    lines = process.stdout.splitlines()
    assert lines[0].split() == ["channel", "status", "time", "detail"]
    assert [line.split()[:2] for line in lines[1:3]] == [["ntfy", "delivered"], ["webhook", "delivered"]]
    assert lines[-1] == "2 of 2 channels delivered: ntfy; webhook"
    by_path = {r.path: r.body for r in vendor.received}
    assert json.loads(by_path["/hook"]) == {"title": "Backup", "content": "finished in 3 min"}
    assert by_path["/alerts"] == b"finished in 3 min"


# A 500 is retried with real backoff in a child process; these tests are about exit codes, not retries.
NO_RETRY = {"MCP_PUSH_RETRY_ATTEMPTS": "1"}


def test_send_with_some_channel_failing_exits_1(vendor):
    vendor.routes["/hook"] = Behaviour(status=500, body='{"message":"db down"}')
    process = mcp_push("send", "t", "c", env={**webhook_env(vendor), **ntfy_env(vendor), **NO_RETRY})
    assert process.returncode == 1
    assert [r.path for r in vendor.received].count("/hook") == 1  # tried once: MCP_PUSH_RETRY_ATTEMPTS
    assert "webhook  rejected" in process.stdout and "HTTP 500: db down" in process.stdout
    assert process.stdout.splitlines()[-1].startswith("1 of 2 channels delivered")


def test_send_with_every_channel_failing_exits_1(vendor):
    vendor.routes["/hook"] = Behaviour(status=500, body="boom")
    assert mcp_push("send", "t", "c", env={**webhook_env(vendor), **NO_RETRY}).returncode == 1
    assert len(vendor.received) == 1


def test_send_json_output(vendor):
    process = mcp_push("send", "t", "c", "--json", env=webhook_env(vendor))
    assert process.returncode == 0
    report = json.loads(process.stdout)
    assert set(report) == {"ok", "delivered", "queued", "total", "skipped", "summary", "message_id", "channels"}
    [channel] = report["channels"]
    assert set(channel) == {"channel", "ok", "status", "error", "elapsed_ms", "http_status", "attempts",
                            "parts", "truncated"}
    assert (channel["channel"], channel["status"]) == ("webhook", "delivered")
    assert re.fullmatch(r"[0-9a-f]{16}", report["message_id"])


def test_send_to_named_channels_only(vendor):
    process = mcp_push("send", "t", "c", "--channel", "ntfy", env={**webhook_env(vendor), **ntfy_env(vendor)})
    assert process.returncode == 0
    assert [r.path for r in vendor.received] == ["/alerts"]


def test_no_channel_configured_is_a_configuration_error():
    assert_one_line_error(mcp_push("send", "t", "c"), 2, "no channel is configured", "mcp-push channels")


def test_an_unconfigured_channel_is_a_usage_error_listing_the_configured_ones(vendor):
    process = mcp_push("send", "t", "c", "--channel", "dingtalk", env={**webhook_env(vendor), **ntfy_env(vendor)})
    assert_one_line_error(process, 2, "channel 'dingtalk' is not configured; configured: ntfy, webhook")
    assert vendor.received == []


def test_channel_lists_split_on_commas_and_match_ignoring_case(vendor):
    env = {**webhook_env(vendor), **ntfy_env(vendor), "DD_BOT_TOKEN": SECRET_DINGTALK}
    process = mcp_push("send", "t", "c", "--channel", "NTFY, webhook", env=env)
    assert process.returncode == 0, process.stderr
    assert process.stdout.splitlines()[-1] == "2 of 2 channels delivered: ntfy; webhook"
    assert sorted(r.path for r in vendor.received) == ["/alerts", "/hook"]


@pytest.mark.parametrize("configured", [True, False])
def test_an_unknown_channel_is_named_never_no_channel_is_configured(vendor, configured):
    env = {**webhook_env(vendor), **ntfy_env(vendor)} if configured else {}
    for command in (["send", "t", "c"], ["send", "t", "c", "--dry-run"],
                    ["event", "--run-id", "r", "--event", "start", "--message", "m"]):
        process = mcp_push(*command, "--channel", "ntfy,nope", env=env)
        listed = "ntfy, webhook" if configured else "none"
        assert_one_line_error(process, 2, f"unknown channel 'nope'; configured: {listed}")
        assert "no channel is configured" not in process.stderr
    assert vendor.received == []


def test_a_channel_that_cannot_work_is_a_configuration_error(vendor):
    process = mcp_push("send", "t", "c", env={"GOTIFY_URL": vendor.url})
    assert process.returncode == 2
    assert "config_error" in process.stdout and "GOTIFY_TOKEN" in process.stdout


def test_a_title_in_skip_push_title_is_not_a_failure(vendor):
    process = mcp_push("send", "noisy", "c", env={**webhook_env(vendor), "SKIP_PUSH_TITLE": "noisy"})
    assert process.returncode == 0
    assert "Nothing sent: title is listed in SKIP_PUSH_TITLE." in process.stdout
    assert vendor.received == []


@pytest.mark.parametrize(
    ("args", "phrase"),
    [
        (["send"], "the following arguments are required: title, content"),
        (["send", "t", "c", "--bogus"], "unrecognized arguments: --bogus"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        (["event", "--run-id", "r", "--event", "start", "--message", "m", "--progress", "half"],
         "not a number: 'half'"),
        (["event", "--run-id", "r", "--event", "finish", "--message", "m"], "invalid choice: 'finish'"),
        (["event", "--run-id", "r", "--event", "start"], "the following arguments are required: --message"),
        (["send", "t", ""], "CONTENT is empty"),
        (["serve", "--transport", "carrier-pigeon"], "invalid choice: 'carrier-pigeon'"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(vendor, args, phrase):
    assert_one_line_error(mcp_push(*args, env=webhook_env(vendor)), 2, phrase)
    assert vendor.received == []


@pytest.mark.parametrize(
    ("flags", "phrase"),
    [
        (["--progress", "1.5"], "invalid event: data.progress: must be at most 1"),
        (["--progress", "nan"], "invalid event: data.progress: must be a number from 0 to 1"),
        (["--artifact-url", "file:///etc/passwd"], "invalid event: data.artifact_url: must be an http(s) URL"),
        (["--timestamp", "2026-13-01T00:00:00Z"], "invalid event: timestamp: must be an RFC 3339 date-time"),
    ],
)
def test_an_invalid_event_is_one_line_naming_the_field(vendor, flags, phrase):
    process = mcp_push("event", "--run-id", "r", "--event", "update", "--message", "m", *flags,
                       env=webhook_env(vendor))
    assert_one_line_error(process, 2, phrase)
    assert vendor.received == []


@pytest.mark.parametrize("setting", [{"MCP_PUSH_OVERFLOW": "chop"}, {"MCP_PUSH_TIMEOUT": "soon"}])
def test_a_bad_setting_exits_2_with_or_without_dry_run_and_names_no_class(vendor, setting):
    env = {**ntfy_env(vendor), **setting}
    [(name, _)] = setting.items()
    dry = mcp_push("send", "t", "c", "--dry-run", env=env)
    assert_one_line_error(dry, 2, name)
    assert "Error" not in dry.stderr.replace("error: ", "")  # no ConfigError, no traceback
    real = mcp_push("send", "t", "c", env=env)
    assert real.returncode == 2 and name in real.stdout
    assert vendor.received == []


def test_a_value_the_spec_type_refuses_is_a_configuration_error_naming_the_variable(vendor):
    env = {**ntfy_env(vendor), "NTFY_PRIORITY": "9"}
    rule = "NTFY_PRIORITY: must be one of 1, 2, 3, 4, 5"
    dry = mcp_push("send", "t", "c", "--dry-run", env=env)
    assert dry.returncode == 2
    assert json.loads(dry.stdout)[0]["error"].startswith(rule)
    real = mcp_push("send", "t", "c", "--json", env=env)
    assert real.returncode == 2
    [channel] = json.loads(real.stdout)["channels"]
    assert (channel["status"], channel["error"][: len(rule)]) == ("config_error", rule)
    assert vendor.received == []


def test_an_unexpected_error_is_one_line_without_a_class_name(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    process = mcp_push("flush", env={"MCP_PUSH_STATE_DIR": str(blocker / "state")})
    assert_one_line_error(process, 1, "unexpected error: ", "Not a directory")
    assert "NotADirectoryError" not in process.stderr


def test_configuration_errors_outside_channels_are_one_line(tmp_path):
    assert_one_line_error(mcp_push("channels", env={"MCP_PUSH_SPEC_DIR": str(tmp_path)}), 2, "no channel specs")
    assert_one_line_error(mcp_push("serve", env={"MCP_PUSH_TOOL_NAMES": "both"}), 2,
                          "MCP_PUSH_TOOL_NAMES: must be one of underscore, dotted")
    assert_one_line_error(mcp_push(env={"MCP_PUSH_TOOL_NAMES": "both"}), 2, "MCP_PUSH_TOOL_NAMES")
    assert_one_line_error(mcp_push("serve", "--transport", "http", "--host", "0.0.0.0"), 2,  # noqa: S104
                          "refusing to serve on 0.0.0.0 without MCP_PUSH_HTTP_TOKEN")
    bad_retry = {"NTFY_TOPIC": "t", "MCP_PUSH_RETRY_ATTEMPTS": "x"}
    assert_one_line_error(mcp_push("send", "t", "c", "--dry-run", env=bad_retry), 2,
                          "MCP_PUSH_RETRY_ATTEMPTS: must be an integer of at least 1")


def test_version():
    process = mcp_push("--version")
    declared = re.search(r'^version = "([^"]+)"', (REPO / "pyproject.toml").read_text(), re.M).group(1)
    assert (process.returncode, process.stdout) == (0, f"mcp-push {declared}\n")


# --- event ---------------------------------------------------------------------------------------------


def test_event_is_rendered_and_delivered(vendor):
    process = mcp_push("event", "--run-id", "train-7", "--event", "update", "--message", "epoch 5 of 10",
                       "--progress", "0.5", "--step", "training", "--data", '{"loss": 0.31}',
                       env=webhook_env(vendor))
    assert process.returncode == 0, process.stderr
    assert process.stdout.splitlines()[-1] == "1 of 1 channel delivered: webhook"
    [body] = vendor.json_bodies()
    assert "train-7" in body["title"] and "50%" in body["title"]
    assert "epoch 5 of 10" in body["content"] and "training" in body["content"]


def test_event_data_fields_the_template_has_no_line_for_are_shown(vendor):
    """Issue 11 item 12: --data's other fields reach the message as `key: value` lines (they were dropped)."""
    process = mcp_push("event", "--run-id", "r", "--event", "update", "--message", "m", "--step", "lint",
                       "--data", '{"shard": 3, "host": "ci-7", "retried": null, "tags": ["a", "b"]}',
                       env=webhook_env(vendor))
    assert process.returncode == 0, process.stderr
    [body] = vendor.json_bodies()
    assert body["content"] == 'm\nStep: lint\nshard: 3\nhost: ci-7\nretried: null\ntags: ["a","b"]'


def test_error_event_with_error_code_as_json(vendor):
    process = mcp_push("event", "--run-id", "nightly", "--event", "error", "--message", "DB timeout",
                       "--error-code", "E_DB_TIMEOUT", "--json", env=webhook_env(vendor))
    assert process.returncode == 0
    assert json.loads(process.stdout)["delivered"] == 1
    [body] = vendor.json_bodies()
    assert "E_DB_TIMEOUT" in body["content"] and "DB timeout" in body["content"]


# --- dry run and channels: secrets masked --------------------------------------------------------------


def _secret_env(vendor) -> dict[str, str]:
    return {**webhook_env(vendor, f"/hook/{SECRET_PATH_KEY}"), **ntfy_env(vendor), "NTFY_TOKEN": SECRET_TOKEN,
            "DD_BOT_TOKEN": SECRET_DINGTALK}


def test_dry_run_prints_the_redacted_plan_and_sends_nothing(vendor):
    process = mcp_push("send", "t", "c", "--dry-run", env=_secret_env(vendor))
    assert process.returncode == 0, process.stderr
    plan = json.loads(process.stdout)
    assert sorted(entry["channel"] for entry in plan) == ["dingtalk", "ntfy", "webhook"]
    ntfy = next(entry for entry in plan if entry["channel"] == "ntfy")
    assert ntfy["headers"]["Authorization"] == "Bearer ***"
    for secret in (SECRET_PATH_KEY, SECRET_TOKEN, SECRET_DINGTALK):
        assert secret not in process.stdout + process.stderr
    assert vendor.received == []


def test_dry_run_of_one_channel_and_of_an_event(vendor):
    process = mcp_push("event", "--run-id", "r", "--event", "start", "--message", "go", "--channel", "ntfy",
                       "--dry-run", env=_secret_env(vendor))
    assert process.returncode == 0, process.stderr
    [entry] = json.loads(process.stdout)
    assert entry["channel"] == "ntfy" and entry["body"].startswith("go")
    assert SECRET_TOKEN not in process.stdout
    assert vendor.received == []


def test_channels_lists_configured_and_missing_with_secrets_masked(vendor):
    env = {**_secret_env(vendor), "GOTIFY_URL": "http://127.0.0.1:9"}
    process = mcp_push("channels", env=env)
    assert process.returncode == 0, process.stderr
    out = process.stdout
    for secret in (SECRET_PATH_KEY, SECRET_TOKEN, SECRET_DINGTALK):
        assert secret not in out
    assert "NTFY_TOKEN=***" in out and "DD_BOT_TOKEN=***" in out and "WEBHOOK_URL=***" in out
    assert "NTFY_TOPIC=alerts" in out  # not a secret
    lines = {line.split()[0]: line for line in out.splitlines() if line.startswith("  ")}
    assert "ready" in lines["ntfy"] and "ready" in lines["dingtalk"]
    assert "missing GOTIFY_TOKEN" in lines["gotify"]
    assert lines["bark"].split()[1:] == ["BARK_PUSH"]
    assert lines["aibotk"].split(None, 1)[1] == "AIBOTK_KEY, AIBOTK_TYPE, AIBOTK_NAME"
    assert lines["smtp"].split(None, 1)[1] == "SMTP_SERVER or SMTP_SERVICE, SMTP_EMAIL"

    as_json = mcp_push("channels", "--json", env=env)
    assert as_json.returncode == 0
    channels = {c["channel"]: c for c in json.loads(as_json.stdout)}
    assert channels["ntfy"]["env"] == {"NTFY_URL": vendor.url, "NTFY_TOPIC": "alerts", "NTFY_TOKEN": "***"}
    assert channels["webhook"]["env"]["WEBHOOK_URL"] == "***"
    assert (channels["gotify"]["configured"], channels["gotify"]["complete"]) == (True, False)
    assert channels["bark"] | {"env": None} == {
        "channel": "bark", "display_name": "Bark", "configured": False, "complete": False,
        "enabled_by": ["BARK_PUSH"], "missing": ["BARK_PUSH"], "problems": [], "unknown_env": [], "env": None}
    assert channels["smtp"]["enabled_by"] == ["SMTP_SERVER", "SMTP_SERVICE"]
    assert channels["smtp"]["missing"] == ["SMTP_SERVER or SMTP_SERVICE", "SMTP_EMAIL"]
    for secret in (SECRET_PATH_KEY, SECRET_TOKEN, SECRET_DINGTALK):
        assert secret not in as_json.stdout


def test_secrets_never_reach_the_output_of_a_failed_send(vendor):
    vendor.routes["/"] = Behaviour(status=401, body=json.dumps({"message": f"bad {SECRET_PATH_KEY} {SECRET_TOKEN}"}))
    env = {k: v for k, v in _secret_env(vendor).items() if k != "DD_BOT_TOKEN"}
    for extra in ([], ["--json"], ["-v"]):
        process = mcp_push("send", "t", "c", *extra, env=env)
        assert process.returncode == 1
        assert "bad ***" in process.stdout + process.stderr
        for secret in (SECRET_PATH_KEY, SECRET_TOKEN):
            assert secret not in process.stdout + process.stderr


def test_channels_is_a_doctor_for_values_and_mistyped_names(vendor):
    env = {**ntfy_env(vendor), "NTFY_PRIORITY": "9", "NTFY_TOPC": "alerts", "SMTP_EMAIL": "me@x.test",
           "WEBHOOK_URL": f"ftp://hooks.example.com/{SECRET_PATH_KEY}", "WEBHOOK_METHOD": "post",
           "TG_BOT_TOKN": "123:abc", "GOOGLE_APPLICATION_CREDENTIALS": "/x.json"}
    process = mcp_push("channels", env=env)
    assert process.returncode == 0, process.stderr
    lines = {tuple(line.split(None, 1)) for line in process.stdout.splitlines() if line.startswith("  ")}
    assert ("ntfy", "NTFY_PRIORITY: must be one of 1, 2, 3, 4, 5, min, low, default, high, max, urgent") in lines
    assert ("webhook", "WEBHOOK_URL: must be an http(s) URL") in lines  # WEBHOOK_METHOD=post is fine: any case
    assert ("ntfy", "NTFY_TOPC: no channel reads this variable; did you mean NTFY_TOPIC?") in lines
    assert ("telegram", "TG_BOT_TOKN: no channel reads this variable; did you mean TG_BOT_TOKEN?") in lines
    assert ("smtp", "SMTP_SERVER or SMTP_SERVICE") in lines  # what turns it on, not SMTP_EMAIL
    assert "GOOGLE_APPLICATION_CREDENTIALS" not in process.stdout  # not a channel's prefix (GOOGLE_CHAT_)
    assert "ntfy     cannot work (see problems)" in process.stdout
    assert SECRET_PATH_KEY not in process.stdout

    channels = {c["channel"]: c for c in json.loads(mcp_push("channels", "--json", env=env).stdout)}
    assert channels["ntfy"]["problems"] == ["NTFY_PRIORITY: must be one of 1, 2, 3, 4, 5, min, low, default, "
                                            "high, max, urgent"]
    assert channels["ntfy"]["unknown_env"] == [{"name": "NTFY_TOPC", "suggestion": "NTFY_TOPIC"}]
    assert (channels["ntfy"]["configured"], channels["ntfy"]["complete"]) == (True, False)


def test_channels_reports_what_only_the_channels_hook_can_tell():
    env = {"SMTP_SERVICE": "mailfoo", "SMTP_EMAIL": "me@x.test", "QYWX_AM": "corp,secret_wa_doctor_1,@all"}
    channels = {c["channel"]: c for c in json.loads(mcp_push("channels", "--json", env=env).stdout)}
    assert channels["smtp"]["problems"] == ["SMTP_SERVICE 'mailfoo' is not a known provider; set SMTP_SERVER=host:port "
                                            "instead"]
    assert channels["wecom_app"]["problems"][0].startswith("QYWX_AM must be corpid,corpsecret,touser,agentid")
    assert "secret_wa_doctor_1" not in json.dumps(channels)
