"""HTTP transport: sends the planned bytes unchanged, with a timeout on connect and on every read."""

from __future__ import annotations

import requests
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


def send_http(request: PlannedRequest, timeout: float) -> Reply:
    body = request.body.encode("utf-8") if isinstance(request.body, str) else None
    # Without a spec-named proxy, requests still honours HTTPS_PROXY / NO_PROXY from the environment.
    proxies = {"http": request.proxy, "https": request.proxy} if request.proxy else None
    with requests.Session() as session:
        try:
            response = session.request(
                request.method,
                request.url,
                headers=request.headers,
                data=body,
                timeout=(timeout, timeout),
                proxies=proxies,
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
