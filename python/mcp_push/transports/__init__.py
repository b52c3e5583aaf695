"""Transports put a PlannedRequest on the wire: HTTP (requests), SMTP (smtplib), console (stderr)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Reply:
    status: int
    text: str


class TransportError(Exception):
    """No reply was had. `kind` is a result status: network_error or timeout."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


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
