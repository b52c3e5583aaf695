"""HTTP transport: sends the planned bytes unchanged, with a timeout on connect and on every read.

One pooled requests.Session serves the whole process (a Session per request paid a connect and, with
HTTP(S)_PROXY in the environment, a scan of os.environ on every request). Sharing it between the channel
threads is safe for what a request here touches: the adapter's urllib3 PoolManager (urllib3's pools are
thread-safe), its table of proxy managers (guarded below), and the cookie jar, which a policy keeps empty
(each request goes out as a fresh Session sent it: no cookie from an earlier reply). Nothing else of the
Session is changed after it is made. One Session per thread would pool nothing: api.dispatch starts a
thread per channel per send.
"""

from __future__ import annotations

import os
import threading
import time
from http.cookiejar import DefaultCookiePolicy
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.utils import get_environ_proxies
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError

from ..planner import PlannedRequest
from ..wire import seconds_text
from . import Reply, TransportError

# Failures worth another try: the vendor may be restarting. DNS and TLS failures are configuration.
RETRYABLE_REASONS = frozenset({"connection refused", "connection reset", "connection failed"})

# The request was written, then the connection closed (or a reply was cut short): the vendor may have
# it. The same words in both runtimes (spec/README.md, "Retries").
AFTER_WRITE = "connection closed after the request was sent; the message may have been delivered"

# Why a connection failed, in the words both runtimes use (the Node transport classifies alike).
_REASONS = (
    (("Connection refused", "ECONNREFUSED"), "connection refused"),
    (("Failed to resolve", "Name or service not known", "nodename nor servname", "getaddrinfo"), "host not found"),
    (("SSLError", "CERTIFICATE_VERIFY_FAILED", "SSL:", "TLS"), "TLS failed"),
    (("Connection reset", "ConnectionResetError", "Connection aborted"), "connection reset"),
)


def failure_reason(exc: BaseException) -> str:
    text = f"{exc!r} {exc}"
    for needles, reason in _REASONS:
        if any(needle in text for needle in needles):
            return reason
    return "connection failed"


def _causes(exc: BaseException):
    """exc and everything it wraps: requests and urllib3 nest the socket's error in args and `reason`."""
    seen, todo = set(), [exc]
    while todo:
        error = todo.pop()
        if not isinstance(error, BaseException) or id(error) in seen:
            continue
        seen.add(id(error))
        yield error
        # Explicit wrapping only: an error merely raised while handling another says nothing of it.
        todo += [error.__cause__, getattr(error, "reason", None), getattr(error, "original_error", None), *error.args]


def written_before_failure(exc: requests.RequestException) -> bool:
    """False only when the failure surely came before any byte of the request was written: urllib3's
    own connect-phase errors (refused, unreachable, DNS: NewConnectionError and NameResolutionError
    are ConnectTimeoutErrors), a TLS handshake, or a proxy that refused the CONNECT tunnel. Anything
    else (the server closed or reset the connection, a reply cut short) may have reached the vendor.
    A forwarding proxy that closes after reading the request is wrapped in a ProxyError too, which is
    why the innermost cause decides, not the wrapper."""
    if isinstance(exc, requests.exceptions.SSLError):
        return False
    for cause in _causes(exc):
        if isinstance(cause, ConnectTimeoutError):
            return False
        if isinstance(cause, OSError) and "Tunnel connection failed" in str(cause):
            return False
    return True



# A pooled connection idle longer than this is closed rather than reused. urllib3 already drops one whose
# server has closed it (is_connection_dropped, checked before every reuse: the server's FIN has arrived);
# this keeps clear of the moment a server closes an idle connection just as a request goes out on it
# (its FIN still on the way), when the request would fail after being written and read as "may have
# been delivered". Well under the shortest keep-alive timeout common servers keep (5 s: Node, Apache).
IDLE_REUSE_SECONDS = 2.0


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


class _HTTPPool(_FreshPoolMixin, HTTPConnectionPool):
    pass


class _HTTPSPool(_FreshPoolMixin, HTTPSConnectionPool):
    pass


_POOL_CLASSES = {"http": _HTTPPool, "https": _HTTPSPool}


class _Adapter(HTTPAdapter):
    """requests' adapter with the pools above, and its proxy manager table guarded: two threads asking for
    the same new proxy at once would each make one (requests does not lock it)."""

    def __init__(self, **kwargs) -> None:
        self._managers_lock = threading.Lock()
        super().__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOL_CLASSES

    def proxy_manager_for(self, proxy, **proxy_kwargs):
        with self._managers_lock:
            manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = _POOL_CLASSES
        return manager


