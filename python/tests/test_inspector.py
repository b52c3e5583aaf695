"""The MCP Inspector CLI (@modelcontextprotocol/inspector 0.15.0, a devDependency in js/) as an
independent client, built on the TypeScript SDK: it starts `python -m mcp_push` over stdio (and once
over streamable HTTP) and prints each answer as JSON.

    python -m pytest python/tests/test_inspector.py -m inspector -q -p no:cacheprovider

Without js/node_modules these skip, saying why; with MCP_PUSH_REQUIRE_NODE=1 (set by `nox -s
tests` after `npm ci`) that is a failure instead. With js/node_modules present, a missing
inspector or node is always a failure: `npm ci` installs it.

Inspector 0.15.0 exit codes: 0 for any tools/call result, an `isError` one included; 1 for a JSON-RPC
error (an unknown tool) or a failure to connect.

The binary is `mcp-inspector-cli` (the inspector-cli package inside 0.15.0): the top-level
`mcp-inspector` wrapper imports `commander` without declaring it, and in js/ npm hoists nunjucks'
commander 5 there, so the wrapper dies with "allowExcessArguments is not a function". The CLI itself
(the same build/cli.js, with commander 13 in its own node_modules) is what `mcp-inspector --cli` runs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from .mcp_helpers import REPO, child_env, http_server, webhook_env

pytestmark = pytest.mark.inspector

NODE_MODULES = REPO / "js" / "node_modules"
INSPECTOR = NODE_MODULES / ".bin" / "mcp-inspector-cli"


@pytest.fixture(scope="module")
def inspector() -> str:
    if not NODE_MODULES.is_dir():
        reason = "js/node_modules is missing: run `npm ci` in js/ for the MCP Inspector tests"
        if os.environ.get("MCP_PUSH_REQUIRE_NODE", "") not in ("", "0"):
            pytest.fail(f"MCP_PUSH_REQUIRE_NODE is set but {reason}")
        pytest.skip(reason)
    if shutil.which("node") is None:
        pytest.fail("js/node_modules is there but node is not on PATH")
    if not INSPECTOR.exists():
        pytest.fail(f"{INSPECTOR} is missing: run `npm ci` in js/ (the inspector is a devDependency)")
    return str(INSPECTOR)


def run(inspector: str, env: dict[str, str], *method: str, target: list[str] | None = None):
    """Runs the inspector CLI against `python -m mcp_push` (or `target`); returns (exit code, stdout,
    stderr). Channel settings go through the inspector's own `-e KEY=VALUE`."""
    settings = [arg for name, value in env.items() for arg in ("-e", f"{name}={value}")]
    server = target or [*settings, sys.executable, "-m", "mcp_push"]
    process = subprocess.run(
        [inspector, "--cli", *server, *method], env=child_env(), cwd=REPO, capture_output=True, text=True,
        timeout=60,
    )
    return process.returncode, process.stdout, process.stderr


def arrived(vendor, count: int, timeout: float = 30.0) -> None:
    """Returns once the vendor has `count` requests, or after `timeout` (the assertion then says what is
    missing). Without wait=true the tool answers `queued` and the inspector stops the server as it exits:
    the server delivers while it drains, which on a busy machine can end after the inspector has exited."""
    deadline = time.monotonic() + timeout
    while len(vendor.received) < count and time.monotonic() < deadline:
        time.sleep(0.05)


def call(inspector: str, env: dict[str, str], tool: str, *arguments: str):
    args = [arg for argument in arguments for arg in ("--tool-arg", argument)]
    return run(inspector, env, "--method", "tools/call", "--tool-name", tool, *args)


def test_tools_list(inspector):
    code, out, err = run(inspector, {"HITOKOTO": "false"}, "--method", "tools/list")
    assert code == 0, err
    tools = {tool["name"]: tool for tool in json.loads(out)["tools"]}
    assert set(tools) == {"notify_send", "notify_event", "notify_ask", "notify_answer", "notify_status"}
    assert tools["notify_event"]["annotations"] == {
        "title": "Report a run event", "readOnlyHint": False, "destructiveHint": False, "idempotentHint": False,
        "openWorldHint": True,
    }
    assert "outputSchema" in tools["notify_send"]


def test_tools_list_dotted_and_per_channel(inspector, vendor):
    env = {"HITOKOTO": "false", "MCP_PUSH_TOOL_NAMES": "dotted", "MCP_PUSH_CHANNEL_TOOLS": "true",
           **webhook_env(vendor)}
    code, out, err = run(inspector, env, "--method", "tools/list")
    assert code == 0, err
    assert {tool["name"] for tool in json.loads(out)["tools"]} == {"notify.send", "notify.event",
                                                                    "notify.ask", "notify.answer", "notify.status",
                                                                    "notify.channel.webhook"}


def test_notify_event_is_delivered(inspector, vendor):
    code, out, err = call(inspector, {"HITOKOTO": "false", **webhook_env(vendor)}, "notify_event",
                          "run_id=etl-3", "event=update", "message=loaded 2 of 4 tables",
                          'data={"step":"load","progress":0.5}', "wait=true")
    assert code == 0, err
    result = json.loads(out)
    assert result["isError"] is False
    assert result["structuredContent"]["channels"][0]["status"] == "delivered"
    assert result["content"][0]["text"] == "1 of 1 channel delivered: webhook"
    [body] = vendor.json_bodies()
    assert "etl-3" in body["title"] and "50%" in body["title"]
    assert "loaded 2 of 4 tables" in body["content"] and "load" in body["content"]


def test_dotted_notify_send_is_delivered(inspector, vendor):
    code, out, err = call(inspector, {"HITOKOTO": "false", **webhook_env(vendor)}, "notify.send",
                          "title=Backup", "content=finished in 3 min")
    assert code == 0, err
    assert json.loads(out)["isError"] is False
    arrived(vendor, 1)
    assert vendor.json_bodies() == [{"title": "Backup", "content": "finished in 3 min"}]


def test_an_invalid_envelope_is_an_error_result_naming_the_field(inspector, vendor):
    code, out, err = call(inspector, {"HITOKOTO": "false", **webhook_env(vendor)}, "notify_event",
                          "run_id=r1", "event=update", "message=m", 'data={"progress":1.5}')
    assert code == 0, err  # 0.15.0 exits 0 for an isError result
    result = json.loads(out)
    assert result["isError"] is True
    assert result["content"][0]["text"] == (
        "Error executing tool notify_event: invalid event: data.progress: must be at most 1")
    assert vendor.received == []


def test_an_unknown_tool_is_a_protocol_error(inspector, vendor):
    code, out, err = call(inspector, {"HITOKOTO": "false", **webhook_env(vendor)}, "notify.nothing",
                          "title=t", "content=c")
    assert code == 1  # a JSON-RPC error, not a result
    assert "MCP error -32602: Unknown tool: notify.nothing" in err
    assert out == ""
    assert vendor.received == []


def test_streamable_http(inspector, vendor):
    with http_server(webhook_env(vendor)) as url:
        code, out, err = run(inspector, {}, "--transport", "http", "--method", "tools/call",
                             "--tool-name", "notify_send", "--tool-arg", "title=over http",
                             "--tool-arg", "content=via the inspector", "--tool-arg", "wait=true", target=[url])
    assert code == 0, err
    assert json.loads(out)["structuredContent"]["delivered"] == 1
    assert vendor.json_bodies() == [{"title": "over http", "content": "via the inspector"}]
