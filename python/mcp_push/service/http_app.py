"""Streamable HTTP for `mcp-push serve --transport http`: the SDK's app behind the MCP transport's
security rules, served by uvicorn with request timeouts and a connection cap.

Checks, in this order, on every bind address (the SDK arms its own only for 127.0.0.1/localhost/::1):

- Host (DNS rebinding): the Host header must name the bound address, a loopback name, or a name in
  MCP_PUSH_HTTP_HOSTS; on a wildcard bind (0.0.0.0, ::) any IP literal too, since a rebinding attack
  always arrives under a DNS name. Otherwise 421.
- Origin: absent is fine (not a browser); present, it must be a loopback origin or listed in
  MCP_PUSH_HTTP_ORIGINS. Otherwise 403, as the MCP spec says.
- Authorization: with MCP_PUSH_HTTP_TOKEN, `Bearer <token>` (scheme case-insensitive, RFC 9110),
  compared in constant time. Otherwise 401.
- GET on the endpoint: 405 (Allow: POST). The stateless server offers no stream; the SDK's answer would
  be an event stream that never sends anything.
- Bodies over MCP_PUSH_HTTP_MAX_BODY bytes (1 MiB): 413.

The REST endpoint (/v1/…, rest.py) is behind the same checks; its denials are {"error": "…"} bodies.

Connections: a client has MCP_PUSH_HTTP_HEADER_TIMEOUT seconds to send a whole request (headers and
body) after connecting or after its previous answer; an idle keep-alive connection is closed after
MCP_PUSH_HTTP_IDLE_TIMEOUT; beyond MCP_PUSH_HTTP_MAX_CONNECTIONS open connections a new one gets 503 at
once. So half-sent requests cannot starve real ones.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from ..config import ConfigError, decimal_setting, setting, strip_space
from .http_defaults import DEFAULT_PORT  # noqa: F401 (its home: http_defaults.py; named here for callers)
from .idempotency import IdempotencyStore
from .rest import RestApp, is_rest_path, json_body, respond
from .status_page import StatusPage, is_status_path

TOKEN_VAR = "MCP_PUSH_HTTP_TOKEN"  # noqa: S105 (a variable name, not a token)
ORIGINS_VAR = "MCP_PUSH_HTTP_ORIGINS"
HOSTS_VAR = "MCP_PUSH_HTTP_HOSTS"
MAX_BODY_VAR = "MCP_PUSH_HTTP_MAX_BODY"
HEADER_TIMEOUT_VAR = "MCP_PUSH_HTTP_HEADER_TIMEOUT"
IDLE_TIMEOUT_VAR = "MCP_PUSH_HTTP_IDLE_TIMEOUT"
MAX_CONNECTIONS_VAR = "MCP_PUSH_HTTP_MAX_CONNECTIONS"

DEFAULT_MAX_BODY = 1024 * 1024
DEFAULT_HEADER_TIMEOUT = 10.0
DEFAULT_IDLE_TIMEOUT = 5.0
DEFAULT_MAX_CONNECTIONS = 100

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


class HttpConfigError(ValueError):
    """An HTTP setting that cannot work; the message names the variable and the rule."""


@dataclass(frozen=True)
class HttpSettings:
    host: str
    port: int
    path: str
    token: str = ""
    origins: frozenset[str] = frozenset()
    hosts: frozenset[str] = frozenset()
    max_body: int = DEFAULT_MAX_BODY
    header_timeout: float = DEFAULT_HEADER_TIMEOUT
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT
    max_connections: int = DEFAULT_MAX_CONNECTIONS


def _origin(text: str) -> str:
    """scheme://host[:port], lowercased, without a trailing slash; '' when it is not an origin."""
    parts = urlsplit(text.strip().lower().rstrip("/"))
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path or parts.query:
        return ""
    try:
        port = parts.port
    except ValueError:
        return ""
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}" + (f":{port}" if port is not None else "")


def http_settings(env: Mapping[str, Any], host: str, port: int, path: str) -> HttpSettings:
    """The HTTP settings (declared in spec/settings.yaml, read through config.setting); HttpConfigError
    names a bad one and its rule."""
    try:
        origins = set()
        for item in setting(ORIGINS_VAR, env).split(","):
            if item.strip():
                origin = _origin(item)
                if not origin:
                    raise HttpConfigError(f"{ORIGINS_VAR}: '{item.strip()}' is not an origin such as "
                                          "https://app.example.com (scheme, host, optional port)")
                origins.add(origin)
        hosts = {_host_name(item) for item in setting(HOSTS_VAR, env).split(",") if item.strip()}
        return HttpSettings(
            host=host, port=port, path=path, token=setting(TOKEN_VAR, env),
            origins=frozenset(origins), hosts=frozenset(hosts),
            max_body=int(strip_space(setting(MAX_BODY_VAR, env))),
            header_timeout=decimal_setting(setting(HEADER_TIMEOUT_VAR, env)),
            idle_timeout=decimal_setting(setting(IDLE_TIMEOUT_VAR, env)),
            max_connections=int(strip_space(setting(MAX_CONNECTIONS_VAR, env))),
        )
    except ConfigError as exc:
        raise HttpConfigError(str(exc)) from None


