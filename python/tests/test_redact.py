"""redact.py: a secret is masked in every form it travels in, and a redacted plan keeps its shape."""

from __future__ import annotations

from mcp_push import plan
from mcp_push.redact import Redactor


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
