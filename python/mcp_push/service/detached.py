"""The delivery of an agent hook's event in a detached child process (`mcp-push hook`, agent_hooks.py).

An agent host waits for its hook command to exit, and reads the command's stdout and stderr until they
close. A vendor that hangs must not hold the agent, so the hook command only builds the event, hands it
here (start()) and exits. The child runs in a session of its own (a host that kills the hook's process
group at its timeout does not kill the delivery); its stdin is a pipe from the hook carrying the job as
JSON (never argv, which every user of the machine can read with `ps`), its stdout and stderr are the log
file in the state folder, never the host's pipes, so the host sees them close the moment the hook exits.
The channel credentials reach the child the way they reached the hook: in its environment.

The child sends through the delivery engine and its outbox (engine.py, outbox.py), as the MCP server
does: a delivery is committed to the outbox before it goes out and deleted once final, so one killed on
the wire (SIGKILL, a reboot) is sent by the next hook's child (which adopts what gone processes left when
it starts), by an MCP server on the same state folder, or by `mcp-push flush` — at least once, never lost
(with MCP_PUSH_OUTBOX=false the outbox is in memory and a killed child's event is lost). After
MCP_PUSH_HOOK_DEADLINE seconds the child gives up the same way: what is unfinished stays in the outbox.

When the hook handed the event to a server (MCP_PUSH_URL) that took longer to answer than the hook may
wait, the child asks that server again with the same Idempotency-Key: a server that did take the event
answers with its first result and sends nothing twice.

Problems, and with -v every outcome, are lines in hook.log in the state folder (rotated at LOG_BYTES).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

LOG_NAME = "hook.log"
LOG_BYTES = 1024 * 1024  # then hook.log becomes hook.log.1 (the one before is dropped)
JOB_BYTES = 1024 * 1024  # a job is an event of a few KB; a bound all the same


def log_path(env: Mapping[str, Any]) -> Path:
    from .outbox import state_dir

    return state_dir(env) / LOG_NAME


def _open_log(path: Path) -> int:
    """The log file for appending (0600 in a 0700 folder: events may be private), rotated when large."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        if path.stat().st_size > LOG_BYTES:
            path.replace(path.with_name(path.name + ".1"))
    except FileNotFoundError:
        pass
    return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)


def start(job: Mapping[str, Any], env: Mapping[str, Any]) -> int:
    """Starts the child that delivers `job` ({prog, envelope, channels, verbose, deadline, rest_key});
    returns its pid without waiting for it. OSError when it cannot be started."""
    log = _open_log(log_path(env))
    try:
        detach: dict[str, Any] = {"start_new_session": True}
        if os.name == "nt":  # no sessions: a process of its own group, with no console to share
            flags = subprocess.DETACHED_PROCESS | subprocess.CREATE_NEW_PROCESS_GROUP | subprocess.CREATE_NO_WINDOW
            detach = {"creationflags": flags}
        child = subprocess.Popen(
            [sys.executable, "-m", "mcp_push.service.detached"],
            stdin=subprocess.PIPE, stdout=log, stderr=log, close_fds=True,
            env={str(k): str(v) for k, v in env.items()}, **detach,
        )
    finally:
        os.close(log)
    assert child.stdin is not None
    try:
        # A pipe holds 64 KiB on Linux, 4 KiB on Windows; the child reads it at once in any case.
        child.stdin.write(json.dumps(dict(job), ensure_ascii=False).encode("utf-8"))
        child.stdin.close()
    except BrokenPipeError:
        pass  # it died at once: its log says why
    return child.pid  # not waited for: the child outlives the hook


# --- the child -----------------------------------------------------------------------------------------


def _say(prog: str, message: str) -> None:
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    print(f"{stamp} {prog}[{os.getpid()}]: {message}", file=sys.stderr, flush=True)


