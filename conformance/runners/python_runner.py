"""The Python replayer: plans a case and, when it scripts replies, sends it through the real HTTP transport
to a fake vendor answering with those replies in order. The vendor stands in for the transport's
`exchange` (mcp_push/transports/http.py), the one call that puts a prepared request on the wire: the
request is prepared, and the reply decoded and judged, as for a real vendor; the scripted failures are
raised as urllib3 raises them against a real server (python/tests/test_http.py meets each one on
loopback).

run_case() returns the output every runner returns (node_runner.js the same, field for field):
{plan, error, sent, result, delays}; compare.py checks it.
"""

from __future__ import annotations

import contextlib
import io
import json
from dataclasses import dataclass, field
from http.client import RemoteDisconnected
from typing import Any

from urllib3 import HTTPResponse
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError, ReadTimeoutError

from mcp_push.tokens import TOKENS

from .cases import Case


def plan_case(case: Case, redact: bool = False) -> tuple[list[dict[str, Any]], str | None]:
    """The case's unredacted plan, and the error of an invalid event or of a setting that cannot work
    (MCP_PUSH_OVERFLOW=chop): then nothing is planned."""
    from mcp_push import plan
    from mcp_push.config import ConfigError
    from mcp_push.events import EnvelopeError, plan_event

    given = case.data["input"]
    refs = given.get("edit_refs")
    if "event" not in given:
        try:
            return plan(given["title"], given["content"], env=case.env, now=case.now, params=given.get("params"),
                        redact=redact, edit_refs=refs, channels=given.get("channels"),
                        priority=given.get("priority"), format=given.get("format")), None
        except ConfigError as exc:
            return [], str(exc)
    try:
        return plan_event(given["event"], env=case.env, now=case.now, seen=given.get("seen", []), redact=redact,
                          edit_refs=refs), None
    except EnvelopeError as exc:
        return [], str(exc)


class FakePace:
    """Retries' clock for replays: sleeping only advances the clock and is recorded; the jitter draws 0."""

    def __init__(self) -> None:
        self.clock = 0.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.clock += seconds

    def monotonic(self) -> float:
        return self.clock

    @staticmethod
    def random() -> float:
        return 0.0


def send_case(case: Case):
    """Sends the case through the real transports (the caller mocks the vendor); returns the SendResult.
    Retry waits are not slept but recorded in case.slept."""
    from mcp_push import dispatch, retry
    from mcp_push.events import RunLog, event_message, render_event, send_event, validate_envelope

    given = case.data["input"]
    fake = FakePace()

    def wall() -> float:  # a Retry-After date is read against the case's now
        return case.now + fake.clock

    saved, retry.PACE = retry.PACE, retry.Pace(fake.sleep, fake.monotonic, fake.random, wall, at_once=1)
    refs = given.get("edit_refs")
    try:
        if "event" not in given:
            return dispatch(given["title"], given["content"], case.env, params=given.get("params"), now=case.now,
                            edit_refs=refs, channels=given.get("channels"), priority=given.get("priority"),
                            format=given.get("format"))
        runs = RunLog()
        for earlier in given.get("seen", []):
            render_event(validate_envelope(earlier, now=case.now), runs)
        if refs is not None:
            # The refs are the case's, not a run's memory (send_event's): send the rendered event as given.
            title, content, params = event_message(validate_envelope(given["event"], now=case.now), case.env, runs)
            return dispatch(title, content, case.env, params=params, now=case.now, edit_refs=refs)
        return send_event(given["event"], env=case.env, runs=runs, now=case.now)
    finally:
        retry.PACE = saved
        case.slept = fake.slept


def run_case(case: Case, send: bool = True) -> dict[str, Any]:
    """The runner output: the plan (and envelope error); with `send` and scripted replies, also what went on
    the wire, the whole result and the retry waits."""
    planned, error = plan_case(case)
    out: dict[str, Any] = {"plan": planned, "error": error}
    if send and "replies" in case.data:
        TOKENS.clear()
        mock, vendor = mock_vendor(case.data["replies"])
        with mock:
            result = send_case(case)
        out["sent"] = [
            {"method": r.method, "url": r.url, "headers": r.headers, "body": r.body} for r in vendor.received
        ]
        out["result"] = result.to_dict()
        out["delays"] = case.slept
    return out


@dataclass
class Recorded:
    method: str
    url: str
    headers: dict[str, str]
    body: str | None


@dataclass
class ScriptedVendor:
    """Answers each HTTP request with the case's next scripted reply and records what was sent."""

    replies: list[dict[str, Any]]
    received: list[Recorded] = field(default_factory=list)

    def __call__(self, prepared, timeout: float) -> HTTPResponse:
        body = prepared.body.decode("utf-8") if prepared.body is not None else None
        self.received.append(Recorded(prepared.method, prepared.url, dict(prepared.headers), body))
        if not self.replies:
            raise AssertionError(f"unscripted request: {prepared.method} {prepared.url}")
        reply = self.replies.pop(0)
        if reply.get("error") == "timeout":
            # No reply headers within the read timeout.
            raise ReadTimeoutError(None, prepared.url, f"Read timed out. (read timeout={timeout})")
        if reply.get("error") == "connection":
            # Like urllib3's own message, it carries the URL, and with it any token in the path or query.
            refused = NewConnectionError(None, "Failed to establish a new connection: [Errno 111] Connection refused")
            raise MaxRetryError(None, prepared.url, refused)
        if reply.get("error") == "closed":
            # The vendor read the whole request, then closed the connection without a word.
            closed = RemoteDisconnected("Remote end closed connection without response")
            raise ProtocolError("Connection aborted.", closed)
        if reply.get("error") == "cut":
            # The vendor began a 200 reply (Content-Length: 100) and closed after 6 bytes of it.
            return HTTPResponse(body=io.BytesIO(b'{"ok":'), headers={"Content-Length": "100"}, status=200,
                                preload_content=False, decode_content=False, enforce_content_length=True)
        payload = reply.get("body", "")
        data = payload.encode("utf-8") if isinstance(payload, str) else json.dumps(payload).encode("utf-8")
        headers = {"Content-Length": str(len(data)), **reply.get("headers", {})}
        return HTTPResponse(body=io.BytesIO(data), headers=headers, status=reply["status"], preload_content=False,
                            decode_content=False)


@contextlib.contextmanager
def _standing_in(vendor: ScriptedVendor):
    from mcp_push.transports import http

    real, http.exchange = http.exchange, vendor
    try:
        yield vendor
    finally:
        http.exchange = real


def mock_vendor(replies: list[dict[str, Any]]):
    """(a context manager that puts the vendor in place, the vendor)."""
    vendor = ScriptedVendor([reply for reply in replies for _ in range(reply.get("times", 1))])
    return _standing_in(vendor), vendor