# --- the checks ----------------------------------------------------------------------------------------


def _host_name(value: str) -> str:
    """The name in a Host header or a bind address: lowercased, no port, no brackets, no final dot."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:value.find("]")] if "]" in value else value[1:]
    if value.count(":") == 1:
        value = value.split(":", 1)[0]
    return value.rstrip(".")


def _ip(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        return None


def is_loopback(host: str) -> bool:
    name = _host_name(host)
    address = _ip(name)
    return name == "localhost" or (address is not None and address.is_loopback)


def is_wildcard(host: str) -> bool:
    address = _ip(_host_name(host))
    return host.strip() == "" or (address is not None and address.is_unspecified)


class Guard:
    """ASGI middleware with the checks above, in front of the SDK's app."""

    def __init__(self, app: Any, settings: HttpSettings):
        self.app, self.settings = app, settings
        bound = _host_name(settings.host)
        self.hosts = set(settings.hosts) | LOOPBACK_NAMES | ({bound} if not is_wildcard(settings.host) else set())
        self.any_ip = is_wildcard(settings.host)
        self.expected = settings.token.encode()

    def host_allowed(self, header: str | None) -> bool:
        if not header:
            return False
        name = _host_name(header)
        return name in self.hosts or (self.any_ip and _ip(name) is not None)

    def origin_allowed(self, header: str | None) -> bool:
        if header is None:
            return True
        origin = _origin(header)
        return bool(origin) and (origin in self.settings.origins or is_loopback(urlsplit(origin).netloc))

    def authorized(self, header: str | None) -> bool:
        scheme, _, credentials = (header or "").strip().partition(" ")
        given = credentials.strip().encode()
        # compare_digest even when the scheme is wrong: no timing difference to learn from.
        return hmac.compare_digest(given, self.expected) and scheme.lower() == "bearer"

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers: dict[str, str] = {}
        for name, value in scope.get("headers") or []:
            headers.setdefault(name.decode("latin-1"), value.decode("latin-1"))
        deny = _deny_rest if is_rest_path(scope.get("path", "")) else _deny
        if not self.host_allowed(headers.get("host")):
            await deny(send, 421, f"Host {headers.get('host', '(none)')!r} is not this server's name; "
                                   f"list it in {HOSTS_VAR} to allow it")
            return
        if not self.origin_allowed(headers.get("origin")):
            await deny(send, 403, f"Origin {headers['origin']!r} is not allowed; list it in {ORIGINS_VAR} "
                                   "to allow it")
            return
        # The status page signs people in itself (a form, then a session cookie): status_page.py.
        if self.expected and not is_status_path(scope.get("path", "")) and not self.authorized(
                headers.get("authorization")):
            await deny(send, 401, f"unauthorized: send Authorization: Bearer <{TOKEN_VAR}>",
                        [(b"www-authenticate", b'Bearer realm="mcp-push"')])
            return
        if scope.get("method") == "GET" and scope.get("path", "").rstrip("/") == self.settings.path.rstrip("/"):
            await _deny(send, 405, "this server offers no event stream: POST JSON-RPC requests",
                        [(b"allow", b"POST")])
            return
        await self.app(scope, receive, send)


async def _deny(send: Any, status: int, message: str, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    """A JSON-RPC error body (what MCP clients read) with the HTTP status."""
    body = json.dumps({"jsonrpc": "2.0", "id": None, "error": {"code": -32000, "message": message}}).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"), *(headers or []),
    ]})
    await send({"type": "http.response.body", "body": body})