def _log_setup(verbose: bool) -> None:
    """mcp_push's own records (the engine's, the outbox's) go to the log file too, masked, dated."""
    import logging

    from ..logs import RedactingFilter, logger

    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(logging.Formatter("%(asctime)s mcp-push %(levelname)s %(message)s", "%Y-%m-%d %H:%M:%S"))
    log = logger()
    log.addHandler(handler)
    log.setLevel(logging.INFO if verbose else logging.WARNING)


def run(job: Mapping[str, Any], env: Mapping[str, Any]) -> None:
    """Delivers the job's event: through the server first when the hook's hand-off timed out, else (or
    when that server is gone) through the engine and the outbox of this state folder."""
    from .outcome import SecretRedactor

    prog = str(job.get("prog") or "mcp-push hook")
    verbose = bool(job.get("verbose"))
    envelope = job["envelope"]
    channels = job.get("channels")
    deadline = float(job.get("deadline") or 60)
    redactor = SecretRedactor(env)
    if job.get("rest_key") and _via_server(prog, job, env, redactor, deadline):
        return
    from ..events import render_event, validate_envelope
    from .engine import Engine
    from .outbox import Outbox
    from .outcome import outcome

    valid = validate_envelope(envelope)
    title, content = render_event(valid)
    try:
        outbox = Outbox.for_source(env)
    except (OSError, sqlite3.Error) as exc:  # a read-only or broken state folder: send all the same
        _say(prog, f"the outbox cannot be opened ({exc}); sending without it (a killed delivery is lost)")
        outbox = Outbox(None)
    engine = Engine(env, outbox)
    try:
        engine.start(resume=True)  # what a killed hook (or server) left in the outbox goes out first
        ticket = engine.submit(title, content, kind=valid["event"], run_id=valid["run_id"], channels=channels)
        finished = engine.drain(deadline)
        report = outcome(ticket.result(), redactor)
        if not finished:
            _say(prog, f"gave up after {deadline:g} s (MCP_PUSH_HOOK_DEADLINE): {report['summary']}; what is "
                 "unfinished stays in the outbox for the next hook, the MCP server or `mcp-push flush`")
        elif verbose or (not report["skipped"] and report["delivered"] < report["total"]):
            _say(prog, report["summary"])
    finally:
        engine.close()


def _via_server(prog: str, job: Mapping[str, Any], env: Mapping[str, Any], redactor: Any, deadline: float) -> bool:
    """The hand-off again, with the hook's Idempotency-Key and a longer wait; False when no server answers
    there any more (then the child sends the event itself)."""
    from .rest_client import DEFAULT_TIMEOUT, RestError, RestUnreachable, post_event

    try:
        result = post_event(job["envelope"], env, job.get("channels"), timeout=min(DEFAULT_TIMEOUT, deadline),
                            idempotency_key=str(job["rest_key"]))
    except RestUnreachable as exc:
        _say(prog, f"{redactor.text(str(exc))}; sending it directly")
        return False
    except RestError as exc:
        _say(prog, f"error: {redactor.text(str(exc))}; the notification may not have been delivered")
        return True
    if job.get("verbose") or result.get("ok") is False:
        _say(prog, redactor.text(str(result.get("summary") or "handed to the server")))
    return True


def main() -> int:
    """`python -m mcp_push.service.detached`, the job on stdin: what start() runs. Always exits 0."""
    prog = "mcp-push hook"
    try:
        raw = sys.stdin.buffer.read(JOB_BYTES + 1)
        sys.stdin.close()
        job = json.loads(raw.decode("utf-8"))
        prog = str(job.get("prog") or prog)
        _log_setup(bool(job.get("verbose")))
        from ..config import agent_defaults

        run(job, agent_defaults(os.environ))
    except Exception as exc:  # one line in the log, never a traceback
        from .outcome import SecretRedactor

        _say(prog, f"error: {SecretRedactor(os.environ).text(str(exc)) or type(exc).__name__}")
    sys.stdout.flush()
    sys.stderr.flush()
    # Lane threads still on a vendor's socket (the deadline passed) must not hold the process: their rows
    # are in the outbox, owned by nobody now (engine.close()).
    os._exit(0)


if __name__ == "__main__":
    main()
