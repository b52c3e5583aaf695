"""`mcp-push hook HOST`: the command agent hosts run from their hooks (Claude Code's hooks, Codex CLI's
`notify`, Cursor's `stop` hook). It maps the host's JSON to an event of one run per session (spec/
envelope.schema.json) and hands it to a running server (MCP_PUSH_URL, rest_client.py) or sends it itself.

It never gets in the host's way: it always exits 0 (for Claude Code, exit 2 would block the agent's stop
and any other code shows a hook error), it writes nothing to stdout but what the host reads (Cursor's
`{}`), and it returns at once even when a vendor or the server never answers: it builds the event, hands
it to the server when one answers at MCP_PUSH_URL within REST_TIMEOUT, and otherwise to a detached child
process that delivers it (detached.py: its own session, the host's pipes closed, the outbox behind it,
problems in hook.log in the state folder). What the hook itself can tell (bad input, no channel) it logs
on stderr. Unknown fields and unknown hook events are ignored.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

HOSTS = ("claude-code", "codex", "cursor")
EVENTS = ("start", "update", "end", "error")
MESSAGE_CHARS = 1500  # a phone notification, not the whole answer
TAIL_BYTES = 256 * 1024  # how much of a transcript's end is read for the last assistant message
STDIN_BYTES = 4 * 1024 * 1024  # a hook's JSON is small; a host gone wrong must not fill memory
# A running server answers 202 at once (connect, read seconds); a slower answer is left to the child.
REST_TIMEOUT = (0.2, 0.4)
# The hook's own work (its JSON, a transcript's tail, a hand-off) takes well under a second; this bounds it
# when something is wrong all the same (a host that never closes stdin).
OWN_LIMIT = 3.0


class _Quit(Exception):
    """Stop here and exit 0: usage printed, or an error already logged."""


class _Parser(argparse.ArgumentParser):
    """Errors are a line on stderr and exit 0: a hook's exit code must never block the host."""

    def error(self, message: str):
        _log(self.prog, f"error: {message} (see {self.prog} --help)")
        raise _Quit

    def exit(self, status: int = 0, message: str | None = None):
        if message:
            print(message, file=sys.stderr, end="")
        raise _Quit


def _parser(host: str) -> argparse.ArgumentParser:
    parser = _Parser(prog=f"mcp-push hook {host}", description=_DESCRIPTIONS[host],
                     epilog="Always exits 0; problems are logged on stderr.")
    if host == "codex":
        parser.add_argument("payload", nargs="?", help="the JSON Codex appends to the notify command")
    parser.add_argument("--on", action="append", metavar="EVENTS",
                        help="events to send, comma-separated: start, update, end, error (repeatable; "
                        "default MCP_PUSH_HOOK_EVENTS, else update,end,error)")
    parser.add_argument("--channel", action="append", metavar="NAME",
                        help="only this configured channel (repeatable); default: all configured")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what was sent on stderr too")
    return parser


_DESCRIPTIONS = {
    "claude-code": "For Claude Code's hooks: reads the hook's JSON on stdin. SessionStart -> start (opt-in: "
    "--on start), Notification -> update (waiting for you), Stop -> end with the last assistant message, "
    "StopFailure -> error, SubagentStop -> update.",
    "codex": "For Codex CLI's notify: agent-turn-complete -> end with the last assistant message.",
    "cursor": "For Cursor's stop hook: reads the hook's JSON on stdin, prints {} (no follow-up). completed "
    "or aborted -> end, error -> error.",
}


def main(host: str | None, argv: Sequence[str], env: Mapping[str, Any], hard_exit: bool = True) -> int:
    """Runs the hook for `host`; 0 whatever happens. With `hard_exit`, the hook's own work still running
    after OWN_LIMIT seconds ends the process (os._exit)."""
    if host not in HOSTS:
        _log("mcp-push hook", f"error: HOST must be one of {', '.join(HOSTS)}" + (f", not '{host}'" if host else ""))
        return 0
    prog = f"mcp-push hook {host}"
    if host == "cursor" and not {"-h", "--help"} & set(argv):
        print("{}", flush=True)  # Cursor reads the stop hook's answer on stdout: no follow-up message
    try:
        options = _parser(host).parse_args(list(argv))
    except _Quit:
        return 0
    try:
        deadline = _seconds("MCP_PUSH_HOOK_DEADLINE", env)
        wanted = _events(options.on, env)
    except Exception as exc:  # a bad setting: say so, send nothing
        _log(prog, f"error: {exc}")
        return 0
    worker = threading.Thread(target=_guarded, args=(prog, host, options, env, wanted, deadline),
                              name="mcp-push-hook", daemon=True)
    worker.start()
    worker.join(OWN_LIMIT)
    if worker.is_alive():
        _log(prog, f"gave up after {OWN_LIMIT:g} s (did its input never end?); nothing was sent")
        if hard_exit:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(0)
    return 0


