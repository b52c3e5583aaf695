"""`mcp-push serve --transport http` as a hostile network sees it (http_app.py): real server processes,
real HTTP to loopback addresses (httpx2 and raw sockets). Host and Origin checks on every bind, the
bearer scheme in any case, a bounded body, no hanging GET, half-sent requests that cannot starve real
ones, and a taken port reported before anything says "serving"."""

from __future__ import annotations

import socket
import subprocess
import sys

import httpx2
import pytest

from mcp_push.service.http_app import DEFAULT_PORT, Guard, HttpSettings

from .mcp_helpers import REPO, child_env, free_port, http_server, webhook_env

INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
ACCEPT = {"Accept": "application/json, text/event-stream"}
TOKEN = "http-token-for-tests-0b7d"


def post(url: str, headers: dict[str, str] | None = None, **kwargs) -> httpx2.Response:
    with httpx2.Client(timeout=20) as client:
        return client.post(url, json=kwargs.pop("json", INITIALIZE), headers={**ACCEPT, **(headers or {})}, **kwargs)


def test_origin_present_and_not_allowed_is_403_loopback_and_listed_origins_pass(vendor):
    extra = {**webhook_env(vendor), "MCP_PUSH_HTTP_ORIGINS": "https://app.example.com, http://tool.example:8080/"}
    with http_server(extra) as url:
        for origin in ("http://evil.test", "null", "https://app.example.com.evil.test", "http://tool.example"):
            denied = post(url, {"Origin": origin})
            assert denied.status_code == 403, origin
            assert "MCP_PUSH_HTTP_ORIGINS" in denied.json()["error"]["message"]
        for origin in ("http://localhost:5173", "http://127.0.0.1:3000", "http://[::1]:1", "https://APP.example.com",
                       "http://tool.example:8080"):
            assert post(url, {"Origin": origin}).status_code == 200, origin
        assert post(url).status_code == 200  # no Origin: not a browser


def test_host_must_name_the_server_or_an_allowed_name(vendor):
    with http_server({**webhook_env(vendor), "MCP_PUSH_HTTP_HOSTS": "mcp.internal"}) as url:
        port = url.split(":")[2].split("/")[0]
        assert post(url, {"Host": f"evil.test:{port}"}).status_code == 421
        assert post(url, {"Host": "10.0.0.1"}).status_code == 421  # an address this server is not bound to
        for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"mcp.internal:{port}", "MCP.internal."):
            assert post(url, {"Host": host}).status_code == 200, host


@pytest.mark.parametrize("bind", ["127.0.0.2", "0.0.0.0"])  # noqa: S104 - the point of the test
def test_every_bind_checks_host_and_origin(vendor, bind):
    token = {"MCP_PUSH_HTTP_TOKEN": TOKEN} if bind == "0.0.0.0" else {}  # noqa: S104
    auth = {"Authorization": f"Bearer {TOKEN}"} if token else {}
    connect = "127.0.0.2" if bind == "127.0.0.2" else "127.0.0.1"
    with http_server({**webhook_env(vendor), **token}, host=bind, connect=connect) as url:
        assert post(url, {**auth, "Host": "evil.test", "Origin": "http://evil.test"}).status_code == 421
        assert post(url, {**auth, "Origin": "http://evil.test"}).status_code == 403
        assert post(url, auth).status_code == 200
        if bind == "0.0.0.0":  # noqa: S104
            # Reached by any of the machine's addresses: an IP literal is no rebinding attack.
            assert post(url, {**auth, "Host": "192.0.2.7:1"}).status_code == 200


def test_the_bearer_scheme_is_case_insensitive(vendor):
    with http_server({**webhook_env(vendor), "MCP_PUSH_HTTP_TOKEN": TOKEN}) as url:
        for scheme in ("Bearer", "bearer", "BEARER"):
            assert post(url, {"Authorization": f"{scheme} {TOKEN}"}).status_code == 200, scheme
        for value in ("Basic " + TOKEN, TOKEN, "Bearer", f"Bearer {TOKEN}x"):
            denied = post(url, {"Authorization": value})
            assert denied.status_code == 401 and TOKEN not in denied.text


def test_a_body_over_the_limit_is_413(vendor):
    with http_server(webhook_env(vendor)) as url:
        big = {**INITIALIZE, "params": {**INITIALIZE["params"], "pad": "x" * (1024 * 1024)}}
        assert post(url, json=big).status_code == 413
    with http_server({**webhook_env(vendor), "MCP_PUSH_HTTP_MAX_BODY": "2000"}) as url:
        small = {**INITIALIZE, "params": {**INITIALIZE["params"], "pad": "x" * 2000}}
        assert post(url, json=small).status_code == 413
        assert post(url).status_code == 200


def test_get_on_the_endpoint_is_answered_405_not_held_open(vendor):
    with http_server(webhook_env(vendor)) as url, httpx2.Client(timeout=20) as client:
        # Streamed: only the status and headers are awaited (before, they came, then pings forever).
        with client.stream("GET", url, headers={"Accept": "text/event-stream"}) as answer:
            status, allow = answer.status_code, answer.headers.get("allow")
    assert (status, allow) == (405, "POST")


