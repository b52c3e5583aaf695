"""Markdown in (format=markdown): the parser loads only when asked for, every entry point (send, plan, the
CLI, MCP notify_send, REST /v1/messages, the engine's outbox) takes the format and refuses another in the
same words, and the spec schema's dialects are the converter's. conformance/cases/markdown/ pins the
converted bytes per channel in both runtimes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from mcp_push import plan, send
from mcp_push.markdown import DIALECTS, check_format, render, render_title
from mcp_push.specs import channel_schema

from .local_server import Behaviour
from .mcp_helpers import REPO, child_env, http_server

TELEGRAM_OK = '{"ok":true,"result":{"message_id":7,"chat":{"id":1,"type":"private"},"date":1700000000}}'


def telegram_env(vendor) -> dict[str, str]:
    return {"TG_BOT_TOKEN": "123:tok_markdown_tests", "TG_USER_ID": "42", "TG_API_HOST": vendor.url}


def test_a_plain_send_never_imports_the_markdown_parser_and_a_markdown_plan_does():
    script = (
        "import sys\n"
        "from notify import send\n"
        "from mcp_push import plan\n"
        "env = {'NTFY_TOPIC': 't'}\n"
        "plan('t', 'c', env=env)\n"
        "before = 'markdown_it' in sys.modules\n"
        "plan('t', '**c**', env=env, format='markdown')\n"
        "print(before, 'markdown_it' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO / "python", env=child_env(), capture_output=True,
                         text=True, timeout=60, check=True)
    assert out.stdout.split() == ["False", "True"]


def test_the_schema_offers_exactly_the_converters_dialects():
    assert tuple(channel_schema()["properties"]["markdown"]["enum"]) == DIALECTS


@pytest.mark.parametrize("value", ["html", "Markdown", 1])
def test_another_format_is_refused_in_one_wording(value):
    with pytest.raises(ValueError, match="^format: must be text or markdown$"):
        check_format(value)
    with pytest.raises(ValueError, match="^format: must be text or markdown$"):
        plan("t", "c", env={"NTFY_TOPIC": "t"}, format=value)
    with pytest.raises(ValueError, match="^format: must be text or markdown$"):
        send("t", "c", ignore_default_config=True, NTFY_TOPIC="t", format=value)


def test_text_is_the_default_and_sends_the_content_as_it_is():
    env = {"TG_BOT_TOKEN": "1:x", "TG_USER_ID": "2"}
    assert plan("t", "**c** <b>", env=env) == plan("t", "**c** <b>", env=env, format="text")
    assert '"text":"t\\n\\n**c** <b>"' in plan("t", "**c** <b>", env=env)[0]["body"]


def test_raw_html_is_text_in_every_dialect():
    for dialect in DIALECTS:
        out = render("<script>alert(1)</script> <b>x</b>", dialect)
        assert "<script>" not in out and "<b>" not in out or dialect == "text", (dialect, out)
    assert render("<b>x</b>", "text") == "<b>x</b>"  # plain text has no markup to escape


def test_a_title_is_escaped_to_read_as_text():
    assert render_title("a <b> & *c*", "telegram_html") == "a &lt;b&gt; &amp; *c*"
    assert render_title("a <b> & *c*", "markdown") == "a \\<b\\> \\& \\*c\\*"
    assert render_title("a <b> & *c*", "text") == "a <b> & *c*"


def test_send_delivers_telegram_html_with_parse_mode(vendor):
    vendor.routes["/bot"] = Behaviour(body=TELEGRAM_OK)
    result = send("Build", "**done** in `3 s`", ignore_default_config=True, format="markdown",
                  **telegram_env(vendor))
    assert result and result["telegram"].ok
    [body] = vendor.json_bodies()
    assert body["text"] == "Build\n\n<b>done</b> in <code>3 s</code>" and body["parse_mode"] == "HTML"


def test_the_cli_sends_markdown_and_refuses_another_format(vendor):
    vendor.routes["/bot"] = Behaviour(body=TELEGRAM_OK)
    run = subprocess.run([sys.executable, "-m", "mcp_push", "send", "Build", "*ok*", "--format", "markdown"],
                         env=child_env(telegram_env(vendor)), cwd=REPO, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert vendor.json_bodies()[0]["text"] == "Build\n\n<i>ok</i>"
    bad = subprocess.run([sys.executable, "-m", "mcp_push", "send", "t", "c", "--format", "html"],
                         env=child_env(telegram_env(vendor)), cwd=REPO, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "--format" in bad.stderr and len(vendor.received) == 1


def test_rest_and_mcp_take_format_markdown_through_the_engine(vendor):
    import httpx2

    vendor.routes["/bot"] = Behaviour(body=TELEGRAM_OK)
    token = "rest-token-markdown-0f3a"
    auth = {"Authorization": f"Bearer {token}"}
    with http_server({**telegram_env(vendor), "MCP_PUSH_HTTP_TOKEN": token}) as url, httpx2.Client(timeout=70) as c:
        rest = url.removesuffix("/mcp") + "/v1/messages?wait=true"
        answer = c.post(rest, json={"title": "Deploy", "content": "- [log](https://ci.example.org/7)",
                                    "format": "markdown"}, headers=auth)
        assert answer.status_code == 200 and answer.json()["ok"], answer.text
        refused = c.post(rest, json={"title": "t", "content": "c", "format": "html"}, headers=auth)
        assert refused.status_code == 400 and refused.json()["error"].startswith("format: ")
        call = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
            "name": "notify_send", "arguments": {"title": "t", "content": "~~old~~ new", "format": "markdown",
                                                 "wait": True}}}
        mcp = c.post(url, json=call, headers={**auth, "Accept": "application/json, text/event-stream"})
        text = mcp.text
        payload = json.loads(text[text.index("{"):]) if not text.startswith("{") else mcp.json()
        assert payload["result"]["structuredContent"]["ok"] is True
    bodies = vendor.json_bodies()
    assert [b["text"] for b in bodies] == [
        'Deploy\n\n• <a href="https://ci.example.org/7">log</a>', "t\n\n<s>old</s> new"]
    assert {b["parse_mode"] for b in bodies} == {"HTML"}


def test_the_outbox_keeps_a_deliverys_format(tmp_path):
    from mcp_push.service.delivery import FORMAT_KEY, loaded_params, stored_params
    from mcp_push.service.outbox import Outbox

    assert stored_params({"a": 1}, "text") == {"a": 1}
    assert loaded_params(stored_params({"a": 1}, "markdown")) == ({"a": 1}, "markdown")
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    outbox.add("lane", "telegram", "message", None, "t", "**c**", stored_params({}, "markdown"))
    outbox.close()
    [delivery] = Outbox(tmp_path / "outbox.sqlite3").adopt()
    assert (delivery.format, delivery.params, FORMAT_KEY not in delivery.params) == ("markdown", {}, True)
