"""HTTP transport: sends the planned bytes unchanged, with a timeout on connect and on every read.

Built on urllib3, the library requests itself sends through (the transport used requests until importing
it cost a fresh process 40-55 ms and each request twice urllib3's CPU). What requests did for a send here
is kept, step for step, and pinned by tests: the URL prepared as requests prepares it (its user and
password become Basic authorization), its header checks, its default headers (Accept-Encoding, Accept,
Connection; urllib3 names itself in User-Agent), Content-Length, proxies from the environment by
requests' trust_env rules (proxy_env.py), the CA bundle it reads (REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE,
else certifi's), no retries and no redirects, the body decoded (gzip, deflate, br, zstd) and read as
requests reads text, and each failure classified as requests wrapped it (a timeout while waiting for the
reply's headers is a timeout; one while reading its body came after the request was written).
Connections are pooled per process (pools.py).
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from urllib3 import BaseHTTPResponse, Timeout
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    LocationValueError,
    MaxRetryError,
    NewConnectionError,
    ReadTimeoutError,
    SSLError,
)
from urllib3.exceptions import InvalidHeader as _Urllib3InvalidHeader
from urllib3.util import Retry, make_headers, parse_url

from ..envlayers import environ_get
from ..planner import PlannedRequest
from ..wire import seconds_text
from . import Reply, TransportError, pools
from .pools import IDLE_REUSE_SECONDS as IDLE_REUSE_SECONDS  # re-exported: tests age connections past it
from .proxy_env import env_proxies as env_proxies  # re-exported: the proxy choice is this transport's
from .proxy_env import select_proxy

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

# What requests' Session sent with every request (requests.utils.default_headers) but its User-Agent.
_DEFAULT_HEADERS = (
    ("Accept-Encoding", ", ".join(re.split(r",\s*", make_headers(accept_encoding=True)["accept-encoding"]))),
    ("Accept", "*/*"),
    ("Connection", "keep-alive"),
)
# requests' header checks (requests._internal_utils): a name without ':' or whitespace at its start, a
# value that does not start with whitespace; neither may hold a line break.
_VALID_NAME = re.compile(r"^[^:\s][^:\r\n]*\Z")
_VALID_VALUE = re.compile(r"^\S[^\r\n]*\Z|^\Z")
# requests' HTTPAdapter(max_retries=0): no second try, and a failure while reading the reply raised as is.
_NO_RETRIES = Retry(0, read=False)
_CHUNK = 10 * 1024


class InvalidHeader(ValueError):
    """A header the HTTP request cannot carry (requests' InvalidHeader)."""


class InvalidURL(ValueError):
    """A URL or proxy URL that names no host, or a scheme that is not HTTP (requests' InvalidURL)."""


class MissingCABundle(OSError):
    """The CA bundle named is not there (requests raised this OSError, not a network failure)."""


class _ReplyBroken(Exception):
    """The reply's body could not be read to its end (requests raised ChunkedEncodingError,
    ContentDecodingError or ConnectionError for it; SSLError for a TLS failure)."""

    def __init__(self, error: BaseException):
        super().__init__(error)
        self.error = error


def _causes(exc: BaseException):
    """exc and everything it wraps: urllib3 nests the socket's error in args and `reason`."""
    seen, todo = set(), [exc]
    while todo:
        error = todo.pop()
        if not isinstance(error, BaseException) or id(error) in seen:
            continue
        seen.add(id(error))
        yield error
        # Explicit wrapping only: an error merely raised while handling another says nothing of it.
        todo += [error.__cause__, getattr(error, "reason", None), getattr(error, "original_error", None), *error.args]


def _is_tls(exc: BaseException) -> bool:
    """requests raised its SSLError: urllib3's SSLError itself, or as the reason retries gave up."""
    return isinstance(exc, SSLError) or (isinstance(exc, MaxRetryError) and isinstance(exc.reason, SSLError))


def _is_timeout(exc: BaseException) -> bool:
    """requests raised a Timeout: no connection within the connect timeout (urllib3's connect failures
    are ConnectTimeoutErrors too, but not timeouts), or no reply headers within the read timeout."""
    if isinstance(exc, MaxRetryError):
        return isinstance(exc.reason, ConnectTimeoutError) and not isinstance(exc.reason, NewConnectionError)
    return isinstance(exc, ReadTimeoutError)


def written_before_failure(exc: BaseException) -> bool:
    """False only when the failure surely came before any byte of the request was written: urllib3's
    own connect-phase errors (refused, unreachable, DNS: NewConnectionError and NameResolutionError
    are ConnectTimeoutErrors), a TLS handshake, or a proxy that refused the CONNECT tunnel. Anything
    else (the server closed or reset the connection, a reply cut short) may have reached the vendor.
    A forwarding proxy that closes after reading the request is wrapped in a ProxyError too, which is
    why the innermost cause decides, not the wrapper."""
    if _is_tls(exc.error if isinstance(exc, _ReplyBroken) else exc):
        return False
    if isinstance(exc, _ReplyBroken):
        return True
    for cause in _causes(exc):
        if isinstance(cause, ConnectTimeoutError):
            return False
        if (cause is exc or isinstance(cause, OSError)) and "Tunnel connection failed" in str(cause):
            return False
    return True


@dataclass(frozen=True)
class Prepared:
    """A request as it goes out: `url` as requests prepared it (its user and password still in it),
    `target` the request line's (the path, or the whole URL to a forwarding proxy), `headers` complete."""

    method: str
    url: str
    scheme: str
    host: str
    port: int | None
    target: str
    headers: dict[str, str]
    body: bytes | None
    proxy: str | None
    verify: str | bool


def ca_bundle() -> str | bool:
    """The CA bundle requests' trust_env read (REQUESTS_CA_BUNDLE, then CURL_CA_BUNDLE), else verify
    with the default one (certifi's)."""
    return environ_get("REQUESTS_CA_BUNDLE") or environ_get("CURL_CA_BUNDLE") or True


def prepare(request: PlannedRequest) -> Prepared:
    """requests' PreparedRequest and HTTPAdapter.request_url for the planned request; ValueError (an
    InvalidURL, an InvalidHeader, a UnicodeEncodeError) when it cannot go on the wire as configured."""
    prepared_url, target, scheme, host, port, netloc, user, password = _url_facts(request.url.lstrip())

    merged: dict[str, tuple[str, str]] = {name.lower(): (name, value) for name, value in _DEFAULT_HEADERS}
    for name, value in request.headers.items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise InvalidHeader("a header name and value are text")
        if not _VALID_NAME.match(name) or not _VALID_VALUE.match(value):
            raise InvalidHeader("a header holds a line break or leading whitespace")
        merged[name.lower()] = (name, value)
    body = request.body.encode("utf-8") if isinstance(request.body, str) and request.body else None
    if body is not None:
        merged["content-length"] = ("Content-Length", str(len(body)))
    elif request.method not in ("GET", "HEAD") and "content-length" not in merged:
        merged["content-length"] = ("Content-Length", "0")
    if user or password:  # requests' prepare_auth: the URL's user and password, as Basic authorization
        merged["authorization"] = ("Authorization", make_headers(basic_auth=f"{user}:{password}")["authorization"])

    # Without a spec-named proxy, HTTP(S)_PROXY / NO_PROXY from the environment apply, as requests reads them.
    proxies = {"http": request.proxy, "https": request.proxy} if request.proxy else env_proxies(prepared_url)
    proxy = select_proxy(prepared_url, proxies) if proxies else None
    if proxy:
        proxy = _with_scheme(proxy)
        if not parse_url(proxy).host:
            raise InvalidURL("Please check proxy URL. It is malformed and could be missing the host.")
        if scheme != "https" and not proxy.lower().startswith("socks"):
            target = f"{scheme}://{netloc}{target}"  # a forwarding proxy's request line
    return Prepared(
        request.method, prepared_url, scheme, host, port, target,
        {name: value for name, value in merged.values()}, body, proxy, ca_bundle(),
    )


# What prepare() reads from a URL, kept per URL: the same few URLs go out with every message (one that
# carries the message text is one entry among the bounded few). A URL that cannot go out raises each time.
@functools.lru_cache(maxsize=512)
def _url_facts(url: str) -> tuple[str, str, str, str, int | None, str, str, str]:
    """(the URL as requests prepares it, the request line's path and query, its scheme in lower case, host,
    port, host and port as written, the user and password of get_auth_from_url)."""
    parsed = parse_url(url)  # LocationParseError is a ValueError
    if not parsed.scheme or parsed.scheme.lower() not in ("http", "https"):
        raise InvalidURL(f"no HTTP scheme: {parsed.scheme}")
    if not parsed.host:
        raise InvalidURL("no host")
    if parsed.host.startswith(("*", ".")):
        raise InvalidURL("URL has an invalid label.")
    netloc = f"{parsed.auth}@" if parsed.auth else ""
    netloc += parsed.host + (f":{parsed.port}" if parsed.port else "")
    path = parsed.path or "/"
    query = f"?{parsed.query}" if parsed.query else ""
    prepared_url = f"{parsed.scheme}://{netloc}{path}{query}" + (f"#{parsed.fragment}" if parsed.fragment else "")
    split = urlsplit(prepared_url)
    user, password = _credentials(prepared_url)
    return (prepared_url, path + query, split.scheme.lower(), split.hostname or "", split.port,
            split.netloc.rsplit("@", 1)[-1], user, password)


def _credentials(url: str) -> tuple[str, str]:
    """requests' get_auth_from_url: both unquoted, or none when either is missing."""
    split = urlsplit(url)
    if split.username is None or split.password is None:
        return "", ""
    return unquote(split.username), unquote(split.password)


def _with_scheme(proxy: str) -> str:
    """requests' prepend_scheme_if_needed(proxy, "http")."""
    parsed = parse_url(proxy)
    netloc, path = parsed.netloc, parsed.path
    if not netloc:
        netloc, path = path, netloc
    if parsed.auth:
        netloc = f"{parsed.auth}@{netloc}"
    query = f"?{parsed.query}" if parsed.query else ""
    fragment = f"#{parsed.fragment}" if parsed.fragment else ""
    return f"{parsed.scheme or 'http'}://{netloc or ''}{path or ''}{query}{fragment}"


def _pool(prepared: Prepared):
    pool_kwargs: dict[str, Any] = {}
    if prepared.scheme == "https" and prepared.verify:
        bundle = prepared.verify if isinstance(prepared.verify, str) else _default_bundle()
        if not os.path.exists(bundle):
            raise MissingCABundle(f"Could not find a suitable TLS CA certificate bundle, invalid path: {bundle}")
        pool_kwargs = {"cert_reqs": "CERT_REQUIRED", "ssl_context": pools.tls_context(bundle)}
    if prepared.proxy:
        proxy_url = urlsplit(prepared.proxy)
        user = unquote(proxy_url.username) if proxy_url.username is not None else None
        password = unquote(proxy_url.password) if proxy_url.password is not None else None
        manager = pools.through(prepared.proxy, pools.proxy_headers(user, password))
    else:
        manager = pools.direct()
    try:
        return manager.connection_from_host(prepared.host, prepared.port, prepared.scheme, pool_kwargs=pool_kwargs)
    except LocationValueError as exc:
        raise InvalidURL(str(exc)) from exc


def _default_bundle() -> str:
    import certifi  # requests' default CA bundle (requests.certs.where)

    return certifi.where()


def exchange(prepared: Prepared, timeout: float) -> BaseHTTPResponse:
    """Sends the request; the reply's status and headers are read, its body is not. The replayer of the
    conformance cases (conformance/runners/python_runner.py) stands in for it."""
    return _pool(prepared).urlopen(
        prepared.method, prepared.target, body=prepared.body, headers=prepared.headers, redirect=False,
        assert_same_host=False, preload_content=False, decode_content=False, retries=_NO_RETRIES,
        timeout=_timeout(timeout), chunked=False,
    )


@functools.lru_cache(maxsize=16)
def _timeout(seconds: float) -> Timeout:
    """One Timeout per value (urllib3 clones it for each connection; it is never changed)."""
    return Timeout(connect=seconds, read=seconds)


def _read(response: BaseHTTPResponse) -> bytes:
    try:
        data = b"".join(response.stream(_CHUNK, decode_content=True))  # as requests reads it
    except (HTTPError, OSError) as exc:
        raise _ReplyBroken(exc) from exc
    response.release_conn()
    return data


def send_http(request: PlannedRequest, timeout: float) -> Reply:
    try:
        prepared = prepare(request)
        response = exchange(prepared, timeout)
        data = _read(response)
    except (_Urllib3InvalidHeader, ValueError) as exc:
        # A control character in a header value or a malformed URL: the configuration, not the network.
        why = f"the request cannot be sent as configured ({type(exc).__name__})"
        raise TransportError("config_error", why) from exc
    except (HTTPError, _ReplyBroken) as exc:
        if _is_timeout(exc):
            raise TransportError("timeout", f"no reply within {seconds_text(timeout)} s") from exc
        raise _network_error(request, exc) from exc
    except MissingCABundle:
        raise
    except OSError as exc:
        raise _network_error(request, exc) from exc
    headers = {name.lower(): response.headers[name] for name in response.headers}  # a repeated one joined ", "
    # A leading byte order mark is not text: dropped, as the WHATWG decoder (Node's TextDecoder) drops it.
    text = decode_text(data, response.headers.get("Content-Type", ""))
    return Reply(response.status, text[1:] if text.startswith("\ufeff") else text, headers)


def _network_error(request: PlannedRequest, exc: BaseException) -> TransportError:
    if written_before_failure(exc):
        # Never retried unless the spec has an idempotency key: a second POST could post twice.
        where = f"{AFTER_WRITE} ({request.method} {request.url})"
        return TransportError("network_error", where, maybe_delivered=True)
    error = exc.error if isinstance(exc, _ReplyBroken) else exc
    # Read as requests' wrapper read: SSLError(...) or ConnectionError(...) around urllib3's error.
    wrapper = "SSLError" if _is_tls(error) else "ConnectionError"
    reason = failure_reason(f"{wrapper}({error!r}) {error}")
    return TransportError("network_error", f"{reason} ({request.method} {request.url})", reason in RETRYABLE_REASONS)


def failure_reason(text: str) -> str:
    """The reason in the words both runtimes use, from the error's repr and text."""
    for needles, reason in _REASONS:
        if any(needle in text for needle in needles):
            return reason
    return "connection failed"


def decode_text(data: bytes, content_type: str) -> str:
    """requests' Response.text, with UTF-8 where the reply names no charset (requests assumed ISO-8859-1
    for text/*; vendors mean UTF-8: Chinese messages)."""
    if not data:
        return ""
    encoding = "utf-8" if "charset=" not in content_type.lower() else _encoding_from_content_type(content_type)
    if encoding is None:
        encoding = _guessed_encoding(data)
    try:
        return str(data, encoding or "utf-8", errors="replace")
    except (LookupError, TypeError):
        return str(data, "utf-8", errors="replace")


def _encoding_from_content_type(content_type: str) -> str | None:
    """requests.utils.get_encoding_from_headers."""
    mime, *parameters = content_type.split(";")
    params: dict[str, str | bool] = {}
    for parameter in parameters:
        parameter = parameter.strip()
        if parameter:
            key, value = parameter, True
            equals = parameter.find("=")
            if equals != -1:
                key, value = parameter[:equals].strip("\"' "), parameter[equals + 1:].strip("\"' ")
            params[key.lower()] = value
    charset = params.get("charset")
    if isinstance(charset, str):
        return charset.strip("'\"")
    mime = mime.strip()
    if "text" in mime:
        return "ISO-8859-1"
    if "application/json" in mime:
        return "utf-8"
    return None


def _guessed_encoding(data: bytes) -> str | None:
    """requests' apparent_encoding (a Content-Type with `charset=` but no charset parameter)."""
    try:
        import charset_normalizer
    except ImportError:  # pragma: no cover - requests depends on it
        return "utf-8"
    return charset_normalizer.detect(data)["encoding"]
