"""What a send reports to a tool caller or a person: per channel ok/status/error/time, a one-line summary,
and no secret (send_plan's errors are already redacted; every secret env value is masked again here)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..redact import Redactor, env_secrets, process_redactor
from ..result import QUEUED, RETRYING, SUPERSEDED, SendResult
from ..specs import load_channels

# Accepted by the MCP server's engine and not final yet: the message is on its way, not lost.
PENDING = (QUEUED, RETRYING)


class SecretRedactor:
    """Masks every channel's secrets in `source` (spec/README.md, "Secrets"), then every long-lived
    secret this process knows."""

    def __init__(self, source: Mapping[str, Any]):
        self._env = Redactor(secret for spec in load_channels().values() for secret in env_secrets(spec.env, source))

    def text(self, value: str) -> str:
        return process_redactor().text(self._env.text(value))

    def masker(self) -> Callable[[str], str]:
        """text(), with the process's secrets looked up once: for the several texts of one message."""
        process, env = process_redactor(), self._env
        return lambda value: process.text(env.text(value))

    def tree(self, value: Any) -> Any:
        """Values masked, keys (field names, channel ids, variable names) kept: for JSON output."""
        return process_redactor().tree(self._env.tree(value))


def summary_line(result: SendResult) -> str:
    """'2 of 3 channels delivered: ntfy; webhook; dingtalk rejected (…)', 'accepted by 2 channels,
    delivering: ntfy queued; webhook queued' when the server still has them, or why nothing was sent."""
    if result.skipped:
        return f"Nothing sent: {result.skipped}."
    delivered = sum(1 for r in result if r.ok)
    pending = sum(1 for r in result if r.status in PENDING)
    parts = [r.channel if r.ok else f"{r.channel} {r.status}" + (f" ({r.error})" if r.error else "") for r in result]
    noun = "channel" if len(result) == 1 else "channels"
    if pending and pending == len(result):
        head = f"accepted by {pending} {noun}, delivering"
    elif pending:
        head = f"{delivered} of {len(result)} {noun} delivered, {pending} more accepted and delivering"
    else:
        head = f"{delivered} of {len(result)} {noun} delivered"
    return f"{head}: " + "; ".join(parts)


def outcome(result: SendResult, redactor: SecretRedactor | Redactor) -> dict[str, Any]:
    """{ok, delivered, queued, total, skipped, summary, message_id, channels: [{channel, ok, status, error, elapsed_ms,
    http_status, attempts, parts, truncated}]}: only these fields, errors and summary redacted."""
    queued = sum(1 for r in result if r.status == QUEUED)
    retrying = sum(1 for r in result if r.status == RETRYING)
    # A superseded update is not a failure: a newer one of its run took its place.
    replaced = sum(1 for r in result if r.status == SUPERSEDED)
    return {
        "ok": bool(result) or queued > 0 or retrying > 0 or replaced > 0,
        "delivered": sum(1 for r in result if r.ok),
        "queued": queued,
        "total": len(result),
        "skipped": result.skipped,
        "summary": redactor.text(summary_line(result)),
        "message_id": getattr(result, "message_id", None),
        "channels": [
            {
                # A queued message is accepted: ok. One that is retrying says why its tries failed.
                "channel": r.channel, "ok": r.ok or r.status == QUEUED, "status": r.status,
                "error": redactor.text(r.error) if r.error else None,
                "elapsed_ms": r.elapsed_ms, "http_status": r.http_status, "attempts": r.attempts,
                "parts": r.parts, "truncated": r.truncated,
            }
            for r in result
        ],
    }
