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
    the request surely never reached the vendor (refused, reset before an answer): trying again cannot
    deliver it twice. A timeout is not retryable: the vendor may have the message already."""

    def __init__(self, kind: str, message: str, retryable: bool = False):
        super().__init__(message)
        self.kind = kind
        self.retryable = retryable


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
    raise LookupError(f"no transport named {name!r}")
