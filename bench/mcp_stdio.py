"""A bare MCP client over stdio: raw JSON-RPC lines, no SDK, so that what is timed is the server.
Used by the cold-start and throughput benchmarks."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

PROTOCOL_VERSION = "2025-06-18"
TOOLS_LIST = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}


def initialize_messages() -> list[dict[str, Any]]:
    return [
        {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": PROTOCOL_VERSION, "capabilities": {},
            "clientInfo": {"name": "mcp-push-bench", "version": "1"},
        }},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
    ]


def encode(*messages: Mapping[str, Any]) -> bytes:
    return b"".join(json.dumps(m, separators=(",", ":")).encode() + b"\n" for m in messages)


class StdioSession:
    """The server as a child process; replies are read on a thread into a queue, stamped on arrival."""

    def __init__(self, command: Sequence[str], env: Mapping[str, str], cwd: str | None = None):
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            list(command), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            env=dict(env), cwd=cwd,
        )
        self.replies: queue.Queue[tuple[float, dict[str, Any] | None]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            stamp = time.perf_counter()
            try:
                self.replies.put((stamp, json.loads(line)))
            except ValueError:
                self.replies.put((stamp, {"error": {"message": f"not JSON on stdout: {line[:200]!r}"}}))
        self.replies.put((time.perf_counter(), None))

    def send(self, *messages: Mapping[str, Any]) -> None:
        self.process.stdin.write(encode(*messages))
        self.process.stdin.flush()

    def reply(self, timeout: float = 60.0) -> tuple[float, dict[str, Any]]:
        """The next reply with an id (notifications and log messages are skipped)."""
        deadline = time.monotonic() + timeout
        while True:
            stamp, message = self.replies.get(timeout=max(deadline - time.monotonic(), 0.001))
            if message is None:
                raise RuntimeError(f"the server closed stdout (exit code {self.process.poll()})")
            if "id" in message:
                return stamp, message

    def peak_rss_kib(self) -> int | None:
        """VmHWM: the most resident memory the server process has had (Linux)."""
        try:
            with open(f"/proc/{self.process.pid}/status", encoding="ascii") as fh:
                for line in fh:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1])
        except OSError:
            return None
        return None

    def close(self) -> None:
        try:
            self.process.stdin.close()
        except OSError:
            pass
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def child_env(extra: Mapping[str, str]) -> dict[str, str]:
    """os.environ without any channel configuration of the caller's (a bench must not push anywhere
    real), plus `extra`."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT", "VIRTUAL_ENV", "PYTHONPATH", "NODE_PATH")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update(extra)
    return env
