"""A small client of a running mcp-push server's REST endpoint (`mcp-push serve --transport http`):
what agent-host hooks and `mcp-push run` use to hand an event to the server instead of sending it
themselves. MCP_PUSH_URL is the server's base URL (http://127.0.0.1:8765), MCP_PUSH_HTTP_TOKEN its
bearer token. Errors are RestError with one clear line (never the token); RestUnreachable when no
server answers at all, so a caller can fall back to sending the event itself."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from ..config import setting
from ..redact import REGISTRY

URL_VAR = "MCP_PUSH_URL"
TOKEN_VAR = "MCP_PUSH_HTTP_TOKEN"  # noqa: S105 (a variable name, not a token)
DEFAULT_TIMEOUT = 5.0  # seconds for the whole exchange with a local server that answers 202 at once


class RestError(RuntimeError):
    """The server could not take the request: the message says why, `status` is its HTTP status (None
    when there was no answer)."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class RestUnreachable(RestError):
    """No server answered at MCP_PUSH_URL (refused, unknown host, no connection in time): nothing was sent."""


class RestTimeout(RestError):
    """The server took the connection but did not answer in time: it may have taken the request (ask again
    with the same Idempotency-Key to know without sending twice)."""


def server_url(env: Mapping[str, Any]) -> str | None:
    """MCP_PUSH_URL without a trailing slash, or None when unset (ConfigError when not an http(s) URL)."""
    url = setting(URL_VAR, env).strip()
    return url.rstrip("/") or None


def _shown(url: str) -> str:
    """The URL as errors name it: scheme, host and port only (no credentials, path or query)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}"


Timeout = float | tuple[float, float]


def post(path: str, body: Mapping[str, Any], env: Mapping[str, Any], timeout: Timeout = DEFAULT_TIMEOUT,
         params: Mapping[str, str] | None = None, headers: Mapping[str, str] | None = None) -> dict[str, Any]:
    """POSTs `body` as JSON to MCP_PUSH_URL + `path` with the bearer token; the answer's JSON object, or
    RestError. `timeout` bounds connecting and each read, or is (connect, read) seconds."""
    import requests  # the hook's fast paths (an ignored event) never pay for it

    base = server_url(env)
    if base is None:
        raise RestError(f"{URL_VAR} is not set: no server to hand the request to")
    token = setting(TOKEN_VAR, env).strip()
    sent = {"Accept": "application/json", **(headers or {})}
    if token:
        REGISTRY.add([token])  # whatever an error repeats of it is masked
        sent["Authorization"] = f"Bearer {token}"
    where = _shown(base)
    try:
        answer = requests.post(base + path, json=dict(body), params=params, headers=sent, timeout=timeout,
                               allow_redirects=False)
    except requests.ConnectTimeout:  # before Timeout: it is both, and nothing was sent
        raise RestUnreachable(f"cannot reach the mcp-push server at {where} (no connection within "
                              f"{_connect(timeout):g} s)") from None
    except requests.Timeout:
        raise RestTimeout(f"the mcp-push server at {where} did not answer within {_read(timeout):g} s") from None
    except requests.ConnectionError as exc:
        raise RestUnreachable(f"cannot reach the mcp-push server at {where} ({_reason(exc)})") from None
    except requests.RequestException as exc:
        raise RestError(f"cannot send to the mcp-push server at {where}: {_reason(exc)}") from None
    try:
        data = answer.json()
    except ValueError:
        data = None
    if answer.status_code >= 400 or not isinstance(data, dict):
        raise RestError(_refusal(answer.status_code, data, answer.text, where, path), answer.status_code)
    return data


def post_event(envelope: Mapping[str, Any], env: Mapping[str, Any], channels: Iterable[str] | None = None,
               timeout: Timeout = DEFAULT_TIMEOUT, wait: bool = False,
               idempotency_key: str | None = None) -> dict[str, Any]:
    """`POST /v1/events`: the envelope (spec/envelope.schema.json), optionally only to `channels`; the
    server's result (ok, delivered, queued, total, summary, channels ...). `wait` asks for the final results."""
    body = dict(envelope)
    if channels is not None:
        body["channels"] = list(channels)
    return post("/v1/events", body, env, timeout, params={"wait": "true"} if wait else None,
                headers={"Idempotency-Key": idempotency_key} if idempotency_key else None)


def post_message(title: str, content: str, env: Mapping[str, Any], channels: Iterable[str] | None = None,
                 timeout: float = DEFAULT_TIMEOUT, wait: bool = False) -> dict[str, Any]:
    """`POST /v1/messages`: a plain message, as post_event."""
    body: dict[str, Any] = {"title": title, "content": content}
    if channels is not None:
        body["channels"] = list(channels)
    return post("/v1/messages", body, env, timeout, params={"wait": "true"} if wait else None)


def _connect(timeout: Timeout) -> float:
    return timeout[0] if isinstance(timeout, tuple) else timeout


def _read(timeout: Timeout) -> float:
    return timeout[1] if isinstance(timeout, tuple) else timeout


def _reason(exc: Exception) -> str:
    """A requests error in a few words ('Connection refused'), not urllib3's paragraph about pools."""
    text = str(exc)
    errno = re.search(r"\[Errno -?[0-9]+\] ([^'\")\]]+)", text)
    if errno:
        return errno.group(1).strip()
    return type(exc).__name__ if len(text) > 200 or not text else text


def _refusal(status: int, data: Any, text: str, where: str, path: str) -> str:
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict):  # the MCP endpoint's JSON-RPC shape: {"error": {"code", "message"}}
        error = error.get("message")
    detail = str(error) if error else " ".join(text.split())[:200]
    if status == 401:
        return f"the mcp-push server at {where} refused the token (401): set {TOKEN_VAR} to the server's token"
    if status == 404:
        return f"the mcp-push server at {where} has no {path} (404): is {URL_VAR} its base URL, and is it recent?"
    if status < 400:
        return f"the mcp-push server at {where} answered {status} without a JSON object"
    return f"the mcp-push server at {where} answered {status}" + (f": {detail}" if detail else "")
