"""Running `mcp-push hook HOST` as an agent host does, and following the detached child it leaves behind
(service/detached.py): each run's environment carries a mark of its own, and the child, which inherits
that environment, is found by it in /proc (it is no child of the test: the hook started it and exited)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from .mcp_helpers import REPO, child_env

MARK = "HOOK_TEST_MARK"  # not an MCP_PUSH_* setting: only these tests read it
CLEARED = ("MCP_PUSH_URL", "CLAUDE_PROJECT_DIR", "MCP_PUSH_HOOK_EVENTS", "MCP_PUSH_HOOK_DEADLINE")
T = TypeVar("T")


def hook_command(host: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "mcp_push", "hook", host, *args]


def hook_env(env: dict[str, str] | None, mark: str) -> dict[str, str]:
    environment = child_env({**(env or {}), MARK: mark})
    for name in CLEARED:
        if name not in (env or {}):
            environment.pop(name, None)
    return environment


def stdin_bytes(stdin: bytes | dict | None) -> bytes:
    return json.dumps(stdin).encode() if isinstance(stdin, dict) else (stdin or b"")


def hook(host: str, *args: str, stdin: bytes | dict | None = None, env: dict[str, str] | None = None,
         timeout: float = 60, settle: bool = True) -> subprocess.CompletedProcess:
    """The hook as a host runs it: `mcp-push hook HOST ...`, its JSON on stdin (Claude Code, Cursor).
    With `settle`, returns once the delivery it left to a detached child is over too."""
    mark = uuid.uuid4().hex
    process = subprocess.run(hook_command(host, *args), input=stdin_bytes(stdin), env=hook_env(env, mark),
                             cwd=REPO, capture_output=True, timeout=timeout)
    if settle:
        wait_until(lambda: not marked(mark), "the hook's detached delivery to end")
    return process


def marked(mark: str) -> list[int]:
    """The live processes (zombies are not) whose environment carries this mark."""
    needle = f"{MARK}={mark}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            environ = Path(f"/proc/{entry}/environ").read_bytes().split(b"\0")
            state = Path(f"/proc/{entry}/stat").read_bytes().rsplit(b")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue  # gone meanwhile, or not ours to read
        if needle in environ and state != b"Z":
            found.append(int(entry))
    return found


def wait_until(condition: Callable[[], T], what: str, timeout: float = 60) -> T:
    """Polls until `condition` holds; the timeout is a hang guard (a failure), not a measure."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)
    return value


def hook_log() -> str:
    """The detached deliveries' log in this test's state folder (conftest gives each test its own)."""
    path = Path(os.environ["MCP_PUSH_STATE_DIR"]) / "hook.log"
    return path.read_text(encoding="utf-8") if path.exists() else ""
