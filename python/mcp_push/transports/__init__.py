"""Transports put a PlannedRequest on the wire: HTTP (requests), SMTP (smtplib), console (stderr)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Reply:
    status: int
    text: str
    # Header names lower-cased (Retry-After is read from here).
    headers: dict[str, str] = field(default_factory=dict)


class TransportError(Exception):
    """No reply was had. `kind` is a result status: network_error or timeout. `retryable` is true when
    the request surely never reached the vendor (refused before any byte was written): trying again
    cannot deliver it twice. `maybe_delivered` is true when the request was written and the reply is
    missing or cut: the vendor may have the message, so only a spec with an idempotency key
    (`retry.idempotent`) tries again. A timeout is neither: it is never retried."""

    def __init__(self, kind: str, message: str, retryable: bool = False, maybe_delivered: bool = False):
        super().__init__(message)
        self.kind = kind
        self.retryable = retryable
        self.maybe_delivered = maybe_delivered


def transport_for(name: str):
    if name == "http":
        from .http import send_http

        return send_http
    if name == "smtp":
        from .smtp import send_smtp

        return send_smtp
    if name == "console":
        from .console import send_console

        return send_console
    raise LookupError(f"no transport named '{name}'")
