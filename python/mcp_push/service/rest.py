"""The REST endpoint on the streamable-HTTP app, for callers that are not MCP clients (hooks, CI, cron,
orchestrators). http_app.Guard is in front of it: the same Host, Origin and bearer-token rules as MCP.

    POST /v1/events    the event envelope (spec/envelope.schema.json) + optional channels, wait, event_id
    POST /v1/messages  {title, content} + optional channels, wait, event_id
    GET  /v1/openapi.json

A body is exactly the arguments of notify_event / notify_send and goes through the same checks and the
same engine (server.create_server's `mcp_push_call`): 202 with the tool's structuredContent (PushResult)
once accepted, 200 with the final per-channel results with `?wait=true` (bounded as the tools' wait);
400 {"error": "<field>: <rule>"} in the tools' words; 413 over MCP_PUSH_HTTP_MAX_BODY; 415 for a body
that is not JSON. An `Idempotency-Key` header (or `event_id` field) makes retries safe: a key seen in
the last 24 hours gets the first answer again (same status, same body, header Idempotent-Replayed: true)
and nothing is sent (idempotency.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

import anyio

from .backend import UNAVAILABLE_PREFIX, BackendUnavailable
from .idempotency import PENDING, Answer, IdempotencyStore
from .rest_openapi import openapi_document

log = logging.getLogger("mcp_push.service.rest")

PREFIX = "/v1/"
ROUTES = {"/v1/events": "event", "/v1/messages": "send"}
OPENAPI_PATH = "/v1/openapi.json"
KEY_HEADER = "Idempotency-Key"
KEY_FIELD = "event_id"
MAX_KEY = 200

Call = Callable[[str, dict[str, Any]], Awaitable[Any]]


class Problem(Exception):
    """An answer other than a result: the HTTP status and the '<field>: <rule>' message."""

    def __init__(self, status: int, message: str, headers: list[tuple[bytes, bytes]] | None = None):
        super().__init__(message)
        self.status, self.headers = status, headers or []


def is_rest_path(path: str) -> bool:
    return path.startswith(PREFIX) or path == PREFIX.rstrip("/")


def json_body(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


async def respond(send: Any, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *(headers or []),
    ]})
    await send({"type": "http.response.body", "body": body})


class RestApp:
    """ASGI: /v1/… here, everything else to `app` (the SDK's MCP app, lifespan included)."""

    def __init__(self, app: Any, call: Call, max_body: int, store: IdempotencyStore | None = None):
        self.app, self.call, self.max_body = app, call, max_body
        self.store = store or IdempotencyStore(None)
        self._inflight: dict[str, asyncio.Future[Answer]] = {}  # keys claimed by this process, not answered yet

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not is_rest_path(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        headers: dict[str, str] = {}
        for name, value in scope.get("headers") or []:
            headers.setdefault(name.decode("latin-1"), value.decode("latin-1"))
        try:
            answer, replayed = await self._handle(scope, receive, headers)
        except Problem as problem:
            await respond(send, problem.status, json_body({"error": str(problem)}), problem.headers)
            return
        except BackendUnavailable as unavailable:  # the idempotency keys' database is away: nothing was sent
            await respond(send, 503, json_body({"error": str(unavailable)}), [(b"retry-after", b"5")])
            return
        except Exception:  # a bug, not the caller's: logged with its traceback, answered as JSON
            log.exception("REST %s %s failed", scope.get("method"), scope.get("path"))
            await respond(send, 500, json_body({"error": "internal error: the server's log says what went wrong"}))
            return
        await respond(send, answer.status, answer.body.encode("utf-8"),
                      [(b"idempotent-replayed", b"true")] if replayed else [])

    async def _handle(self, scope: dict[str, Any], receive: Any, headers: dict[str, str]) -> tuple[Answer, bool]:
        path, method = scope["path"], scope.get("method", "")
        if path == OPENAPI_PATH:
            if method not in ("GET", "HEAD"):
                raise Problem(405, f"{method} is not allowed here: GET it", [(b"allow", b"GET, HEAD")])
            return Answer(200, json.dumps(openapi_document(), ensure_ascii=False)), False
        kind = ROUTES.get(path)
        if kind is None:
            raise Problem(404, f"no such endpoint {path}: POST /v1/events or /v1/messages "
                               f"(described at {OPENAPI_PATH})")
        if method != "POST":
            raise Problem(405, f"{method} is not allowed here: POST a JSON body", [(b"allow", b"POST")])
        arguments = await self._arguments(scope, receive, headers)
        key = _idempotency_key(headers, arguments)
        if key is None:
            return await self._answer(kind, arguments), False
        return await self._once(key, kind, arguments)

    async def _arguments(self, scope: dict[str, Any], receive: Any, headers: dict[str, str]) -> dict[str, Any]:
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > self.max_body:
            raise Problem(413, f"body: must be at most {self.max_body} bytes (MCP_PUSH_HTTP_MAX_BODY)")
        media = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media != "application/json" and not media.endswith("+json"):
            raise Problem(415, "Content-Type: must be application/json")
        raw = await self._read(receive)
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise Problem(415, f"body: must be JSON (UTF-8): {exc}") from None
        if not isinstance(body, dict):
            raise Problem(400, "body: must be a JSON object")
        wait = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("wait")
        if wait is not None:
            value = wait[-1].strip().lower()
            if value not in ("true", "false", "1", "0"):
                raise Problem(400, "wait: must be true or false")
            body["wait"] = value in ("true", "1")
        return body

    async def _read(self, receive: Any) -> bytes:
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise Problem(400, "body: the client went away before sending it all")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                raise Problem(413, f"body: must be at most {self.max_body} bytes (MCP_PUSH_HTTP_MAX_BODY)")
            chunks.append(chunk)
            if not message.get("more_body"):
                return b"".join(chunks)

    async def _answer(self, kind: str, arguments: dict[str, Any]) -> Answer:
        """The tool's result as the answer: 400 for a refusal (nothing was sent), else 202, or 200 when
        the caller waited for the final results."""
        result = await self.call(kind, arguments)
        structured = result.structured_content or {}
        if structured.get("error"):
            if structured["error"].startswith(UNAVAILABLE_PREFIX):  # the database is away: try again later
                raise Problem(503, structured["error"], [(b"retry-after", b"5")])
            raise Problem(400, structured["error"])
        return Answer(200 if arguments.get("wait") else 202, json.dumps(structured, ensure_ascii=False))

    async def _once(self, key: str, kind: str, arguments: dict[str, Any]) -> tuple[Answer, bool]:
        """The first answer to `key`, computed now (claimed in the store first, so a concurrent or later
        request with the key sends nothing) or read back."""
        if key in self._inflight:
            return await asyncio.shield(self._inflight[key]), True
        found = await anyio.to_thread.run_sync(self.store.claim, key)
        if found is PENDING:
            if key in self._inflight:  # claimed by this process while the store was asked
                return await asyncio.shield(self._inflight[key]), True
            raise Problem(409, f"{KEY_HEADER}: the first request with this key was accepted and has no answer "
                               "yet (still in progress elsewhere, or its server stopped); nothing was sent again")
        if isinstance(found, Answer):
            return found, True
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            answer = await self._answer(kind, arguments)
            await anyio.to_thread.run_sync(self.store.finish, key, answer)
        except BaseException as exc:
            # Refused (nothing sent) or failed: the key is free again, and who waited on it gets the same.
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(self.store.release, key)
            if isinstance(exc, Exception):
                future.set_exception(exc)
                future.exception()  # retrieved: nobody may be waiting
            else:
                future.cancel()
            raise
        else:
            future.set_result(answer)
        finally:
            self._inflight.pop(key, None)  # after the store has the answer: no moment without either
        return answer, False


def _idempotency_key(headers: dict[str, str], arguments: dict[str, Any]) -> str | None:
    """The Idempotency-Key header or the event_id field (taken out of the arguments: it is no tool
    argument); both may be sent when they are equal."""
    header = headers.get(KEY_HEADER.lower())
    field = arguments.pop(KEY_FIELD, None)
    if header is not None:
        header = header.strip()
        _check_key(KEY_HEADER, header)
    if field is not None:
        if not isinstance(field, str):
            raise Problem(400, f"{KEY_FIELD}: must be a string")
        _check_key(KEY_FIELD, field)
    if header is not None and field is not None and header != field:
        raise Problem(400, f"{KEY_FIELD}: must equal the {KEY_HEADER} header when both are sent")
    return header if header is not None else field


def _check_key(name: str, key: str) -> None:
    if not key:
        raise Problem(400, f"{name}: must not be empty")
    if len(key) > MAX_KEY:
        raise Problem(400, f"{name}: must be at most {MAX_KEY} characters")