async def _deny_rest(send: Any, status: int, message: str, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    """The REST endpoint's error body, {"error": message}, with the HTTP status."""
    await respond(send, status, json_body({"error": message}), [(b"connection", b"close"), *(headers or [])])


def build_app(server: Any, settings: HttpSettings, store: IdempotencyStore | None = None) -> Any:
    """The SDK's stateless JSON app for `server` (an MCPServer from create_server) with the REST endpoint
    (rest.py; idempotency keys in `store`, else in memory) behind Guard. The SDK's own Host/Origin check
    is off (Guard does it for every bind); its body limit is ours."""
    from mcp.server.transport_security import TransportSecuritySettings

    app = server.streamable_http_app(
        streamable_http_path=settings.path, stateless_http=True, json_response=True, host=settings.host,
        max_request_body_size=settings.max_body,
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )
    from .metrics import MetricsApp  # /metrics (issue 17), behind the same Guard

    rest = RestApp(app, server.mcp_push_call, settings.max_body, store)
    engine = getattr(server, "mcp_push_engine", None)
    guarded = Guard(StatusPage(MetricsApp(rest, engine), engine, settings.token), settings)
    # notify_ask's answer page (/v1/answer/<token>): its token is its credential, so it sits before the guard.
    from ..asking.links import AnswerPages

    return AnswerPages(guarded, server.mcp_push_asks) if hasattr(server, "mcp_push_asks") else guarded


# --- connections ---------------------------------------------------------------------------------------

_BUSY = (b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\nconnection: close\r\n"
         b"content-length: 21\r\nretry-after: 1\r\n\r\ntoo many connections\n")
_SLOW = (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain\r\nconnection: close\r\n"
         b"content-length: 28\r\n\r\nrequest not received in time\n")


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each whole request and a cap on open connections
    (uvicorn has neither: a client that sends half a header holds its connection forever)."""

    header_timeout: float = DEFAULT_HEADER_TIMEOUT
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    _refused = False
    _deadline: Any = None

    def connection_made(self, transport: Any) -> None:  # type: ignore[override]
        if len(self.server_state.connections) >= self.max_connections:
            self._refused = True
            transport.write(_BUSY)
            # Half-close and drop what the client still sends for a moment: closing with unread data
            # would reset the connection, and the client might never see the 503.
            if transport.can_write_eof():
                transport.write_eof()
            self.loop.call_later(1.0, transport.close)
            return
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if not self._refused:
            super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if not self._refused:
            super().data_received(data)

    def handle_events(self) -> None:
        super().handle_events()
        if self.conn.their_state is not h11.IDLE and self.conn.their_state is not h11.SEND_BODY:
            self._disarm()  # the whole request is in: the answer may take as long as it takes

    def on_response_complete(self) -> None:
        self._arm()  # before: a pipelined request handled inside completes and disarms it
        super().on_response_complete()

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(self.header_timeout, self._too_slow)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self.conn.their_state is h11.IDLE:
            self.transport.write(_SLOW)  # no request was read, so nothing of an answer was written
        self.transport.close()


def protocol_for(settings: HttpSettings) -> type[GuardedH11Protocol]:
    return type("MCPPushH11Protocol", (GuardedH11Protocol,), {
        "header_timeout": settings.header_timeout, "max_connections": settings.max_connections})


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound now, so a taken port is reported before anything says "serving".
    OSError as the system words it."""
    family = socket.AF_INET6 if ":" in _host_name(host) else socket.AF_INET
    if _host_name(host) == "localhost":
        host = "127.0.0.1"
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((_host_name(host) if family == socket.AF_INET6 else host, port))
        sock.listen(2048)
    except BaseException:
        sock.close()
        raise
    return sock


def _exit_on_term(signum: int, frame: Any) -> None:
    raise SystemExit(0)


def serve(app: Any, settings: HttpSettings, sock: socket.socket) -> None:
    import signal
    import threading

    import uvicorn

    if threading.current_thread() is threading.main_thread():
        # uvicorn shuts down on SIGTERM and then raises it again: with the default handler the process would
        # die there, before its engine's owner drains what was accepted (lifecycle.stop_engine).
        signal.signal(signal.SIGTERM, _exit_on_term)

    config = uvicorn.Config(
        app, http=protocol_for(settings), timeout_keep_alive=settings.idle_timeout,  # type: ignore[arg-type]
        log_config=None, log_level="warning",  # uvicorn's records go through logging to stderr, never stdout
        ws="none", lifespan="on",
    )
    _draining(uvicorn.Server)(config).run(sockets=[sock])


def _draining(server: type) -> type:
    """uvicorn's Server, except that a SIGTERM or SIGINT it shut down for is not raised again afterwards:
    uvicorn does, and that ends the process before the lifecycle drains the engine (lifecycle.stop_engine),
    so what a client was just told is queued would wait in the outbox for the next start."""
    import contextlib

    class Draining(server):  # type: ignore[misc, valid-type]
        @contextlib.contextmanager
        def capture_signals(self):
            with super().capture_signals():
                try:
                    yield
                finally:
                    getattr(self, "_captured_signals", []).clear()

    return Draining
