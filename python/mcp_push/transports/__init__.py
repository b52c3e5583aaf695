"""Transports put a PlannedRequest on the wire: HTTP (requests), SMTP (smtplib), console (stderr), Apprise.

A transport is an object (js/src/transports/index.js has the same four): `send(request, timeout)`,
`round_trips` (how many times one request may wait the full timeout: api.time_budget), `retryable(status)`
(an answer that says "later") and `encodes_body` (the planner writes the body tree as wire text; a
transport that does not gets the tree). The library behind `send` is imported on the first send only:
planning must not pay for requests or smtplib.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..planner import PlannedRequest


class Reply:
    """A vendor's reply. A plain slotted class, not a dataclass: only built and read, and a dataclass is
    compiled from source when a fresh process defines it."""

    __slots__ = ("status", "text", "headers")

    def __init__(self, status: int, text: str, headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.text = text
        # Header names lower-cased (Retry-After is read from here).
        self.headers: dict[str, str] = {} if headers is None else headers


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


# What the current thread's send calls once its request is on the wire (written, the reply not yet read):
# a caller with work to do while the vendor answers waits for it (api._run_concurrently). The HTTP
# transport's connections tell (pools.py); a transport that does not is on the wire when its send is done.
_wire = threading.local()


@contextmanager
def on_the_wire(callback: Callable[[], None]) -> Iterator[None]:
    """`callback` is called each time a request sent in this thread, inside the block, is written."""
    before = getattr(_wire, "callback", None)
    _wire.callback = callback
    try:
        yield
    finally:
        _wire.callback = before


def request_written() -> None:
    """Called by a transport when the request it sends in this thread is written."""
    callback = getattr(_wire, "callback", None)
    if callback is not None:
        callback()


class Transport:
    name = ""
    round_trips = 1
    encodes_body = False

    def send(self, request: PlannedRequest, timeout: float) -> Reply:
        raise NotImplementedError

    def load(self) -> None:
        """Imports the library `send` uses (a send calls it before its channels' threads start: one import
        in one thread, not the first channel's thread importing while the others start and wait for it)."""

    def retryable(self, status: int) -> bool:
        """The vendor's answer `status` says "later": the request may be tried again."""
        return False

    def __repr__(self) -> str:
        return f"Transport({self.name})"


class HttpTransport(Transport):
    name, round_trips, encodes_body = "http", 2, True  # connect, then the reply

    def send(self, request: PlannedRequest, timeout: float) -> Reply:
        from .http import send_http

        return send_http(request, timeout)

    def load(self) -> None:
        from . import http  # noqa: F401

    def retryable(self, status: int) -> bool:
        return status == 429 or status >= 500


class SmtpTransport(Transport):
    name, round_trips = "smtp", 8  # a dialogue: greeting, EHLO, STARTTLS, AUTH, MAIL, RCPT, DATA, QUIT

    def send(self, request: PlannedRequest, timeout: float) -> Reply:
        from .smtp import send_smtp

        return send_smtp(request, timeout)

    def load(self) -> None:
        from . import smtp  # noqa: F401

    def retryable(self, status: int) -> bool:
        return 400 <= status < 500  # SMTP 4xx: transient (greylisting, mailbox busy)


class ConsoleTransport(Transport):
    name = "console"  # writes to stderr: it never answers "later"

    def send(self, request: PlannedRequest, timeout: float) -> Reply:
        from .console import send_console

        return send_console(request, timeout)


class AppriseTransport(Transport):
    # One URL of APPRISE_URLS through the apprise library (the optional extra mcp-push[apprise]). Never
    # "later": Apprise does not say whether a failed service got the message.
    name, round_trips = "apprise", 2  # the service's connect, then its reply

    def send(self, request: PlannedRequest, timeout: float) -> Reply:
        from .apprise import send_apprise

        return send_apprise(request, timeout)


TRANSPORTS: dict[str, Transport] = {
    t.name: t for t in (HttpTransport(), SmtpTransport(), ConsoleTransport(), AppriseTransport())
}


def transport_for(name: str) -> Transport:
    try:
        return TRANSPORTS[name]
    except KeyError:
        raise LookupError(f"no transport named '{name}'") from None
