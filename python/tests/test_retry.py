"""retry.py's rule: a request the vendor may already have is never sent twice (spec/README.md, "Retries"),
against real loopback servers: a vendor that reads the whole request and closes, a 200 reply cut short. And a
proxy that accepts and never answers is a timeout, in a process that then exits (Node's twin:
js/test/stuck_proxy.test.js)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading

import pytest

from mcp_push import send

from .local_server import Behaviour

AFTER_WRITE = "connection closed after the request was sent; the message may have been delivered"


def gotify_env(vendor) -> dict[str, str]:
    return {"GOTIFY_URL": vendor.url, "GOTIFY_TOKEN": "gotify_tok_lost"}


@pytest.mark.parametrize("behaviour", [Behaviour(close=True), Behaviour(cut=True)], ids=["closed", "cut"])
def test_a_post_whose_reply_was_lost_is_sent_once_and_says_it_may_have_arrived(vendor, fake_retry_pace, behaviour):
    vendor.routes["/"] = behaviour
    result = send("t", "c", **gotify_env(vendor))["gotify"]
    assert len(vendor.received) == 1
    assert (result.ok, result.status, result.attempts, result.http_status) == (False, "network_error", 1, None)
    assert result.error.startswith(f"{AFTER_WRITE} (POST ")
    assert "gotify_tok_lost" not in result.error and "tries" not in result.error
    assert fake_retry_pace == []


def test_a_refused_connection_is_still_retried(fake_retry_pace):
    with socket.socket() as probe:  # a port nobody listens on: bound, then released
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = send("t", "c", GOTIFY_URL=f"http://127.0.0.1:{port}", GOTIFY_TOKEN="gotify_tok_lost")["gotify"]
    assert (result.status, result.attempts) == ("network_error", 4)
    assert result.error.startswith("connection refused (POST ") and result.error.endswith("(after 4 tries)")
    assert fake_retry_pace == [1, 2, 4]


@pytest.mark.parametrize("behaviour", [Behaviour(close=True), Behaviour(cut=True)], ids=["closed", "cut"])
def test_matrix_retries_a_lost_reply_with_the_same_txn_id(vendor, fake_retry_pace, behaviour):
    vendor.script = [behaviour]
    vendor.routes["/"] = Behaviour(body='{"event_id":"$e1"}')
    result = send("t", "c", MATRIX_HOMESERVER=vendor.url, MATRIX_ACCESS_TOKEN="syt_lost", MATRIX_ROOM_ID="!r:x")
    assert (result["matrix"].ok, result["matrix"].attempts) == (True, 2)
    first, second = vendor.received
    assert (first.method, first.path, first.body) == (second.method, second.path, second.body)
    assert "/send/m.room.message/mcp-push-" in first.path
    assert fake_retry_pace == [1]


@pytest.fixture
def stuck_proxy():
    """Accepts connections and never answers, nor reads: a proxy that hung."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept():
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


SEND_AND_REPORT = """
import json, sys
from mcp_push import send
result = send("t", "c", **json.loads(sys.argv[1]))
print(json.dumps({c.channel: [c.status, c.error] for c in result.channels}))
"""


@pytest.mark.parametrize("through", ["TG_PROXY", "HTTPS_PROXY", "HTTP_PROXY"])
def test_a_proxy_that_never_answers_is_a_timeout_and_the_process_exits(stuck_proxy, through):
    # Telegram through TG_PROXY_HOST/PORT (a spec-named proxy, a CONNECT tunnel to api.telegram.org),
    # ntfy over https through the environment's proxy (CONNECT), gotify over plain http (forwarded).
    env = {"HITOKOTO": "false", "MCP_PUSH_TIMEOUT": "1"}
    proxy_env = {}
    if through == "TG_PROXY":
        env.update(TG_BOT_TOKEN="1:tg_tok", TG_USER_ID="1", TG_PROXY_HOST="127.0.0.1", TG_PROXY_PORT=str(stuck_proxy))
        channel = "telegram"
    elif through == "HTTPS_PROXY":
        env.update(NTFY_URL="https://ntfy.example.test", NTFY_TOPIC="t")
        channel, proxy_env = "ntfy", {"HTTPS_PROXY": f"http://127.0.0.1:{stuck_proxy}"}
    else:
        env.update(GOTIFY_URL="http://gotify.example.test", GOTIFY_TOKEN="g")
        channel, proxy_env = "gotify", {"HTTP_PROXY": f"http://127.0.0.1:{stuck_proxy}"}
    # A bound far above the timeout: this checks that the process ends at all, not how fast.
    child = subprocess.run(
        [sys.executable, "-c", SEND_AND_REPORT, json.dumps(env)], capture_output=True, text=True, timeout=20,
        env={"PATH": "/usr/bin:/bin", "MCP_PUSH_STATE_DIR": "/nonexistent-unused", **proxy_env},
    )
    assert child.returncode == 0, child.stderr
    assert json.loads(child.stdout) == {channel: ["timeout", "no reply within 1 s"]}


@pytest.fixture
def refusing_proxy():
    """Answers every CONNECT with 407: the tunnel was never opened, so nothing reached the vendor."""
    server = socket.create_server(("127.0.0.1", 0))
    connects: list[bytes] = []

    def serve():
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                head = b""
                while b"\r\n\r\n" not in head and (chunk := conn.recv(4096)):
                    head += chunk
                connects.append(head.split(b" ")[:2])
                conn.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n")

    threading.Thread(target=serve, daemon=True).start()
    yield server.getsockname()[1], connects
    server.close()


def test_a_proxy_that_refuses_the_tunnel_never_reached_the_vendor_so_it_is_retried(
    refusing_proxy, monkeypatch, fake_retry_pace
):
    port, connects = refusing_proxy
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{port}")
    result = send("t", "c", NTFY_URL="https://ntfy.example.test", NTFY_TOPIC="t")["ntfy"]
    assert (result.status, result.attempts) == ("network_error", 4)
    assert result.error == "connection failed (POST https://ntfy.example.test/t) (after 4 tries)"
    assert connects == [[b"CONNECT", b"ntfy.example.test:443"]] * 4


def test_the_retry_attempts_override_is_read_through_config_setting_as_retry_js_reads_it():
    from mcp_push.config import ConfigError
    from mcp_push.retry import RetryPolicy, attempts_override
    from mcp_push.specs import load_channels

    assert (attempts_override({}), attempts_override({"MCP_PUSH_RETRY_ATTEMPTS": " 2 "})) == (None, 2)
    webhook = load_channels()["webhook"]
    assert (RetryPolicy.for_spec(webhook, 1).attempts, RetryPolicy.for_spec(webhook).attempts) == (1, 4)
    for bad in ("0", "1.5", "x", "+2", "\u00a02"):
        with pytest.raises(ConfigError, match=r"^MCP_PUSH_RETRY_ATTEMPTS: must be an integer of at least 1$"):
            attempts_override({"MCP_PUSH_RETRY_ATTEMPTS": bad})
