"""The process's urllib3 connection pools: one PoolManager for direct requests and one ProxyManager per
proxy URL, made on first use, shared by the channel threads (urllib3's pools are thread-safe; the table
of proxy managers is guarded here). A forked child makes its own: the parent's sockets are the parent's.

A pooled connection idle longer than IDLE_REUSE_SECONDS is closed rather than reused. urllib3 already
drops one whose server has closed it (is_connection_dropped, checked before every reuse: the server's
FIN has arrived); this keeps clear of the moment a server closes an idle connection just as a request
goes out on it (its FIN still on the way), when the request would fail after being written and read as
"may have been delivered". Well under the shortest keep-alive timeout common servers keep (5 s: Node,
Apache).

TLS: one SSLContext per CA bundle, its certificates loaded once (urllib3 given a bundle path loads it on
every new connection: certifi's 140 roots cost a few ms each time).
"""

from __future__ import annotations

import os
import ssl
import threading
import time

from urllib3 import PoolManager, proxy_from_url
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.util import make_headers
from urllib3.util.ssl_ import create_urllib3_context

from . import request_written

IDLE_REUSE_SECONDS = 2.0
# 8 targets of one channel at once (deliver.TARGETS_AT_ONCE) to one host; a pool per host.
POOLS = 64
POOL_SIZE = 16


class _FreshPoolMixin:
    """A connection pool that reuses a connection only while it has been idle under IDLE_REUSE_SECONDS."""

    def _get_conn(self, timeout=None):
        conn = super()._get_conn(timeout)
        idle_since = getattr(conn, "mcp_push_idle_since", None)
        if idle_since is not None and time.monotonic() - idle_since > IDLE_REUSE_SECONDS:
            conn.close()  # urllib3 opens it anew, as it does a dropped one
        return conn

    def _put_conn(self, conn) -> None:
        if conn is not None:
            conn.mcp_push_idle_since = time.monotonic()
        super()._put_conn(conn)


class _OneWriteMixin:
    """Writes a request's headers and its body in one send: urllib3 (and http.client) write them apart,
    two system calls a request and, on loopback, two wake-ups of the server, while every other channel
    thread waits for the GIL. The bytes on the wire are the same.
    Only for a body whose length the headers give (the transport always sets Content-Length): with a
    Content-Length urllib3 frames nothing itself, so the body goes as it is."""

    def request(self, method, url, body=None, headers=None, **options):
        if isinstance(body, bytes) and body and headers is not None \
                and any(name.lower() == "content-length" for name in headers):
            self._mcp_push_body = body
            try:
                return super().request(method, url, body=None, headers=headers, **options)
            finally:
                self._mcp_push_body = None
        return super().request(method, url, body=body, headers=headers, **options)

    def _send_output(self, message_body=None, encode_chunked=False):
        # http.client's own, with the body joined to the header block it writes (endheaders calls it).
        body = getattr(self, "_mcp_push_body", None)
        if body is None or message_body is not None:
            return super()._send_output(message_body, encode_chunked=encode_chunked)
        self._mcp_push_body = None
        self._buffer.extend((b"", b""))
        head = b"\r\n".join(self._buffer)
        del self._buffer[:]
        self.send(head + body)
        return None


class _WrittenMixin:
    """A connection that says when a request is written (transports.request_written): the sender may then
    do other work while the vendor answers. A proxy's CONNECT is not the request: it is written in connect()."""

    def request(self, *args, **kwargs) -> None:
        super().request(*args, **kwargs)
        request_written()


class _HTTPConnection(_WrittenMixin, _OneWriteMixin, HTTPConnection):
    pass


class _HTTPSConnection(_WrittenMixin, _OneWriteMixin, HTTPSConnection):
    pass


