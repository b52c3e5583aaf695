"""The apprise channel: APPRISE_URLS through the Apprise library (the test extra installs it, as
mcp-push[apprise] does) to a loopback json:// server, one target result per URL, secrets of the URLs
masked; and the Node runtime, which sends through the `apprise` command when it is on PATH and otherwise
reports a config_error saying how to enable it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mcp_push import plan, send
from mcp_push.redact import Redactor, env_secrets
from mcp_push.specs import load_channels

from .local_server import Behaviour
from .mcp_helpers import REPO, child_env

BOT_TOKEN = "123456:AAmcpFakeBotTok_9f3k"
PASSWORD = "mcpFakePassw0rd"


def json_url(vendor, path: str) -> str:
    return vendor.url.replace("http://", "json://") + path


def test_apprise_delivers_to_a_json_url_on_a_loopback_server(vendor):
    result = send("Deploy", "v1.2 is live", ignore_default_config=True, APPRISE_URLS=json_url(vendor, "/notify"))
    [channel] = result
    assert (channel.channel, channel.ok, channel.status, channel.attempts) == ("apprise", True, "delivered", 1)
    [received] = vendor.received
    assert (received.method, received.path) == ("POST", "/notify")
    body = json.loads(received.body)
    assert (body["title"], body["message"]) == ("Deploy", "v1.2 is live")


def test_each_url_is_a_target_and_a_failing_one_is_reported_with_what_apprise_said(vendor):
    vendor.routes["/down"] = Behaviour(status=404, body='{"error":"no such hook"}')
    urls = f"{json_url(vendor, '/a')}, {json_url(vendor, '/down')}\n{json_url(vendor, '/b')}"
    [channel] = send("t", "c", ignore_default_config=True, APPRISE_URLS=urls)
    assert not channel.ok and channel.status == "rejected"
    assert channel.error.startswith("1 of 3 targets failed; first: ok=false, expected true: ")
    assert "404" in channel.error
    assert channel.attempts == 3  # a failed URL is not tried again: Apprise cannot say it was not delivered
    assert sorted(r.path for r in vendor.received) == ["/a", "/b", "/down"]


def test_markdown_goes_to_apprise_as_markdown(vendor):
    send("t", "**done**", ignore_default_config=True, APPRISE_URLS=json_url(vendor, "/n"), format="markdown")
    [received] = vendor.received
    assert json.loads(received.body)["message"] == "**done**"


def test_tokens_passwords_and_token_hosts_in_the_urls_are_masked():
    urls = f"tgram://{BOT_TOKEN}/987654, mailto://ops:{PASSWORD}@mail.example.org json://127.0.0.1:8080/notify"
    shown = json.dumps(plan("t", "c", env={"APPRISE_URLS": urls}))
    assert BOT_TOKEN not in shown and PASSWORD not in shown
    assert '"url": "tgram://***/***"' in shown  # the scheme stays: which service it is
    spec = load_channels()["apprise"]
    redactor = Redactor(env_secrets(spec.env, {"APPRISE_URLS": urls}))
    text = f"Telegram said: bad token {BOT_TOKEN}; SMTP AUTH failed for ops:{PASSWORD}"
    assert redactor.text(text) == "Telegram said: bad token ***; SMTP AUTH failed for ***"


def test_without_the_library_python_reports_a_config_error_naming_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "apprise", None)  # import apprise now raises ImportError
    [channel] = send("t", "c", ignore_default_config=True, APPRISE_URLS="json://127.0.0.1:9/x")
    assert channel.status == "config_error"
    assert channel.error == "the apprise channel needs the Apprise library: pip install 'mcp-push[apprise]'"


def test_an_url_apprise_does_not_know_is_a_config_error():
    [channel] = send("t", "c", ignore_default_config=True, APPRISE_URLS="nosuchservice://x/y")
    assert channel.status == "config_error" and channel.error.startswith("not an Apprise URL Apprise can use")


NODE_SEND = (
    "const { send } = require('./src');"
    "send('Deploy', 'from node', { env: { APPRISE_URLS: process.argv[1], HITOKOTO: 'false' } })"
    ".then((r) => process.stdout.write(JSON.stringify(r.channels[0])));"
)


def node_send(url: str, path: str) -> dict:
    env = {**child_env(), "PATH": path}
    out = subprocess.run(["node", "-e", NODE_SEND, url], cwd=REPO / "js", env=env, capture_output=True, text=True,
                         timeout=60, check=True)
    return json.loads(out.stdout)


def node_path(*folders: Path) -> str:
    """PATH with node's own folder, and the given ones, so `apprise` is found only where a test puts it."""
    node = Path(subprocess.run(["node", "-p", "process.execPath"], capture_output=True, text=True, check=True)
                .stdout.strip()).parent
    return os.pathsep.join(str(f) for f in (node, *folders))


def test_node_sends_through_the_apprise_command_of_this_environment(vendor):
    scripts = Path(sys.executable).parent  # where pip put the apprise command of the test extra
    assert (scripts / "apprise").exists() or (scripts / "apprise.exe").exists()
    channel = node_send(json_url(vendor, "/from-node"), node_path(scripts))
    assert (channel["ok"], channel["status"]) == (True, "delivered"), channel
    [received] = vendor.received
    assert received.path == "/from-node" and json.loads(received.body)["message"] == "from node"


def test_node_without_the_apprise_command_reports_a_config_error_saying_how_to_enable_it(vendor, tmp_path):
    channel = node_send(json_url(vendor, "/x"), node_path(tmp_path))
    assert channel["status"] == "config_error"
    assert channel["error"].startswith("the apprise channel needs the apprise command on PATH: pip install apprise")
    assert vendor.received == []


@pytest.mark.parametrize("value", ["json://h/p tgram://a:b/c", "json://h/p,tgram://a:b/c",
                                   " json://h/p ,\ttgram://a:b/c "])
def test_urls_are_split_on_white_space_and_commas(value):
    assert [r["url"] for r in plan("t", "c", env={"APPRISE_URLS": value}, redact=False)] == [
        "json://h/p", "tgram://a:b/c"]