_SESSION: requests.Session | None = None
_SESSION_LOCK = threading.Lock()


def session() -> requests.Session:
    """The process's Session, made on first use (a forked child makes its own)."""
    global _SESSION
    if _SESSION is None:
        with _SESSION_LOCK:
            if _SESSION is None:
                made = requests.Session()
                # The environment is read below (env_proxies, ca_bundle), not by requests on every request;
                # nor is ~/.netrc: its login would replace the planned Authorization header.
                made.trust_env = False
                made.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))  # stores no cookie
                # 8 targets of one channel at once (deliver.TARGETS_AT_ONCE) to one host; a pool per host.
                adapter = _Adapter(pool_connections=64, pool_maxsize=16, max_retries=0)
                made.mount("http://", adapter)
                made.mount("https://", adapter)
                _SESSION = made
    return _SESSION


def _forget_session() -> None:
    global _SESSION
    _SESSION = None  # the parent's sockets are the parent's


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_session)


# What the proxy choice depends on besides the URL's scheme and host: the variables requests reads
# (lower case first), REQUEST_METHOD (CGI: HTTP_PROXY is then ignored), and the environment's size (a
# proxy variable in another spelling, Https_Proxy, changes it when it comes or goes).
_PROXY_VARIABLES = ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY",
                    "no_proxy", "NO_PROXY", "REQUEST_METHOD")
_ROUTES: dict[tuple, dict[str, str]] = {}


def env_proxies(url: str) -> dict[str, str]:
    """The proxies requests' trust_env would use for `url` (requests.utils.get_environ_proxies), computed
    once per environment and host: requests scans all of os.environ two or three times per request
    (0.2 ms with 60 variables, 0.9 ms with 360, as a QingLong container has)."""
    environ = os.environ
    parts = urlsplit(url)
    key = (len(environ), *(environ.get(name) for name in _PROXY_VARIABLES), parts.scheme, parts.netloc)
    found = _ROUTES.get(key)
    if found is None:
        if len(_ROUTES) >= 256:
            _ROUTES.clear()
        found = _ROUTES[key] = get_environ_proxies(url)
    return dict(found)


def ca_bundle() -> str | bool:
    """The CA bundle requests' trust_env reads (REQUESTS_CA_BUNDLE, then CURL_CA_BUNDLE), else verify."""
    return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True


def send_http(request: PlannedRequest, timeout: float) -> Reply:
    body = request.body.encode("utf-8") if isinstance(request.body, str) else None
    try:
        # Without a spec-named proxy, HTTP(S)_PROXY / NO_PROXY from the environment apply, as requests reads them.
        proxies = {"http": request.proxy, "https": request.proxy} if request.proxy else env_proxies(request.url)
        response = session().request(
            request.method,
            request.url,
            headers=request.headers,
            data=body,
            timeout=(timeout, timeout),
            proxies=proxies,
            verify=ca_bundle(),
            # The planned request is the request: a redirect would turn a POST into a GET elsewhere.
            allow_redirects=False,
        )
    except (requests.exceptions.InvalidHeader, requests.exceptions.InvalidURL, ValueError) as exc:
        # A control character in a header value or a malformed URL: the configuration, not the network.
        why = f"the request cannot be sent as configured ({type(exc).__name__})"
        raise TransportError("config_error", why) from exc
    except requests.Timeout as exc:
        raise TransportError("timeout", f"no reply within {seconds_text(timeout)} s") from exc
    except requests.RequestException as exc:
        if written_before_failure(exc):
            # Never retried unless the spec has an idempotency key: a second POST could post twice.
            where = f"{AFTER_WRITE} ({request.method} {request.url})"
            raise TransportError("network_error", where, maybe_delivered=True) from exc
        reason = failure_reason(exc)
        raise TransportError(
            "network_error", f"{reason} ({request.method} {request.url})", reason in RETRYABLE_REASONS
        ) from exc
    # requests assumes ISO-8859-1 for text/* without a charset; vendors mean UTF-8 (Chinese messages).
    if "charset=" not in response.headers.get("Content-Type", "").lower():
        response.encoding = "utf-8"
    headers = {name.lower(): value for name, value in response.headers.items()}
    # A leading byte order mark is not text: dropped, as the WHATWG decoder (Node's TextDecoder) drops it.
    text = response.text
    return Reply(response.status_code, text[1:] if text.startswith("\ufeff") else text, headers)
