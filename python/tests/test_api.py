"""api.py's send(): QingLong's signature, per-channel results, per-call config, concurrency and isolation."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import mcp_push
from mcp_push import send

from .local_server import Behaviour


def _webhook(vendor, path="/hook"):
    return {
        "WEBHOOK_URL": f"{vendor.url}{path}",
        "WEBHOOK_CONTENT_TYPE": "application/json",
        "WEBHOOK_BODY": "title: $title\ncontent: $content",
    }


def test_send_returns_a_truthy_result_with_one_entry_per_configured_channel(vendor, monkeypatch):
    monkeypatch.setenv("WEBHOOK_URL", f"{vendor.url}/hook?t=$title")
    monkeypatch.setenv("NTFY_URL", vendor.url)
    monkeypatch.setenv("NTFY_TOPIC", "alerts")
    result = send("Deploy", "finished")
    assert bool(result) is True
    assert sorted(r.channel for r in result) == ["ntfy", "webhook"]
    for entry in result:
        assert (entry.ok, entry.status, entry.attempts, entry.error) == (True, "delivered", 1, None)
        assert entry.elapsed_ms >= 0
    assert sorted(r.path for r in vendor.received) == ["/alerts", "/hook?t=Deploy"]


def test_result_is_falsy_when_no_channel_delivered(vendor):
    vendor.routes["/hook"] = Behaviour(status=500, body="boom")
    result = send("t", "c", **_webhook(vendor))
    assert bool(result) is False
    assert result["webhook"].status == "rejected"
    assert result["webhook"].http_status == 500


def test_kwargs_configure_one_call_without_changing_later_calls(vendor):
    first = send("t", "c", **_webhook(vendor))
    second = send("t", "c")
    assert [r.channel for r in first] == ["webhook"]
    assert len(second) == 0 and second.skipped == "no channel is configured"
    assert "WEBHOOK_URL" not in os.environ


def test_kwargs_override_environment_values_for_that_call(vendor, monkeypatch):
    monkeypatch.setenv("WEBHOOK_URL", "http://127.0.0.1:9/unused?t=$title")
    send("t", "c", **_webhook(vendor, "/from-kwargs"))
    assert [r.path for r in vendor.received] == ["/from-kwargs"]


def test_ignore_default_config_reads_only_kwargs(vendor, monkeypatch):
    monkeypatch.setenv("NTFY_TOPIC", "from-env")
    monkeypatch.setenv("NTFY_URL", vendor.url)
    result = send("t", "c", ignore_default_config=True, HITOKOTO="false", **_webhook(vendor))
    assert [r.channel for r in result] == ["webhook"]


def test_kwargs_not_named_like_env_vars_become_vendor_params(vendor):
    # QingLong passes PushMe's `date` and `type` this way.
    send("t", "c", PUSHME_KEY="pm_key_123", PUSHME_URL=f"{vendor.url}/pushme", type="markdown")
    [request] = vendor.received
    assert request.body == b"push_key=pm_key_123&title=t&content=c&type=markdown"


def test_a_hanging_channel_neither_delays_nor_breaks_the_others(vendor):
    # The slow vendor holds its request until the client hangs up (or the test's end): only ntfy's own
    # timeout can end it. 1 s, not 0.5: room for the webhook's request to arrive first even on a loaded CI.
    held = threading.Event()
    vendor.routes["/slow"] = Behaviour(gate=held, until_hangup=True)
    try:
        result = send(
            "t", "c", MCP_PUSH_TIMEOUT="1", NTFY_URL=f"{vendor.url}/slow", NTFY_TOPIC="x", **_webhook(vendor)
        )
        for _ in range(500):  # the vendor notices the hang-up within its 20 ms poll; 10 s guard a hang
            if "/slow/x hung up" in vendor.events:
                break
            time.sleep(0.02)
    finally:
        held.set()
    assert result["webhook"].ok is True
    assert (result["ntfy"].ok, result["ntfy"].status, result["ntfy"].error) == (False, "timeout", "no reply within 1 s")
    # The webhook did not wait for ntfy: its request was in while ntfy's was still held.
    assert vendor.events.index("/hook received") < vendor.events.index("/slow/x hung up")


def test_a_channel_whose_hook_raises_is_reported_and_others_still_deliver(vendor, monkeypatch):
    from mcp_push.hooks import ntfy_auth as ntfy_hook

    def broken(_data):
        raise RuntimeError("hook bug")

    monkeypatch.setattr(ntfy_hook, "ntfy_auth", broken)
    result = send("t", "c", NTFY_URL=vendor.url, NTFY_TOPIC="x", **_webhook(vendor))
    assert result["webhook"].ok is True
    assert result["ntfy"].status == "internal_error"
    assert "hook bug" in result["ntfy"].error


def test_empty_content_is_skipped_with_a_reason_for_each_channel(vendor):
    result = send("title", "", **_webhook(vendor))
    assert result.skipped == "content is empty"
    assert [(r.channel, r.ok, r.status) for r in result] == [("webhook", False, "skipped")]
    assert vendor.received == []


def test_skip_push_title_matches_whole_lines_only(vendor, monkeypatch):
    monkeypatch.setenv("SKIP_PUSH_TITLE", "Daily check-in\nNoise")
    assert send("Noise", "c", **_webhook(vendor)).skipped == "title is listed in SKIP_PUSH_TITLE"
    assert bool(send("Noise 2", "c", **_webhook(vendor))) is True
    assert len(vendor.received) == 1


def test_a_configured_channel_missing_a_required_var_gets_a_config_error(vendor):
    result = send("t", "c", CHAT_URL="https://nas.example/webapi/entry.cgi?token=", **_webhook(vendor))
    assert result["synology_chat"].status == "config_error"
    assert "CHAT_TOKEN" in result["synology_chat"].error
    assert result["webhook"].ok is True


def test_wecom_app_with_too_few_fields_is_a_clear_config_error():
    result = send("t", "c", QYWX_AM="ww_corp_1,corp_secret_value_9,@all")
    assert result["wecom_app"].status == "config_error"
    assert "corpid,corpsecret,touser,agentid" in result["wecom_app"].error
    assert "corp_secret_value_9" not in json.dumps(result.to_dict())


def _hitokoto(quote_reply):
    def answer(seen):
        if seen.url.startswith("https://v1.hitokoto.cn/"):
            return quote_reply
        return 200, {"Content-Type": "application/json"}, '{"ok":true}'

    return answer


def test_hitokoto_quote_is_appended_when_enabled(monkeypatch, intercept):
    quote = json.dumps({"hitokoto": "山高水长", "from": "古文"}, ensure_ascii=False)
    intercept.answer = _hitokoto((200, {"Content-Type": "application/json"}, quote))
    monkeypatch.setenv("HITOKOTO", "true")
    send("t", "c", WEBHOOK_URL="https://hook.example/in", WEBHOOK_CONTENT_TYPE="text/plain",
         WEBHOOK_BODY="$content")
    assert [seen.url for seen in intercept.seen] == ["https://v1.hitokoto.cn/", "https://hook.example/in"]
    assert intercept.seen[-1].body == "c\n\n山高水长    ----古文"


def test_hitokoto_failure_never_blocks_or_fails_the_send(monkeypatch, intercept):
    from .intercept import CLOSE

    intercept.answer = _hitokoto(CLOSE)
    monkeypatch.setenv("HITOKOTO", "true")
    result = send("t", "c", WEBHOOK_URL="https://hook.example/in", WEBHOOK_CONTENT_TYPE="text/plain",
                  WEBHOOK_BODY="$content")
    assert result["webhook"].ok is True
    assert [seen.url for seen in intercept.seen] == ["https://v1.hitokoto.cn/", "https://hook.example/in"]
    assert intercept.seen[-1].body == "c"


def _send_with_hitokoto_served_as(vendor, monkeypatch, behaviour: Behaviour, timeout: float) -> str:
    """Sends with HITOKOTO on, the quote served by the local vendor; returns the content the webhook got."""
    from mcp_push.specs import load_settings

    vendor.routes["/hitokoto"] = behaviour
    monkeypatch.setitem(load_settings()["hitokoto"], "url", f"{vendor.url}/hitokoto")
    monkeypatch.setitem(load_settings()["hitokoto"], "timeout", timeout)
    monkeypatch.setenv("HITOKOTO", "true")
    # MCP_PUSH_TIMEOUT far past the test's run: only the quote's own timeout can end its wait.
    assert send("t", "c", MCP_PUSH_TIMEOUT="60", **_webhook(vendor))["webhook"].ok is True
    assert [r.path for r in vendor.received].count("/hitokoto") == 1
    [content] = [body["content"] for body in vendor.json_bodies() if "content" in body]
    return content


def test_hitokoto_that_hangs_costs_at_most_its_short_timeout(vendor, monkeypatch):
    held = threading.Event()  # set only after the send: the message went while the quote was still held
    try:
        content = _send_with_hitokoto_served_as(vendor, monkeypatch, Behaviour(gate=held), timeout=0.3)
    finally:
        held.set()
    assert content == "c"


def test_a_trickling_hitokoto_server_cannot_hold_the_send_past_its_timeout(vendor, monkeypatch):
    # One byte every 0.3 s: each read is within a 0.5 s timeout, the whole fetch takes 15 s; the message
    # went without the quote, so the fetch was cut off before its end.
    trickle = Behaviour(body='{"hitokoto":"' + "x" * 40 + '","from":"y"}', trickle_s=0.3)
    assert _send_with_hitokoto_served_as(vendor, monkeypatch, trickle, timeout=0.5) == "c"


def test_hitokoto_is_on_by_default_as_documented():
    from mcp_push.specs import load_settings

    assert load_settings()["env"]["HITOKOTO"].default == "true"


def test_console_writes_to_stderr_and_never_stdout(capsys):
    result = send("Title 标题", "body", CONSOLE="true")
    out, err = capsys.readouterr()
    assert result["console"].ok is True
    assert out == ""
    assert "Title 标题\n\nbody" in err


def test_console_false_means_off():
    assert send("t", "c", CONSOLE="false").skipped == "no channel is configured"


def test_notify_dropin_works_from_a_plain_script(vendor, tmp_path):
    script = tmp_path / "job.py"
    script.write_text(
        "from notify import send\n"
        "result = send('Job done', 'all good')\n"
        "print('delivered' if result else 'failed')\n"
    )
    env = {**os.environ, "HITOKOTO": "false", "NTFY_URL": vendor.url, "NTFY_TOPIC": "jobs"}
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=60,
                          cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "delivered\n"
    assert "ntfy: delivered" in proc.stderr
    assert vendor.received[0].body == b"all good"


def test_version_is_the_one_pyproject_declares():
    # Read from the installed metadata, not the "0.0.0+source" a bare checkout falls back to.
    declared = re.search(r'^version = "([^"]+)"', (Path(__file__).parents[2] / "pyproject.toml").read_text(), re.M)
    assert mcp_push.__version__ == declared.group(1)


@pytest.mark.parametrize("value", [None, 123, True])
def test_non_string_title_and_content_are_sent_as_text(vendor, value):
    result = send(value, "content", **_webhook(vendor))
    assert result["webhook"].ok is True
    expected = "" if value is None else ("true" if value is True else str(value))
    assert vendor.json_bodies()[0]["title"] == expected


# --- channels= (issue 11 item 6): only the named channels, an unknown name sends nothing -----------------


def _two_channels(vendor) -> dict[str, str]:
    return {**_webhook(vendor), "NTFY_URL": vendor.url, "NTFY_TOPIC": "alerts"}


@pytest.mark.parametrize("channels", [["NTFY"], "ntfy", [" Ntfy "], ("ntfy", "ntfy")])
def test_channels_sends_to_the_named_channels_only_ignoring_case(vendor, channels):
    result = send("t", "c", channels=channels, **_two_channels(vendor))
    assert [(r.channel, r.status) for r in result] == [("ntfy", "delivered")]
    assert [r.path for r in vendor.received] == ["/alerts"]


def test_a_comma_separated_channels_text_names_several(vendor):
    result = send("t", "c", channels="webhook, NTFY", **_two_channels(vendor))
    assert sorted(r.channel for r in result) == ["ntfy", "webhook"]
    assert sorted(r.path for r in vendor.received) == ["/alerts", "/hook"]


def test_an_unknown_channel_sends_nothing_and_lists_the_configured_ones(vendor):
    result = send("t", "c", channels=["ntfy", "nope", "telegram"], **_two_channels(vendor))
    assert [(r.channel, r.ok, r.status, r.error) for r in result] == [
        ("nope", False, "config_error", "unknown channel 'nope'; configured: ntfy, webhook"),
        ("telegram", False, "config_error", "channel 'telegram' is not configured; configured: ntfy, webhook"),
    ]
    assert bool(result) is False and result.skipped is None
    assert vendor.received == []


def test_an_unknown_channel_is_named_even_when_no_channel_is_configured():
    result = send("t", "c", ignore_default_config=True, channels=["nope"])
    assert [(r.channel, r.status, r.error) for r in result] == [
        ("nope", "config_error", "unknown channel 'nope'; configured: none")]


def test_an_empty_channels_list_sends_nothing_and_says_why(vendor):
    result = send("t", "c", channels=[], **_two_channels(vendor))
    assert len(result) == 0 and result.skipped.startswith("channels names no channel")
    assert vendor.received == []


def test_send_event_honours_channels(vendor):
    from mcp_push.events import send_event

    envelope = {"run_id": "r1", "event": "start", "message": "go"}
    result = send_event(envelope, channels=["Webhook"], env={**_two_channels(vendor), "HITOKOTO": "false"})
    assert [(r.channel, r.status) for r in result] == [("webhook", "delivered")]
    assert [r.path for r in vendor.received] == ["/hook"]
    refused = send_event(envelope, channels=["nope"], env=_two_channels(vendor))
    assert [(r.channel, r.status) for r in refused] == [("nope", "config_error")]
    assert "configured: ntfy, webhook" in refused["nope"].error
    assert len(vendor.received) == 1


def test_plan_honours_channels():
    env = {"NTFY_TOPIC": "alerts", "DD_BOT_TOKEN": "tok_dd_plan_1"}
    assert [e["channel"] for e in mcp_push.plan("t", "c", env=env, channels="NTFY")] == ["ntfy"]
    assert mcp_push.plan("t", "c", env=env, channels=["nope"]) == [
        {"channel": "nope", "error": "unknown channel 'nope'; configured: dingtalk, ntfy"}]


# --- a value that cannot work names the variable (issue 11 item 9) ----------------------------------------


def test_a_value_the_spec_type_refuses_is_a_config_error_naming_it_and_nothing_is_sent(vendor):
    result = send("t", "c", NTFY_URL=vendor.url, NTFY_TOPIC="alerts", NTFY_PRIORITY="urgentest",
                  GOTIFY_URL=vendor.url.replace("http://", ""), GOTIFY_TOKEN="tok_gotify_typed")
    assert [(r.channel, r.status, r.error) for r in result] == [
        ("gotify", "config_error", "GOTIFY_URL: must be an http(s) URL"),
        ("ntfy", "config_error", "NTFY_PRIORITY: must be one of 1, 2, 3, 4, 5, min, low, default, high, max, urgent"),
    ]
    assert vendor.received == []


@pytest.mark.parametrize(("env", "names"), [
    ({"NTFY_TOPIC": "alerts", "NTFY_URL": "http://[::1"}, "NTFY_URL, NTFY_TOPIC"),
    ({"OPENILINK_APP_TOKEN": "tok_olk_ctl\r\n", "OPENILINK_HUB_URL": "http://127.0.0.1:9"},
     "OPENILINK_APP_TOKEN, OPENILINK_HUB_URL"),
])
def test_a_request_that_cannot_be_sent_names_the_variables_not_the_library_exception(env, names):
    [entry] = send("t", "c", HITOKOTO="false", **env)
    assert (entry.status, entry.error) == ("config_error", f"the request cannot be sent as configured: check {names}")


# --- configuration that cannot work, and inputs that must not crash (found in review) ---------------

@pytest.mark.parametrize("value", ["nan", "inf", "1e400", "0", "-1", "abc"])
def test_an_unusable_timeout_is_a_config_error_for_every_channel(vendor, value):
    result = send("t", "c", MCP_PUSH_TIMEOUT=value, WEBHOOK_URL=f"{vendor.url}/hook?t=$title")
    assert [(r.channel, r.status) for r in result] == [("webhook", "config_error")]
    assert "MCP_PUSH_TIMEOUT" in result["webhook"].error
    assert vendor.received == []


def test_unknown_upper_case_kwargs_are_dropped_with_a_warning_not_sent_to_vendors(vendor, caplog):
    vendor.routes["/pm"] = Behaviour(body="success")
    result = send("t", "c", PUSHME_KEY="pm_key_1234", PUSHME_URL=f"{vendor.url}/pm", PUSH_PLUS_TOKNE="typo_token_9")
    assert result["pushme"].ok is True
    assert b"typo_token_9" not in vendor.received[0].body
    assert "ignored unknown settings: PUSH_PLUS_TOKNE" in caplog.text


def test_skip_push_title_is_read_from_the_environment_even_with_ignore_default_config(vendor, monkeypatch):
    monkeypatch.setenv("SKIP_PUSH_TITLE", "quiet")
    result = send("quiet", "c", ignore_default_config=True, HITOKOTO="false", WEBHOOK_URL=f"{vendor.url}/hook?t=$title")
    assert result.skipped == "title is listed in SKIP_PUSH_TITLE"


def test_lone_surrogates_become_replacement_characters_instead_of_crashing(vendor):
    result = send("t", "file \udc80name", NTFY_URL=vendor.url, NTFY_TOPIC="x")
    assert result["ntfy"].ok is True
    assert vendor.received[0].body == "file \ufffdname".encode()
