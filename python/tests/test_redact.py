"""redact.py: a secret is masked in every form it travels in (exception texts, reprs, vendor echoes), and a
redacted plan keeps its shape."""

from __future__ import annotations

import json

from mcp_push import plan, send
from mcp_push.redact import Redactor

from .local_server import Behaviour


def test_redactor_masks_raw_percent_encoded_and_json_escaped_forms():
    secret = 'p@ss w/"rd+1'
    redactor = Redactor([secret])
    text = f'raw={secret} url=p%40ss%20w%2F%22rd%2B1 plus=p%40ss+w%2F%22rd%2B1 json="p@ss w/\\"rd+1"'
    assert "ss w" not in redactor.text(text)
    assert redactor.text(text).count("***") == 4


def test_redacted_plan_hides_secrets_but_keeps_the_shape():
    env = {"DD_BOT_TOKEN": "tok_visible_check", "DD_BOT_SECRET": "SECdd_secret_xyz"}
    [entry] = plan("t", "c", env=env, now=1700000000.123)
    assert "tok_visible_check" not in str(entry)
    assert entry["url"].startswith("https://oapi.dingtalk.com/robot/send?access_token=***&timestamp=")


# --- secrets outside results: exception texts, reprs, redacted plans, vendor echoes (found in review) -

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