def _guarded(prog: str, host: str, options: argparse.Namespace, env: Mapping[str, Any], wanted: set[str],
             deadline: float) -> None:
    try:
        payload = _payload(host, options)
        envelope = MAPPERS[host](payload, env)
        if envelope is None or envelope["event"] not in wanted:
            if options.verbose:
                _log(prog, "nothing to send for this hook event")
            return
        deliver(prog, envelope, options.channel, env, deadline, options.verbose)
    except _Quit:
        pass
    except Exception as exc:  # never a traceback in the host's log, never a non-zero exit
        _log(prog, f"error: {_redacted(env, str(exc)) or type(exc).__name__}")


# --- the host's JSON -----------------------------------------------------------------------------------


def _payload(host: str, options: argparse.Namespace) -> dict[str, Any]:
    if host == "codex" and options.payload is not None:
        raw = options.payload.encode("utf-8", "replace")
    else:
        if sys.stdin is None or sys.stdin.isatty():  # run by hand: say what it wants instead of waiting
            what = "as its argument" if host == "codex" else "on stdin"
            raise ValueError(f"expects the host's hook JSON {what} (see mcp-push hook {host} --help)")
        raw = sys.stdin.buffer.read(STDIN_BYTES + 1)
        if len(raw) > STDIN_BYTES:
            raise ValueError(f"the hook's JSON is larger than {STDIN_BYTES} bytes")
    try:
        data = json.loads(raw.decode("utf-8-sig", "replace"))  # Cursor's JSON may start with a BOM
    except ValueError:
        where = "its argument" if host == "codex" else "stdin"
        raise ValueError(f"the hook's input on {where} is not JSON") from None
    if not isinstance(data, dict):
        raise ValueError("the hook's input is not a JSON object")
    return data


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _clip(text: str, limit: int = MESSAGE_CHARS) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _project(*candidates: Any) -> str:
    """The project folder's name: the first candidate that is a path with a name."""
    for candidate in candidates:
        name = Path(_text(candidate)).name if _text(candidate) else ""
        if name:
            return name
    return Path.cwd().name or "agent"


def _run_id(project: str, session: str) -> str:
    """One run per session, titled by its project: 'shop (3f2a9c1e)'."""
    project = project[:150]
    return f"{project} ({session[:8]})" if session else project


def _envelope(run_id: str, event: str, message: str, data: Mapping[str, Any] | None = None) -> dict[str, Any]:
    envelope: dict[str, Any] = {"run_id": run_id, "event": event, "message": _clip(message)}
    if data:
        envelope["data"] = dict(data)
    return envelope


def last_assistant_message(path: Any, tail_bytes: int = TAIL_BYTES) -> str:
    """The text of the last assistant entry of a JSONL transcript (Claude Code's or Cursor's), read from
    at most the last `tail_bytes` of the file; "" when the file is missing, unreadable or has none. A
    line cut by the bounded read, or garbled, is skipped."""
    if not _text(path):
        return ""
    try:
        with open(os.path.expanduser(_text(path)), "rb") as transcript:
            size = transcript.seek(0, os.SEEK_END)
            start = max(0, size - tail_bytes)
            transcript.seek(start)
            lines = transcript.read(tail_bytes).split(b"\n")
    except OSError:
        return ""
    if start > 0:
        lines = lines[1:]  # begins mid-line
    for line in reversed(lines):
        try:
            entry = json.loads(line.decode("utf-8", "replace"))
        except ValueError:
            continue
        text = _assistant_text(entry)
        if text:
            return text
    return ""


