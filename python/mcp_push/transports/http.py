"""HTTP transport: sends the planned bytes unchanged, with a timeout on connect and on every read."""

from __future__ import annotations

import requests

from ..planner import PlannedRequest
from . import Reply, TransportError


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
            )
        except requests.Timeout as exc:
            raise TransportError("timeout", f"no reply within {timeout:g} s ({type(exc).__name__})") from exc
        except requests.RequestException as exc:
            raise TransportError("network_error", f"{type(exc).__name__}: {exc}") from exc
        # requests assumes ISO-8859-1 for text/* without a charset; vendors mean UTF-8 (Chinese messages).
        if "charset=" not in response.headers.get("Content-Type", "").lower():
            response.encoding = "utf-8"
        return Reply(response.status_code, response.text)
