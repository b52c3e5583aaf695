"""Shared by the MCP tests: channels pointed at the local vendor server, and mcp-push run as a process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SERVER_VARS = ("MCP_PUSH_TOOL_NAMES", "MCP_PUSH_CHANNEL_TOOLS", "MCP_PUSH_HTTP_TOKEN", "MCP_PUSH_HTTP_ORIGINS",
               "MCP_PUSH_HTTP_HOSTS", "MCP_PUSH_HTTP_MAX_BODY", "MCP_PUSH_HTTP_HEADER_TIMEOUT",
               "MCP_PUSH_HTTP_IDLE_TIMEOUT", "MCP_PUSH_HTTP_MAX_CONNECTIONS")


# Engines the in-process servers of the running test own; conftest stops them when the test ends.
OWNED_ENGINES: list = []


def in_process_server(env: Mapping[str, str] | None = None):
    """create_server as `mcp-push serve` builds it (lifecycle.py): over an engine its owner (this test)
    started; the `stop_owned_engines` fixture stops it after the test."""
    from mcp_push.config import agent_defaults
    from mcp_push.service.lifecycle import open_engine
    from mcp_push.service.server import create_server

    engine = open_engine(agent_defaults(os.environ if env is None else env)).start()
    OWNED_ENGINES.append(engine)
    return create_server(env, engine=engine)


def webhook_env(vendor, path: str = "/hook") -> dict[str, str]:
    """The custom webhook posting {"title": …, "content": …} as JSON to the vendor server."""
    return {
        "WEBHOOK_URL": f"{vendor.url}{path}",
        "WEBHOOK_CONTENT_TYPE": "application/json",
        "WEBHOOK_BODY": "title: $title\ncontent: $content",
    }


def ntfy_env(vendor, topic: str = "alerts") -> dict[str, str]:
    return {"NTFY_URL": vendor.url, "NTFY_TOPIC": topic}


def child_env(extra: Mapping[str, str] = {}) -> dict[str, str]:  # noqa: B006 - never mutated
    """The (already isolated) test environment for a child process, no hitokoto, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if k not in SERVER_VARS}
    env.update({"HITOKOTO": "false", "PYTHONUNBUFFERED": "1"}, **extra)
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def listens_on(pid: int, port: int) -> bool | None:
    """Whether process `pid` holds the listening TCP socket on `port` (Linux: /proc); None where that cannot be
    told. free_port's port may be taken by another test's server (another xdist worker) before the child binds
    it: a connection alone would then reach that server instead."""
    inodes = set()
    try:
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                    inodes.add(f"socket:[{fields[9]}]")
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return None
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") in inodes:
                return True
        except OSError:
            continue
    return False


def _start_http_server(extra: Mapping[str, str], timeout: float, host: str,
                       connect: str) -> tuple[subprocess.Popen, int]:
    """The server process listening on a free port; a port another process took meanwhile is given up for a
    new one (the server that could not bind it exits)."""
    for _ in range(5):
        port = free_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "mcp_push", "serve", "--transport", "http", "--host", host, "--port", str(port)],
            env=child_env(extra), stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO,
        )
        deadline = time.monotonic() + timeout
        taken = False
        while True:
            if process.poll() is not None:
                stderr = process.stderr.read().decode()
                if taken or "in use" in stderr:
                    break  # the port went to another process: try another
                raise RuntimeError(f"server exited with {process.returncode}: {stderr}")
            try:
                socket.create_connection((connect, port), timeout=0.5).close()
                owner = listens_on(process.pid, port)
                if owner is not False:
                    return process, port
                taken = True  # someone else listens there; ours will fail to bind and exit
            except OSError:
                pass
            if time.monotonic() > deadline:
                process.kill()
                process.wait()
                raise RuntimeError("the HTTP server did not start listening")
            time.sleep(0.05)
    raise RuntimeError("no free port could be bound in 5 tries")


@contextmanager
def http_server(extra: Mapping[str, str] = {}, timeout: float = 20.0, host: str = "127.0.0.1",  # noqa: B006
                connect: str = "127.0.0.1") -> Iterator[str]:
    """`python -m mcp_push serve --transport http` on a free port of `host`; yields its /mcp URL (at
    `connect`, the address a client uses to reach it)."""
    process, port = _start_http_server(extra, timeout, host, connect)
    try:
        yield f"http://{connect}:{port}/mcp"
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        stdout, _ = process.communicate()
        # Over HTTP stdout is not the wire, but it still gets nothing: logs go to stderr.
        assert stdout == b"", stdout[:500]


# Fixtures the MCP server tests share (imported into their modules).
@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture(autouse=True)
def no_server_settings(monkeypatch):
    """The server's own settings from the developer's shell never reach a test."""
    for name in SERVER_VARS:
        monkeypatch.delenv(name, raising=False)