def _assistant_text(entry: Any) -> str:
    """Claude Code: {"type": "assistant", "message": {"role": "assistant", "content": [{"type": "text",
    "text": …}, …]}}; Cursor: {"role": "assistant", "message": {"content": [...]}}; content may be a string."""
    if not isinstance(entry, dict):
        return ""
    message = entry.get("message") if isinstance(entry.get("message"), dict) else {}
    role = message.get("role") or entry.get("role") or entry.get("type")
    if role != "assistant":
        return ""
    content = message.get("content", entry.get("content"))
    if isinstance(content, str):
        return content.strip()
    if not isinstance(content, list):
        return ""
    parts = [part.get("text") for part in content if isinstance(part, dict) and part.get("type") == "text"]
    return "\n".join(p.strip() for p in parts if isinstance(p, str) and p.strip())


def claude_code(payload: Mapping[str, Any], env: Mapping[str, Any]) -> dict[str, Any] | None:
    """Claude Code's hook input (code.claude.com/docs/en/hooks): session_id, transcript_path, cwd,
    hook_event_name, and per event: Notification message/notification_type, Stop and SubagentStop
    last_assistant_message (newer versions; else the transcript), SubagentStop agent_type and
    agent_transcript_path, StopFailure error_type/error_message, SessionStart source."""
    event = _text(payload.get("hook_event_name"))
    run = _run_id(_project(payload.get("cwd"), env.get("CLAUDE_PROJECT_DIR")), _text(payload.get("session_id")))
    if event == "SessionStart":
        source = _text(payload.get("source"))
        return _envelope(run, "start", "Claude Code session started" + (f" ({source})" if source else ""))
    if event == "Notification":
        why = _text(payload.get("message")) or _text(payload.get("title")) or "Claude Code needs your attention"
        return _envelope(run, "update", f"Waiting for you: {why}")
    if event == "Stop":
        last = _text(payload.get("last_assistant_message")) or last_assistant_message(payload.get("transcript_path"))
        return _envelope(run, "end", last or "Claude Code finished its turn.")
    if event == "StopFailure":
        kind = _text(payload.get("error_type")) or "unknown"
        detail = _text(payload.get("error_message")) or _text(payload.get("error"))
        return _envelope(run, "error", f"Turn failed: {kind}" + (f": {detail}" if detail else ""),
                         {"error_code": kind})
    if event == "SubagentStop":
        agent = _text(payload.get("agent_type"))
        last = (_text(payload.get("last_assistant_message"))
                or last_assistant_message(payload.get("agent_transcript_path")))
        head = f"Subagent {agent} finished" if agent else "Subagent finished"
        return _envelope(run, "update", f"{head}: {last}" if last else head)
    return None


def codex(payload: Mapping[str, Any], env: Mapping[str, Any]) -> dict[str, Any] | None:
    """Codex CLI's notify JSON (openai/codex docs/config.md, "notify"): type, thread-id, turn-id, cwd,
    input-messages, last-assistant-message. Only agent-turn-complete is an event."""
    if _text(payload.get("type")) != "agent-turn-complete":
        return None
    run = _run_id(_project(payload.get("cwd")), _text(payload.get("thread-id")))
    last = _text(payload.get("last-assistant-message"))
    return _envelope(run, "end", last or "Codex finished its turn.")


def cursor(payload: Mapping[str, Any], env: Mapping[str, Any]) -> dict[str, Any] | None:
    """Cursor's stop hook input (cursor.com/docs/agent/hooks): conversation_id, generation_id,
    workspace_roots, hook_event_name "stop", status (completed, aborted, error), loop_count, and in
    some versions transcript_path."""
    if _text(payload.get("hook_event_name")) not in ("", "stop"):
        return None
    roots = payload.get("workspace_roots")
    root = roots[0] if isinstance(roots, list) and roots else None
    run = _run_id(_project(root, payload.get("cwd")), _text(payload.get("conversation_id")))
    status = _text(payload.get("status")) or "completed"
    if status == "error":
        return _envelope(run, "error", "Cursor's agent stopped with an error.", {"error_code": "error"})
    if status == "aborted":
        return _envelope(run, "end", "Cursor's agent was stopped (aborted).")
    last = last_assistant_message(payload.get("transcript_path"))
    return _envelope(run, "end", last or "Cursor's agent finished.")


