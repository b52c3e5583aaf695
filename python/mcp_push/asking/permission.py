"""Claude Code permission prompts on the phone: `mcp-push hook claude-code --ask-permissions` (or
MCP_PUSH_ASK_PERMISSIONS=true) on the `PermissionRequest` hook asks "Claude wants to run: `…` — allow /
deny" on the configured channels and answers the host with the decision, as Claude Code's hooks read it:

    {"hookSpecificOutput": {"hookEventName": "PermissionRequest",
                            "decision": {"behavior": "allow"}}}          # or "deny" with a "message"

Nobody answering in time (or anything going wrong) gives no decision: nothing on stdout, exit 0, and
Claude Code shows its own prompt as usual. Every other hook event goes on to agent_hooks unchanged.
Opt-in, since whoever can answer on the channels can let the agent run commands (docs/ASK.md).
"""

from __future__ import annotations

import io
import json
import logging
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..config import is_true, setting

FLAG = "--ask-permissions"
TIMEOUT_FLAG = "--ask-timeout"
SETTING = "MCP_PUSH_ASK_PERMISSIONS"
DEFAULT_TIMEOUT = 120.0
DETAIL_CHARS = 300
STDIN_BYTES = 4 * 1024 * 1024

log = logging.getLogger("mcp_push.ask")


def wanted(host: str | None, argv: Sequence[str], env: Mapping[str, Any]) -> bool:
    """Whether this `mcp-push hook` run may ask: Claude Code, with the flag or the setting."""
    if host != "claude-code":
        return False
    if FLAG in argv:
        return True
    try:
        return is_true(setting(SETTING, env))
    except ValueError:
        return False


def describe(payload: Mapping[str, Any]) -> str:
    """'Claude wants to run: `rm -rf build/`' (Bash), '… to use Edit on `src/app.py`', or the tool's input."""
    tool = str(payload.get("tool_name") or "a tool")
    tool_input = payload.get("tool_input") if isinstance(payload.get("tool_input"), dict) else {}
    for key in ("command", "file_path", "url", "path", "pattern", "query"):
        value = tool_input.get(key)
        if isinstance(value, str) and value.strip():
            detail = value.strip()
            break
    else:
        detail = json.dumps(tool_input, ensure_ascii=False, sort_keys=True) if tool_input else ""
    if len(detail) > DETAIL_CHARS:
        detail = detail[: DETAIL_CHARS - 1] + "…"
    project = os.path.basename(str(payload.get("cwd") or "").rstrip("/\\"))
    where = f" (in {project})" if project else ""
    if tool == "Bash":
        return f"Claude wants to run{where}: `{detail}`"
    return f"Claude wants to use {tool}{where}" + (f": `{detail}`" if detail else "")


def decision(result: Mapping[str, Any]) -> dict[str, Any] | None:
    """The hook's output for an answer, or None (no decision) when nobody answered in time."""
    if result.get("timed_out") or result.get("answer") not in ("allow", "deny"):
        return None
    verdict: dict[str, Any] = {"behavior": result["answer"]}
    if result["answer"] == "deny":
        verdict["message"] = f"Denied on the phone by {result.get('by')} via {result.get('channel')}."
    return {"hookSpecificOutput": {"hookEventName": "PermissionRequest", "decision": verdict}}


def _split(argv: Sequence[str]) -> tuple[list[str], float, list[str] | None]:
    """(the arguments agent_hooks takes, the ask's timeout, the --channel names)."""
    rest, timeout, channels = [], DEFAULT_TIMEOUT, None
    items = list(argv)
    i = 0
    while i < len(items):
        item = items[i]
        if item == FLAG:
            pass
        elif item == TIMEOUT_FLAG and i + 1 < len(items):
            timeout = float(items[i + 1])
            i += 1
        elif item.startswith(TIMEOUT_FLAG + "="):
            timeout = float(item.split("=", 1)[1])
        else:
            if item == "--channel" and i + 1 < len(items):
                channels = [*(channels or []), items[i + 1]]
            rest.append(item)
        i += 1
    return rest, timeout, channels


def main(host: str, argv: Sequence[str], env: Mapping[str, Any], hooks_main: Callable[..., int]) -> int:
    """A PermissionRequest is asked here; anything else goes to `hooks_main` (agent_hooks.main) with the
    same stdin. Always 0."""
    try:
        rest, timeout, channels = _split(argv)
    except ValueError:
        print(f"mcp-push hook {host}: error: {TIMEOUT_FLAG} takes seconds", file=sys.stderr)
        return 0
    raw = b"" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.buffer.read(STDIN_BYTES + 1)
    try:
        payload = json.loads(raw.decode("utf-8-sig", "replace")) if raw else None
    except ValueError:
        payload = None
    if not isinstance(payload, dict) or payload.get("hook_event_name") != "PermissionRequest":
        sys.stdin = io.TextIOWrapper(io.BytesIO(raw), encoding="utf-8")  # agent_hooks reads it as it was
        return hooks_main(host, rest, env)
    try:
        from . import ask

        result = ask(describe(payload), ["allow", "deny"], timeout=timeout, channels=channels, env=env,
                     run_id=str(payload.get("session_id") or "") or None)
    except Exception as exc:  # no decision: the host asks as usual
        from ..service.outcome import SecretRedactor

        print(f"mcp-push hook {host}: not asked on the phone: {SecretRedactor(env).text(str(exc))}", file=sys.stderr)
        return 0
    output = decision(result)
    if output is not None:
        sys.stdout.write(json.dumps(output) + "\n")
        sys.stdout.flush()
    return 0
