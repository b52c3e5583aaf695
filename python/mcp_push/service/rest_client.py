"""The client of a running server's REST endpoint (`POST $MCP_PUSH_URL/v1/events`), for callers that hand
their events over instead of sending them themselves: the agent-host hooks, `mcp-push run`, Celery."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..config import setting, strip_space

URL_VAR, TOKEN_VAR = "MCP_PUSH_URL", "MCP_PUSH_HTTP_TOKEN"


class RestError(Exception):
    """The server could not be reached, or it refused the event; the message says which and why."""


def server_url(env: Mapping[str, Any]) -> str:
    """MCP_PUSH_URL without its trailing '/', or "" when events are sent by this process."""
    return strip_space(setting(URL_VAR, env)).rstrip("/")


def post_event(envelope: Mapping[str, Any], env: Mapping[str, Any], channels: Iterable[str] | None = None,
               timeout: float = 10.0) -> dict[str, Any]:
    """POSTs the event to the server; returns its JSON answer (the per-channel accepted result)."""
    import requests

    body = dict(envelope)
    if channels is not None:
        body["channels"] = list(channels)
    headers = {"Content-Type": "application/json"}
    token = strip_space(setting(TOKEN_VAR, env))
    if token:
        headers["Authorization"] = f"Bearer {token}"
    url = f"{server_url(env)}/v1/events"
    try:
        reply = requests.post(url, json=body, headers=headers, timeout=timeout)
    except requests.RequestException as exc:
        raise RestError(f"{URL_VAR}: cannot reach {url}: {type(exc).__name__}") from None
    try:
        answer = reply.json()
    except ValueError:
        answer = {}
    if reply.status_code >= 300:
        detail = answer.get("error") if isinstance(answer, dict) else None
        raise RestError(f"{url} answered {reply.status_code}" + (f": {detail}" if detail else ""))
    return answer if isinstance(answer, dict) else {}
