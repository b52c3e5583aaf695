"""Loads conformance/cases/*.yaml and replays them against the Python runtime (plan and send)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from http.client import RemoteDisconnected
from pathlib import Path
from typing import Any

import jsonschema
import requests
import responses
import yaml
from urllib3.exceptions import IncompleteRead, MaxRetryError, NewConnectionError, ProtocolError

from mcp_push.specs import load_channels, load_settings

REPO = Path(__file__).resolve().parents[2]
CASES = REPO / "conformance" / "cases"
DEFAULT_NOW = 1700000000.0


@dataclass
class Case:
    file: str
    channel: str
    data: dict[str, Any]
    # Seconds the runtime slept between tries in the last send_case (retries use a fake clock).
    slept: list[float] = field(default_factory=list)

    @property
    def id(self) -> str:
        return f"{self.file}: {self.data['description']}"

    @property
    def env(self) -> dict[str, str]:
        env = {"HITOKOTO": "false"}
        env.update(self.data["env"])
        return env

    @property
    def now(self) -> float:
        return self.data.get("now", DEFAULT_NOW)

    @property
    def expected_requests(self) -> list[dict[str, Any]]:
        return self._full(self.data["requests"])

    @property
    def expected_sent(self) -> list[dict[str, Any]] | None:
        return self._full(self.data["sent"]) if "sent" in self.data else None

    @property
    def expected_wire(self) -> list[dict[str, Any]]:
        """What must go on the wire: `sent`, or the plan with __TOKEN__ replaced by the issued token."""
        if self.expected_sent is not None:
            return self.expected_sent
        spec = load_channels()[self.channel]
        placeholder = load_settings()["token_placeholder"]
        replies = self.data.get("replies", [])
        wire, token = [], None
        for index, entry in enumerate(r for r in self.expected_requests if "error" not in r):
            entry = dict(entry)
            if token is not None:
                entry["url"] = entry["url"].replace(placeholder, token)
                if isinstance(entry["body"], str):
                    entry["body"] = entry["body"].replace(placeholder, token)
            if entry.get("step") == "token" and index < len(replies):
                reply = _json_or_none(replies[index].get("body")) or {}
                token = str(reply.get(spec.token["value"], "")) or None
            # A reply given `times: N` answers N tries of the same request.
            wire.extend([entry] * (replies[index].get("times", 1) if index < len(replies) else 1))
        return wire

    @property
    def issued_tokens(self) -> list[str]:
        """Credentials the scripted replies hand out (they must never show in results or logs)."""
        spec = load_channels().get(self.channel)
        if not spec or not spec.token:
            return []
        values = (_json_or_none(r.get("body")) for r in self.data.get("replies", []))
        return [str(v[spec.token["value"]]) for v in values if isinstance(v, dict) and v.get(spec.token["value"])]

    @staticmethod
    def _full(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for entry in entries:
            if "error" in entry:
                out.append({"channel": entry["channel"], "error": entry["error"]})
                continue
            full = {"channel": entry["channel"], "step": entry.get("step", "send"), "method": entry["method"],
                    "url": entry["url"], "headers": entry.get("headers", {}), "body": entry.get("body")}
            if "proxy" in entry:
                full["proxy"] = entry["proxy"]
            out.append(full)
        return out


def leaks(secret: str, shown: str) -> bool:
    """A secret of 8 characters or more must appear nowhere; a shorter one nowhere as a whole token
    (spec/README.md, "Secrets": a one-letter token is masked where it stands alone, not inside words)."""
    from mcp_push.redact import LONG_SECRET

    if len(secret) >= LONG_SECRET:
        return secret in shown
    return re.search(rf"(?<![A-Za-z0-9_-]){re.escape(secret)}(?![A-Za-z0-9_-])", shown) is not None


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
                        redact=redact, edit_refs=refs, channels=given.get("channels")), None
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
    from mcp_push.events import RunLog, render_event, send_event, validate_envelope

    given = case.data["input"]
    fake = FakePace()

    def wall() -> float:  # a Retry-After date is read against the case's now
        return case.now + fake.clock

    saved, retry.PACE = retry.PACE, retry.Pace(fake.sleep, fake.monotonic, fake.random, wall)
    refs = given.get("edit_refs")
    try:
        if "event" not in given:
            return dispatch(given["title"], given["content"], case.env, params=given.get("params"), now=case.now,
                            edit_refs=refs, channels=given.get("channels"))
        runs = RunLog()
        for earlier in given.get("seen", []):
            render_event(validate_envelope(earlier, now=case.now), runs)
        if refs is not None:
            # The refs are the case's, not a run's memory (send_event's): send the rendered event as given.
            title, content = render_event(validate_envelope(given["event"], now=case.now), runs)
            return dispatch(title, content, case.env, now=case.now, edit_refs=refs)
        return send_event(given["event"], env=case.env, runs=runs, now=case.now)
    finally:
        retry.PACE = saved
        case.slept = fake.slept


def _json_or_none(text: str | None) -> Any:
    try:
        return json.loads(text or "null")
    except ValueError:
        return None


def load_cases() -> list[Case]:
    schema = json.loads((REPO / "conformance" / "case.schema.json").read_text(encoding="utf-8"))
    cases = []
    for path in sorted(CASES.glob("*/*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        jsonschema.validate(doc, schema)
        for data in doc["cases"]:
            cases.append(Case(f"{path.parent.name}/{path.name}", doc["channel"], data))
    return cases


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

    def __call__(self, request: requests.PreparedRequest):
        body = request.body
        if isinstance(body, bytes):
            body = body.decode("utf-8")
        self.received.append(Recorded(request.method, request.url, dict(request.headers), body))
        if not self.replies:
            raise AssertionError(f"unscripted request: {request.method} {request.url}")
        reply = self.replies.pop(0)
        if reply.get("error") == "timeout":
            raise requests.exceptions.ReadTimeout(f"Read timed out. (url: {request.url})")
        # Each failure is raised as requests raises it against a real server (python/tests/test_transport.py
        # checks those): the transport tells "before the request was written" from "after" by the causes.
        if reply.get("error") == "connection":
            # Like requests' own message, it carries the URL, and with it any token in the path or query.
            refused = NewConnectionError(None, "Failed to establish a new connection: [Errno 111] Connection refused")
            raise requests.exceptions.ConnectionError(MaxRetryError(None, request.url, refused), request=request)
        if reply.get("error") == "closed":
            # The vendor read the whole request, then closed the connection without a word.
            closed = RemoteDisconnected("Remote end closed connection without response")
            raise requests.exceptions.ConnectionError(ProtocolError("Connection aborted.", closed), request=request)
        if reply.get("error") == "cut":
            # The vendor began a 200 reply (Content-Length: 100) and closed after 6 bytes of it.
            cut = IncompleteRead(6, 94)
            raise requests.exceptions.ChunkedEncodingError(ProtocolError(f"Connection broken: {cut!r}", cut))
        return reply["status"], reply.get("headers", {}), reply.get("body", "")


def mock_vendor(replies: list[dict[str, Any]]) -> tuple[responses.RequestsMock, ScriptedVendor]:
    vendor = ScriptedVendor([reply for reply in replies for _ in range(reply.get("times", 1))])
    mock = responses.RequestsMock(assert_all_requests_are_fired=False)
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        mock.add_callback(method, re.compile(r".*"), callback=vendor)
    return mock, vendor
