"""Edges found in review: deadlines that really hold, configuration that cannot work, secrets in
places other than results (library debug logs, reprs, exception texts), and requests sent as planned."""

from __future__ import annotations

import json
import logging

import pytest

from mcp_push import plan, send
from mcp_push.redact import Redactor

from .local_server import Behaviour


def _webhook(vendor, path="/hook"):
    return {"WEBHOOK_URL": f"{vendor.url}{path}?t=$title"}


@pytest.mark.parametrize("value", ["nan", "inf", "1e400", "0", "-1", "abc"])
def test_an_unusable_timeout_is_a_config_error_for_every_channel(vendor, value):
    result = send("t", "c", MCP_PUSH_TIMEOUT=value, **_webhook(vendor))
    assert [(r.channel, r.status) for r in result] == [("webhook", "config_error")]
    assert "MCP_PUSH_TIMEOUT" in result["webhook"].error
    assert vendor.received == []


def test_urllib3_debug_logs_carry_no_token(vendor, caplog):
    caplog.set_level(logging.DEBUG)
    send("t", "c", GOTIFY_URL=vendor.url, GOTIFY_TOKEN="gotify_SUPERSECRET_1")
    assert any(r.name.startswith("urllib3") for r in caplog.records), "urllib3 logged nothing: test is moot"
    assert "gotify_SUPERSECRET_1" not in caplog.text


def test_redirects_are_not_followed(vendor):
    vendor.routes["/hook"] = Behaviour(status=302, body="", headers={"Location": "/elsewhere"})
    result = send("t", "c", **_webhook(vendor))
    assert (result["webhook"].status, result["webhook"].http_status) == ("rejected", 302)
    assert [r.path.split("?")[0] for r in vendor.received] == ["/hook"]


def test_a_control_character_in_a_credential_is_a_masked_config_error():
    token = "tök_abc_secret\r\n"
    result = send("t", "c", OPENILINK_APP_TOKEN=token, OPENILINK_HUB_URL="http://127.0.0.1:9")
    entry = result["openilink"]
    assert entry.status == "config_error"
    assert "tök_abc_secret" not in json.dumps(result.to_dict(), ensure_ascii=False)
    assert "tök_abc_secret" not in repr(result)


def test_redactor_masks_repr_and_ascii_json_forms():
    secret = "tök\r\n"
    redactor = Redactor([secret])
    for form in (repr(secret)[1:-1], json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1]):
        assert redactor.text(f"x {form} y") == "x *** y"


def test_unknown_upper_case_kwargs_are_dropped_with_a_warning_not_sent_to_vendors(vendor, caplog):
    vendor.routes["/pm"] = Behaviour(body="success")
    result = send("t", "c", PUSHME_KEY="pm_key_1234", PUSHME_URL=f"{vendor.url}/pm", PUSH_PLUS_TOKNE="typo_token_9")
    assert result["pushme"].ok is True
    assert b"typo_token_9" not in vendor.received[0].body
    assert "ignored unknown settings: PUSH_PLUS_TOKNE" in caplog.text


def test_skip_push_title_is_read_from_the_environment_even_with_ignore_default_config(vendor, monkeypatch):
    monkeypatch.setenv("SKIP_PUSH_TITLE", "quiet")
    result = send("quiet", "c", ignore_default_config=True, HITOKOTO="false", **_webhook(vendor))
    assert result.skipped == "title is listed in SKIP_PUSH_TITLE"


def test_lone_surrogates_become_replacement_characters_instead_of_crashing(vendor):
    result = send("t", "file \udc80name", NTFY_URL=vendor.url, NTFY_TOPIC="x")
    assert result["ntfy"].ok is True
    assert vendor.received[0].body == "file \ufffdname".encode()


def test_each_spt_is_masked_in_a_redacted_plan():
    [entry] = plan("t", "c", env={"WXPUSHER_SPT_LIST": " SPT_first_0001 , SPT_second_0002 "})
    assert "SPT_first_0001" not in json.dumps(entry) and "SPT_second_0002" not in json.dumps(entry)


def test_webhook_url_credentials_are_masked_in_a_redacted_plan():
    [entry] = plan("hello", "c", env={"WEBHOOK_URL": "https://admin:Hunter2pass@hook.example.com/in?t=$title"})
    assert "Hunter2pass" not in entry["url"]
    assert entry["url"].startswith("https://***@hook.example.com")


def test_repr_of_a_channel_plan_and_hook_input_shows_no_secret():
    from mcp_push.api import configured_channels
    from mcp_push.hooks import HookInput
    from mcp_push.planner import plan_channel

    [(spec, env)] = configured_channels({"DD_BOT_TOKEN": "tok_repr_check_77"})
    assert "tok_repr_check_77" not in repr(plan_channel(spec, env, "t", "c", {}, 1700000000.0))
    assert "tok_repr_check_77" not in repr(HookInput(env, "t", "c", 0.0))


def test_a_key_inside_a_secret_url_is_masked_when_the_vendor_names_it_alone(vendor):
    # bark-server's answer for an unknown device key names the key, not the whole BARK_PUSH URL.
    message = "failed to get device token: failed to get [bark_secret_D4] device token from database"
    vendor.routes["/bark_secret_D4"] = Behaviour(status=400, body=json.dumps({"code": 400, "message": message}))
    result = send("t", "c", BARK_PUSH=f"{vendor.url}/bark_secret_D4")
    assert result["bark"].status == "rejected"
    assert "bark_secret_D4" not in json.dumps(result.to_dict())
    assert "[***]" in result["bark"].error