MAPPERS: dict[str, Callable[[Mapping[str, Any], Mapping[str, Any]], dict[str, Any] | None]] = {
    "claude-code": claude_code, "codex": codex, "cursor": cursor,
}


# --- delivery ------------------------------------------------------------------------------------------


def deliver(prog: str, envelope: Mapping[str, Any], channels: list[str] | None, env: Mapping[str, Any],
            deadline: float, verbose: bool = False) -> None:
    """To the server at MCP_PUSH_URL when it answers within REST_TIMEOUT; else to a detached child that
    sends the event itself (or, when the server took the connection but was slow to answer, asks it again
    with the same Idempotency-Key), within `deadline` seconds."""
    wanted = _channels(channels)
    problem = _channel_problem(env, wanted)
    if problem:
        _log(prog, f"error: {problem} (`mcp-push channels` tells what they need)")
        return
    envelope = {**envelope, "timestamp": _now()}  # when the host's event happened, not when the child sends
    job: dict[str, Any] = {"prog": prog, "envelope": envelope, "channels": wanted, "verbose": verbose,
                           "deadline": deadline, "rest_key": None}
    from .rest_client import server_url

    if server_url(env):
        done, job["rest_key"] = _handed_off(prog, envelope, wanted, env, verbose)
        if done:
            return
    from .detached import log_path, start

    try:
        pid = start(job, env)
    except OSError as exc:
        _log(prog, f"error: cannot start the delivery ({exc}); nothing was sent")
        return
    if verbose:
        _log(prog, f"delivering in the background (pid {pid}); problems go to {log_path(env)}")


def _handed_off(prog: str, envelope: Mapping[str, Any], channels: list[str] | None, env: Mapping[str, Any],
                verbose: bool) -> tuple[bool, str | None]:
    """POSTs the event to the server. (True, None) when that is the end of it (taken, or refused: logged);
    (False, None) when no server answers (the child sends the event itself); (False, key) when the server
    was slow to answer (the child asks it again with that Idempotency-Key)."""
    import uuid

    from .rest_client import RestError, RestTimeout, RestUnreachable, post_event

    key = uuid.uuid4().hex
    try:
        result = post_event(envelope, env, channels, timeout=REST_TIMEOUT, idempotency_key=key)
    except RestUnreachable as exc:
        _log(prog, f"{exc}; sending it directly")  # MCP_PUSH_URL names a server that is not running
        return False, None
    except RestTimeout as exc:
        if verbose:
            _log(prog, f"{exc}; asking it again in the background")
        return False, key
    except RestError as exc:
        _log(prog, f"error: {exc}")
        return True, None
    if verbose or result.get("ok") is False:
        _log(prog, _redacted(env, str(result.get("summary") or "handed to the server")))
    return True, None


def _channel_problem(env: Mapping[str, Any], channels: list[str] | None) -> str | None:
    """What the hook can tell at once, so that nothing is started for nothing: an unknown channel, none
    configured."""
    from ..api import channels_error, configured_channels

    problem = channels_error(env, channels)
    if problem or (channels is None and not configured_channels(env)):
        return problem or "no channel is configured"
    return None


def _now() -> str:
    from ..events import rfc3339

    return rfc3339(time.time())


def _channels(names: list[str] | None) -> list[str] | None:
    from ..api import channel_names

    return channel_names(names)


def _events(on: list[str] | None, env: Mapping[str, Any]) -> set[str]:
    from ..config import setting

    text = ",".join(on) if on else setting("MCP_PUSH_HOOK_EVENTS", env)
    names = [name.strip().lower() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in EVENTS]
    if unknown:
        where = "--on" if on else "MCP_PUSH_HOOK_EVENTS"
        raise ValueError(f"{where}: '{unknown[0]}' is not one of {', '.join(EVENTS)}")
    return set(names)


def _seconds(name: str, env: Mapping[str, Any]) -> float:
    from ..config import ConfigError, decimal_setting, setting

    value = decimal_setting(setting(name, env))
    if not value > 0:
        raise ConfigError(f"{name}: must be a number of seconds above 0")
    return value


def _redacted(env: Mapping[str, Any], text: str) -> str:
    from .outcome import SecretRedactor

    return SecretRedactor(env).text(text)


def _log(prog: str, message: str) -> None:
    print(f"{prog}: {message}", file=sys.stderr, flush=True)
