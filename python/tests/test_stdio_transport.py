"""The stdio transport (stdio_transport.py) as an MCP host uses it: `python -m mcp_push` with raw
JSON-RPC lines on its stdin. Every request line gets exactly one answer, also when it is not valid
JSON or not a JSON-RPC message, and also when stdin closes while requests are still being served."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from mcp_push.service.stdio_transport import parse_line

from .local_server import Behaviour
from .mcp_helpers import REPO, child_env, webhook_env

INITIALIZE = {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
    "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}}
INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}


def call(request_id: int, arguments: str) -> str:
    """A tools/call line whose arguments are given as raw JSON text (it may be malformed on purpose)."""
    head = f'{{"jsonrpc":"2.0","id":{request_id},"method":"tools/call","params":{{"name":"notify_send",'
    return head + f'"arguments":{arguments}}}}}'



def run_session(vendor, lines: list[bytes]) -> tuple[list[dict], str]:
    """Writes the handshake and `lines`, closes stdin at once, and returns every stdout message."""
    wire = b"".join(line + b"\n" for line in
                    [json.dumps(INITIALIZE).encode(), json.dumps(INITIALIZED).encode(), *lines])
    done = subprocess.run([sys.executable, "-m", "mcp_push"], input=wire, capture_output=True, cwd=REPO,
                          env=child_env(webhook_env(vendor)), timeout=120)
    answers = [json.loads(line) for line in done.stdout.splitlines()]
    return answers, done.stderr.decode(errors="replace")


def test_requests_in_flight_when_stdin_closes_are_all_answered(vendor):
    vendor.routes["/hook"] = Behaviour(delay_s=0.3, body="ok")
    lines = [call(1, '{"title":"one","content":"c","wait":true}').encode(),
             call(2, '{"title":"two","content":"c","wait":true}').encode()]
    answers, stderr = run_session(vendor, lines)
    by_id = {a["id"]: a for a in answers}
    assert sorted(by_id) == [0, 1, 2], stderr
    for request_id in (1, 2):
        assert by_id[request_id]["result"]["structuredContent"]["delivered"] == 1
    assert sorted(body["title"] for body in vendor.json_bodies()) == ["one", "two"]


def test_every_line_gets_an_answer_even_when_the_sdk_could_not_parse_it(vendor):
    cases = {
        # request id -> the line (ids of malformed lines are recovered from the text)
        1: call(1, '{"title":"\\ud800 lone surrogate","content":"c"}'),
        2: call(2, '{"title":"t","content":"c","wait":' + "9" * 5000 + "}"),
        3: call(3, '{"title":"t","content":"c","x":' + "[" * 300 + "]" * 300 + "}"),
        4: call(4, '{"title":"t","content":"c","x":' + "[" * 100000 + "]" * 100000 + "}"),
        5: '{"jsonrpc":"2.0","id":5, this is not json',
        6: '{"jsonrpc":"1.0","id":6,"method":"tools/list"}',
        7: '{"jsonrpc":"2.0","id":7,"method":"tools/list"}',
    }
    anonymous = [b"[]", b"42", b"\xff\xfe not utf-8 {"]  # nothing says which request: answered with id null
    answers, stderr = run_session(vendor, [line.encode() for line in cases.values()] + anonymous)
    by_id: dict = {}
    for answer in answers:
        by_id.setdefault(answer["id"], []).append(answer)
    assert sorted(k for k in by_id if k is not None) == [0, *cases], stderr
    assert all(len(v) == 1 for k, v in by_id.items() if k is not None)
    assert len(by_id[None]) == len(anonymous)
    assert {a["error"]["code"] for a in by_id[None]} == {-32600, -32700}
    answer = {k: v[0] for k, v in by_id.items() if k is not None}
    assert answer[1]["result"]["isError"] is False  # the surrogate became U+FFFD and the message went out
    assert "wait: must be a boolean" in answer[2]["result"]["content"][0]["text"]
    assert "x: not an argument" in answer[3]["result"]["content"][0]["text"]
    assert answer[4]["error"]["code"] == -32700 and answer[5]["error"]["code"] == -32700
    assert answer[6]["error"]["code"] == -32600
    assert {t["name"] for t in answer[7]["result"]["tools"]} == {"notify_send", "notify_event", "notify_ask",
                                                                 "notify_answer", "notify_status"}
    assert [body["title"] for body in vendor.json_bodies()] == ["\ufffd lone surrogate"]
    for message in answers:
        assert "pydantic" not in json.dumps(message)


@pytest.mark.parametrize(
    ("line", "code"),
    [(b"not json", -32700), (b'{"a":1}', -32600), (b'{"jsonrpc":"2.0","id":true,"method":"x"}', -32600)],
)
def test_parse_line_answers_what_is_not_a_message(line, code):
    message, error = parse_line(line)
    assert message is None
    reply = json.loads(error)
    assert (reply["jsonrpc"], reply["id"], reply["error"]["code"]) == ("2.0", None, code)


def test_parse_line_passes_messages_and_skips_blank_lines():
    message, error = parse_line(b'{"jsonrpc":"2.0","id":"a","method":"tools/list"}\r\n')
    assert error is None and message.message.id == "a"
    assert parse_line(b"  \n") == (None, None)