def test_half_sent_requests_time_out_and_a_connection_cap_keeps_room_for_real_ones(vendor):
    extra = {**webhook_env(vendor), "MCP_PUSH_HTTP_HEADER_TIMEOUT": "1", "MCP_PUSH_HTTP_MAX_CONNECTIONS": "20"}
    with http_server(extra) as url:
        port = int(url.split(":")[2].split("/")[0])
        stalled = []
        for _ in range(50):
            sock = socket.create_connection(("127.0.0.1", port), timeout=20)
            sock.sendall(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: appl")  # and never more
            stalled.append(sock)
        answers = []
        for sock in stalled:
            with sock:
                received = b""
                while chunk := sock.recv(4096):  # the server must end every one of them (timeout: 20 s)
                    received += chunk
                answers.append(received.split(b"\r\n", 1)[0])
        assert set(answers) <= {b"HTTP/1.1 503 Service Unavailable", b"HTTP/1.1 408 Request Timeout"}
        assert answers.count(b"HTTP/1.1 503 Service Unavailable") >= 30  # over the cap: refused at once
        assert post(url).status_code == 200


def test_a_taken_port_exits_2_with_one_line_and_no_serving_line():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "mcp_push", "serve", "--transport", "http", "--port", str(port)],
                              capture_output=True, text=True, cwd=REPO, env=child_env(), timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"mcp-push: error: port {port} on 127.0.0.1 is in use: stop what uses it or choose another with --port"]
    assert done.stdout == ""


@pytest.mark.parametrize("flags", [["--port", "9000"], ["--host", "127.0.0.1"],
                                   ["--transport", "stdio", "--path", "/x"]])
def test_http_flags_without_http_transport_are_an_error(flags):
    done = subprocess.run([sys.executable, "-m", "mcp_push", "serve", *flags], capture_output=True, text=True,
                          cwd=REPO, env=child_env(), timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"mcp-push: error: {flags[-2]} applies to --transport http only (stdio has no address)"]


@pytest.mark.parametrize(
    ("name", "value", "rule"),
    [("MCP_PUSH_HTTP_MAX_BODY", "1.5", ": must be an integer of at least 1"),
     ("MCP_PUSH_HTTP_HEADER_TIMEOUT", "0", ": must be a number of seconds above 0"),
     ("MCP_PUSH_HTTP_MAX_CONNECTIONS", "-2", ": must be an integer of at least 1"),
     ("MCP_PUSH_HTTP_ORIGINS", "evil.test", "is not an origin")],
)
def test_bad_http_settings_exit_2_naming_the_variable(name, value, rule):
    done = subprocess.run([sys.executable, "-m", "mcp_push", "serve", "--transport", "http", "--port",
                           str(free_port())], capture_output=True, text=True, cwd=REPO,
                          env=child_env({name: value}), timeout=60)
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert line.startswith(f"mcp-push: error: {name}") and rule in line and "ConfigError" not in line


def test_the_default_port_is_the_documented_one():
    docs = (REPO / "docs" / "MCP_INTEGRATION.md").read_text(encoding="utf-8")
    help_text = subprocess.run([sys.executable, "-m", "mcp_push", "serve", "--help"], capture_output=True,
                               text=True, cwd=REPO, env=child_env(), timeout=60).stdout
    assert DEFAULT_PORT == 8765
    assert f"default {DEFAULT_PORT}" in help_text
    assert f"port (default {DEFAULT_PORT})" in docs or f"default port is {DEFAULT_PORT}" in docs


def test_guard_host_rules_without_a_server():
    loopback = Guard(None, HttpSettings(host="127.0.0.2", port=1, path="/mcp"))
    assert loopback.host_allowed("127.0.0.2:1") and loopback.host_allowed("[::1]:1")
    assert not loopback.host_allowed("evil.test") and not loopback.host_allowed(None)
    wildcard = Guard(None, HttpSettings(host="::", port=1, path="/mcp", hosts=frozenset({"box.lan"})))
    assert wildcard.host_allowed("[2001:db8::1]:8765") and wildcard.host_allowed("box.lan")
    assert not wildcard.host_allowed("evil.test:8765")


@pytest.mark.parametrize("transport", ["stdio", "http"])
def test_an_unusable_state_folder_is_one_line_naming_the_variable_not_an_exception_class(tmp_path, transport):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    done = subprocess.run([sys.executable, "-m", "mcp_push", "serve", "--transport", transport], capture_output=True,
                          text=True, cwd=REPO, env=child_env({"MCP_PUSH_STATE_DIR": str(blocker / "state")}),
                          timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert line.startswith(f"mcp-push: error: cannot keep the outbox in {blocker / 'state'} (MCP_PUSH_STATE_DIR): ")
    assert "Error:" not in line and "serving" not in done.stderr