class _HTTPPool(_FreshPoolMixin, HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(_FreshPoolMixin, HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


_POOL_CLASSES = {"http": _HTTPPool, "https": _HTTPSPool}
_SOCKS_POOL_CLASSES: dict[str, type] | None = None  # made on first use: urllib3's SOCKS support imports PySocks

_lock = threading.Lock()
_direct: PoolManager | None = None
_proxied: dict[str, PoolManager] = {}
_contexts: dict[tuple, ssl.SSLContext] = {}


def direct() -> PoolManager:
    global _direct
    if _direct is None:
        with _lock:
            if _direct is None:
                manager = PoolManager(num_pools=POOLS, maxsize=POOL_SIZE, block=False)
                manager.pool_classes_by_scheme = _POOL_CLASSES
                _direct = manager
    return _direct


def through(proxy: str, proxy_headers: dict[str, str]) -> PoolManager:
    """The manager for `proxy` (a URL with a scheme); SOCKS needs urllib3's optional PySocks."""
    manager = _proxied.get(proxy)
    if manager is None:
        with _lock:
            manager = _proxied.get(proxy)
            if manager is None:
                if proxy.lower().startswith("socks"):
                    from urllib3.contrib.socks import SOCKSProxyManager

                    manager = SOCKSProxyManager(proxy, num_pools=POOLS, maxsize=POOL_SIZE, block=False)
                    manager.pool_classes_by_scheme = _socks_pool_classes()
                else:
                    # TCP_NODELAY, as on direct connections: urllib3 turns Nagle's algorithm back on for
                    # proxies, and it writes a request's headers and body apart, so on a reused connection
                    # the body waited for the proxy's delayed ACK of the headers: 40 ms a request.
                    manager = proxy_from_url(proxy, proxy_headers=proxy_headers, num_pools=POOLS,
                                             maxsize=POOL_SIZE, block=False,
                                             socket_options=HTTPConnection.default_socket_options)
                    manager.pool_classes_by_scheme = _POOL_CLASSES
                _proxied[proxy] = manager
    return manager


def _socks_pool_classes() -> dict[str, type]:
    """urllib3's SOCKS pools, with this module's reuse rule and written notice: a SOCKS manager's pools
    must make SOCKS connections (a plain pool took its options and failed with a TypeError: every request
    through ALL_PROXY=socks5://... was an internal_error)."""
    global _SOCKS_POOL_CLASSES
    if _SOCKS_POOL_CLASSES is None:
        from urllib3.contrib.socks import (
            SOCKSConnection,
            SOCKSHTTPConnectionPool,
            SOCKSHTTPSConnection,
            SOCKSHTTPSConnectionPool,
        )

        class _SOCKSConnection(_WrittenMixin, _OneWriteMixin, SOCKSConnection):
            pass

        class _SOCKSHTTPSConnection(_WrittenMixin, _OneWriteMixin, SOCKSHTTPSConnection):
            pass

        class _SOCKSHTTPPool(_FreshPoolMixin, SOCKSHTTPConnectionPool):
            ConnectionCls = _SOCKSConnection

        class _SOCKSHTTPSPool(_FreshPoolMixin, SOCKSHTTPSConnectionPool):
            ConnectionCls = _SOCKSHTTPSConnection

        _SOCKS_POOL_CLASSES = {"http": _SOCKSHTTPPool, "https": _SOCKSHTTPSPool}
    return _SOCKS_POOL_CLASSES


def proxy_headers(username: str | None, password: str | None) -> dict[str, str]:
    """Proxy-Authorization from the proxy URL's user and password, as requests' proxy_headers makes it
    (none for a user without a password: requests' get_auth_from_url reads that as no credentials)."""
    if not username or password is None:
        return {}
    return {"Proxy-Authorization": make_headers(proxy_basic_auth=f"{username}:{password}")["proxy-authorization"]}


def tls_context(bundle: str) -> ssl.SSLContext:
    """A verifying context trusting `bundle` (a file or a folder of certificates), made once per version
    of it: a bundle rewritten in place (same path, new CA) is read again."""
    info = os.stat(bundle)
    key = (bundle, info.st_mtime_ns, info.st_size, info.st_ino)
    context = _contexts.get(key)
    if context is None:
        context = create_urllib3_context(cert_reqs=ssl.CERT_REQUIRED)
        if os.path.isdir(bundle):
            context.load_verify_locations(capath=bundle)
        else:
            context.load_verify_locations(cafile=bundle)
        with _lock:
            if len(_contexts) >= 16:
                _contexts.clear()
            _contexts[key] = context
    return context


def clear() -> None:
    """Closes every pooled connection (the next request opens its own)."""
    with _lock:
        for manager in [_direct, *_proxied.values()]:
            if manager is not None:
                manager.clear()


def _forget() -> None:
    global _direct
    _direct = None
    _proxied.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget)  # the parent's sockets are the parent's
