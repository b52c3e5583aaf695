"""The service's lifecycle: who builds the engine, starts it, serves MCP over a transport and stops it.

The owner of the lifecycle (here `serve`, or a test) builds the one engine and passes it to
`create_server`, which never builds or starts one of its own. `mcp-push serve` is `serve(...)`; the
CLI only parses arguments and reports a ServeError as a usage error.
"""

from __future__ import annotations

import errno
import logging
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from .engine import Engine
from .outbox import Outbox, state_dir

log = logging.getLogger("mcp_push")

# When the host closes stdin, queued deliveries get this long to go out before the process ends; what
# still waits (a rate limit, a retry) stays in the outbox for the next start or `mcp-push flush`.
SHUTDOWN_DRAIN_SECONDS = 5.0


class ServeError(ValueError):
    """The service cannot start as asked (its outbox, its address, its settings): one line for people."""


def open_engine(source: Mapping[str, Any]) -> Engine:
    """The engine over the user's outbox (MCP_PUSH_STATE_DIR, or memory with MCP_PUSH_OUTBOX=false), not
    started yet; ServeError naming the folder when it cannot be made or written. With MCP_PUSH_DATABASE_URL,
    the engine over PostgreSQL instead (service/pg)."""
    from .backend import uses_postgres

    if uses_postgres(source):
        from .pg.open import open_pg_engine

        return open_pg_engine(source, ServeError)
    from .watchers import watch

    try:
        return watch(Engine(source, Outbox.for_source(source)), source)
    except OSError as exc:  # say which folder and why, not the exception class
        raise ServeError(f"cannot keep the outbox in {state_dir(source)} (MCP_PUSH_STATE_DIR): "
                         f"{exc.strerror or exc}") from None


def stop_engine(engine: Engine, drain_seconds: float = SHUTDOWN_DRAIN_SECONDS) -> None:
    """Gives queued deliveries `drain_seconds` to go out, then stops; the rest stays in the outbox."""
    if not engine.drain(drain_seconds):
        log.info("stopping with deliveries still queued; the next start or `mcp-push flush` sends them")
    engine.close()


@contextmanager
def running_engine(source: Mapping[str, Any], drain_seconds: float = SHUTDOWN_DRAIN_SECONDS) -> Iterator[Engine]:
    """The engine, started (what a killed predecessor left in the outbox goes out at once), stopped at
    the end of the block."""
    from .routing_service import start_routing

    engine = open_engine(source)
    try:
        start_routing(engine.start(), source)  # held messages of a routing config go out when due
        yield engine
    finally:
        stop_engine(engine, drain_seconds)


def serve(source: Mapping[str, Any], transport: str, host: str | None = None, port: int | None = None,
          path: str | None = None) -> None:
    """Serves MCP on stdio or streamable HTTP until the host leaves (stdin closed) or the process is
    interrupted; ServeError for anything that keeps it from starting."""
    from .server import ServerConfigError, create_server

    if transport == "stdio":
        given = [flag for flag, value in (("host", host), ("port", port), ("path", path)) if value is not None]
        if given:
            raise ServeError(f"--{given[0]} applies to --transport http only (stdio has no address)")
    with running_engine(source) as engine:
        try:
            server = create_server(source, engine=engine)
        except ServerConfigError as exc:
            raise ServeError(str(exc)) from None
        if transport == "stdio":
            _serve_stdio(server)
        else:
            _serve_http(source, server, host, port, path, engine)


def _serve_stdio(server: Any) -> None:
    import anyio

    from .server import WAIT_LIMIT_SECONDS
    from .stdio_transport import serve_stdio

    if sys.stdin.isatty():
        log.warning("serving MCP on stdio: an MCP host runs this; see `mcp-push --help` for the commands")
    # Every request read before stdin closed is answered: a wait=true call may take its whole limit.
    anyio.run(serve_stdio, server._lowlevel_server, WAIT_LIMIT_SECONDS + 10)


def _serve_http(source: Mapping[str, Any], server: Any, host: str | None, port: int | None,
                path: str | None, engine: Engine) -> None:
    """HTTP with its guards (http_app.py) and the REST endpoint (rest.py, idempotency keys next to the
    engine's outbox): a non-loopback bind needs the bearer token."""
    from . import http_app

    host = host if host is not None else "127.0.0.1"
    port = port if port is not None else http_app.DEFAULT_PORT
    path = path if path is not None else "/mcp"
    if not path.startswith("/"):
        raise ServeError(f"--path must start with '/', got '{path}'")
    try:
        settings = http_app.http_settings(source, host, port, path)
    except http_app.HttpConfigError as exc:
        raise ServeError(str(exc)) from None
    if not http_app.is_loopback(host) and not settings.token:
        raise ServeError(f"refusing to serve on {host} without {http_app.TOKEN_VAR}: anyone who reaches it could "
                         "push through your channels; set the token or bind 127.0.0.1")
    try:
        sock = http_app.bind(host, port)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise ServeError(f"port {port} on {host} is in use: stop what uses it or choose another with --port") \
                from None
        raise ServeError(f"cannot listen on {host} port {port}: {exc.strerror or exc}") from None
    except OverflowError:
        raise ServeError(f"--port must be a port number from 0 to 65535, got '{port}'") from None
    bound_port = sock.getsockname()[1]
    log.info("serving MCP on http://%s:%d%s%s", f"[{host}]" if ":" in host else host, bound_port, path,
             " (bearer token required)" if settings.token else "")
    store = engine.outbox.idempotency()
    try:
        http_app.serve(http_app.build_app(server, settings, store), settings, sock)
    finally:
        store.close()
