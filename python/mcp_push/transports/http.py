"""HTTP transport: sends the planned bytes unchanged, with a timeout on connect and on every read."""

from __future__ import annotations

import requests

from ..planner import PlannedRequest
from . import Reply, TransportError

# Failures worth another try: the vendor may be restarting. DNS and TLS failures are configuration.
RETRYABLE_REASONS = frozenset({"connection refused", "connection reset", "connection failed"})

# Why a connection failed, in the words both runtimes use (the Node transport classifies alike).
_REASONS = (
    (("Connection refused", "ECONNREFUSED"), "connection refused"),
    (("Failed to resolve", "Name or service not known", "nodename nor servname", "getaddrinfo"), "host not found"),
    (("SSLError", "CERTIFICATE_VERIFY_FAILED", "SSL:", "TLS"), "TLS failed"),
    (("Connection reset", "ConnectionResetError", "RemoteDisconnected", "Connection aborted"), "connection reset"),
)


def failure_reason(exc: BaseException) -> str:
    text = f"{exc!r} {exc}"
    for needles, reason in _REASONS:
        if any(needle in text for needle in needles):
            return reason
    return "connection failed"


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
            raise TransportError("timeout", f"no reply within {timeout:g} s") from exc
        except requests.RequestException as exc:
            reason = failure_reason(exc)
            raise TransportError(
                "network_error", f"{reason} ({request.method} {request.url})", reason in RETRYABLE_REASONS
            ) from exc
        # requests assumes ISO-8859-1 for text/* without a charset; vendors mean UTF-8 (Chinese messages).
        if "charset=" not in response.headers.get("Content-Type", "").lower():
            response.encoding = "utf-8"
        headers = {name.lower(): value for name, value in response.headers.items()}
        return Reply(response.status_code, response.text, headers)
