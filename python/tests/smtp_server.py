"""A real SMTP server (aiosmtpd) on 127.0.0.1 for the SMTP channel tests: it records what it is told.

Modes: "plain" (no TLS at all; AUTH allowed in the clear), "plain_auth_needs_tls" (no TLS, so no AUTH),
"starttls" (offers and requires STARTTLS, AUTH only after it) and "implicit" (TLS from the first byte, as on
port 465). Certificates come from a trustme CA.
"""

from __future__ import annotations

import email
import email.policy
import socket
import ssl
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


@dataclass
class AuthSeen:
    mechanism: str
    login: str
    password: str
    over_tls: bool


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    over_tls: bool

    @property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.data, policy=email.policy.default)  # type: ignore[return-value]


def _over_tls(server) -> bool:
    # Implicit TLS and STARTTLS both leave an SSL object on the transport the session talks through.
    return server.transport is not None and server.transport.get_extra_info("ssl_object") is not None


@dataclass
class Recorder:
    """aiosmtpd handler + authenticator. `events` is the order of STARTTLS / AUTH / DATA."""

    user: str
    password: str
    echo_credentials: bool = False  # a careless server that repeats what it got in its 535 reply
    events: list[str] = field(default_factory=list)
    auths: list[AuthSeen] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)

    def authenticator(self, server, session, envelope, mechanism, auth_data):
        assert isinstance(auth_data, LoginPassword)
        seen = AuthSeen(mechanism, auth_data.login.decode(), auth_data.password.decode(), _over_tls(server))
        self.events.append("AUTH")
        self.auths.append(seen)
        if (seen.login, seen.password) == (self.user, self.password):
            return AuthResult(success=True)
        if self.echo_credentials:
            return AuthResult(
                success=False, handled=False, message=f"535 5.7.8 bad login {seen.login} / {seen.password}"
            )
        return AuthResult(success=False, handled=False)  # aiosmtpd answers 535 5.7.8

    def handle_STARTTLS(self, server, session, envelope) -> bool:  # aiosmtpd calls this one synchronously
        self.events.append("STARTTLS")
        return True

    async def handle_DATA(self, server, session, envelope) -> str:
        self.events.append("DATA")
        self.received.append(
            Received(
                envelope.mail_from,
                list(envelope.rcpt_tos),
                envelope.original_content or envelope.content,
                _over_tls(server),
            )
        )
        return "250 2.0.0 OK queued"


class _EphemeralController(Controller):
    """aiosmtpd 1.4 cannot bind port 0 by itself (it connects to self.port to warm up): read the real port."""

    def _trigger_server(self):
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


def tls_context(cert) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)  # server side; no client certificates
    cert.configure_cert(context)
    return context


class SmtpServer:
    def __init__(self, mode: str, recorder: Recorder, cert=None):
        kwargs: dict = {"authenticator": recorder.authenticator, "server_hostname": "mx.test"}
        if mode == "plain":
            kwargs["auth_require_tls"] = False
        elif mode == "plain_auth_needs_tls":  # no TLS offered, and AUTH neither advertised nor accepted without it
            kwargs["auth_require_tls"] = True
        elif mode == "starttls":
            kwargs.update(tls_context=tls_context(cert), require_starttls=True, auth_require_tls=True)
        elif mode == "implicit":
            # aiosmtpd 1.4 only counts STARTTLS as TLS for auth_require_tls, so an implicit-TLS server has to
            # allow AUTH "without TLS"; the recorder still checks the session really was encrypted.
            kwargs.update(ssl_context=tls_context(cert), auth_require_tls=False)
        else:
            raise ValueError(mode)
        self.recorder = recorder
        self._controller = _EphemeralController(recorder, hostname="127.0.0.1", port=0, **kwargs)

    def start(self) -> SmtpServer:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self._controller.port}"


def closed_port() -> int:
    """A port on 127.0.0.1 nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SilentServer:
    """Accepts TCP connections and then never answers: hangs before its greeting, or (with `greeting`)
    greets and then ignores every command."""

    def __init__(self, greeting: bytes = b""):
        self._greeting = greeting
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen()
        self._sock.settimeout(0.05)  # so the accept loop notices stop() promptly
        self._held: list[socket.socket] = []
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:  # socket.timeout included: look at _stopping again
                continue
            if self._greeting:
                conn.sendall(self._greeting)
            self._held.append(conn)

    def start(self) -> SilentServer:
        self._thread.start()
        return self

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self._sock.getsockname()[1]}"

    @property
    def accepted(self) -> int:
        return len(self._held)

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=2)
        self._sock.close()
        for conn in self._held:
            conn.close()
