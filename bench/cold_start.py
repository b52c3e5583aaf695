"""Cold start: from process spawn to the first useful moment. For the MCP server that is the
`tools/list` reply over stdio (initialize, notifications/initialized and tools/list are written at
once, as a host does); for a library, the process exiting after the import."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mcp_stdio import TOOLS_LIST, StdioSession, child_env, encode, initialize_messages

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Subject:
    name: str
    command: list[str]
    kind: str  # "mcp": until the tools/list reply; "exit": until the process exits
    target_s: float | None = None
    cwd: str | None = None
    reference: bool = False  # a floor or a comparison, not ours
    samples: list[float] = field(default_factory=list)  # wall seconds
    cpu: list[float] = field(default_factory=list)  # CPU seconds (user + system) of the process
    error: str | None = None


def _cpu_seconds(pid: int) -> float:
    """utime + stime of a live process, from /proc (clock ticks, 10 ms on most kernels)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _until_tools_list(command: Sequence[str], env: dict[str, str], cwd: str | None) -> tuple[float, float]:
    started = time.perf_counter()
    session = StdioSession(command, env, cwd)
    try:
        session.process.stdin.write(encode(*initialize_messages(), TOOLS_LIST))
        session.process.stdin.flush()
        while True:
            stamp, message = session.reply(timeout=30)
            if message.get("id") == TOOLS_LIST["id"]:
                cpu = _cpu_seconds(session.process.pid)
                tools = (message.get("result") or {}).get("tools")
                if not tools:
                    raise RuntimeError(f"tools/list answered without tools: {str(message)[:300]}")
                return stamp - started, cpu
    finally:
        session.close()


def _until_exit(command: Sequence[str], env: dict[str, str], cwd: str | None) -> tuple[float, float]:
    with tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        process = subprocess.Popen(list(command), env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=errors)
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            errors.seek(0)
            raise RuntimeError(f"exit code {process.returncode}: {errors.read().decode(errors='replace')[-300:]}")
    return elapsed, usage.ru_utime + usage.ru_stime


def subjects(bundle_dir: str, apprise_cli: str | None) -> list[Subject]:
    python, node = sys.executable, shutil.which("node") or "node"
    console_script = str(Path(python).with_name("mcp-push"))
    out = [
        Subject("MCP stdio: `python -m mcp_push` to tools/list", [python, "-m", "mcp_push"], "mcp", 0.5),
        Subject("MCP stdio: `mcp-push` console script to tools/list", [console_script], "mcp", 0.5),
        Subject("`python -c \"from notify import send\"`", [python, "-c", "from notify import send"], "exit"),
        Subject("`node -e \"require('./js/sendNotify')\"`", [node, "-e", "require('./js/sendNotify')"], "exit",
                0.1, cwd=str(ROOT)),
        Subject("bundle alone: `node -e \"require('./sendNotify')\"`", [node, "-e", "require('./sendNotify')"],
                "exit", 0.1, cwd=bundle_dir),
        Subject("reference: `python -c pass`", [python, "-c", "pass"], "exit", reference=True),
        # os._exit: the import alone, without the interpreter's teardown of ~600 modules (a server
        # answering tools/list has not torn down either).
        Subject("reference: the MCP SDK's import alone (`import mcp.server.mcpserver`)",
                [python, "-c", "import os, mcp.server.mcpserver; os._exit(0)"], "exit", reference=True),
        Subject("reference: `node -e 0`", [node, "-e", "0"], "exit", reference=True),
    ]
    if apprise_cli:
        out.append(Subject("reference: `apprise --version` (Apprise CLI)", [apprise_cli, "--version"], "exit",
                           reference=True))
    if not Path(console_script).exists():
        out = [s for s in out if s.command[0] != console_script]
    return out


def measure(runs: int = 7, progress: Callable[[str], None] = lambda _: None) -> list[Subject]:
    """Every subject `runs` times, round-robin (so a slow moment of the machine hits all alike), after
    one untimed run each (bytecode caches written, files in the page cache)."""
    with tempfile.TemporaryDirectory(prefix="mcp-push-bench-") as temp:
        # The server's outbox goes to a state folder of the bench's, never the user's.
        env = child_env({"HITOKOTO": "false", "MCP_PUSH_STATE_DIR": str(Path(temp) / "state")})
        bundle = ROOT / "js" / "dist" / "sendNotify.js"
        if bundle.exists():
            shutil.copy(bundle, Path(temp) / "sendNotify.js")
        apprise_cli = Path(sys.executable).with_name("apprise")
        todo = subjects(temp, str(apprise_cli) if apprise_cli.exists() else None)
        if not bundle.exists():
            for subject in todo:
                if subject.cwd == temp:
                    subject.error = "js/dist/sendNotify.js is missing: run `npm run build` in js/"
        for round_ in range(runs + 1):
            progress(f"cold start round {round_}/{runs}")
            for subject in todo:
                if subject.error:
                    continue
                # Library imports run outside the repo (the installed package), except the Node source.
                cwd = subject.cwd or temp
                try:
                    run = _until_tools_list if subject.kind == "mcp" else _until_exit
                    elapsed, cpu = run(subject.command, env, cwd)
                except Exception as exc:  # reported in the table, the other subjects go on
                    subject.error = f"{type(exc).__name__}: {exc}"
                    continue
                if round_:
                    subject.samples.append(elapsed)
                    subject.cpu.append(cpu)
    return todo
