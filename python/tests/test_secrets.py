"""Secrets never leak: every secret value used in the conformance suite is grepped for in results,
logs, stderr and redacted plans, with vendors that fail in every way, including replies that echo
the request (URL with its token, body with its key) back inside their error message."""

from __future__ import annotations

import json
import logging
import re

import pytest
import requests
import responses

from mcp_push import dispatch
from mcp_push.api import configured_channels
from mcp_push.planner import build_context
from mcp_push.specs import load_channels

from .conformance import load_cases, plan_case, send_case

SECRET_NAMES = {name for spec in load_channels().values() for name in spec.secret_env}
HTTP_CHANNELS = {name for name, spec in load_channels().items() if spec.transport == "http"}
# Sent cases are HTTP only: an SMTP case names real mail hosts, and tests never leave loopback.
CASES = [c for c in load_cases() if any(k in SECRET_NAMES and v for k, v in c.env.items())]
# An invalid event envelope (a case with `error`) sends nothing: there is no result to grep.
SENT_CASES = [c for c in CASES if c.channel in HTTP_CHANNELS and "error" not in c.data]


def _secrets(case) -> list[str]:
    """The case's secret env values, and what hooks derive from them (corpsecret, Basic auth, headers)."""
    found = [v for k, v in case.env.items() if k in SECRET_NAMES and v]
    title, content = case.data["input"].get("title", "t"), case.data["input"].get("content", "c")
    for spec, env in configured_channels(case.env):
        try:
            _, derived, per_message = build_context(spec, env, title, content, {}, case.now)
        except Exception:  # noqa: S112 - a config error derives nothing
            continue
        found += derived + per_message
    return found


def _echo(status: int):
    def reply(request: requests.PreparedRequest):
        body = request.body.decode() if isinstance(request.body, bytes) else (request.body or "")
        echoed = f"{request.url} {body} {json.dumps(dict(request.headers))}"
        fields = ["errmsg", "msg", "message", "description", "error", "errMsg", "reason", "wording"]
        payload = {name: echoed for name in fields} | {"errcode": 1, "code": 1, "ok": False}
        return status, {}, json.dumps(payload)

    return reply


def _connection_error(request: requests.PreparedRequest):
    raise requests.exceptions.ConnectionError(f"Max retries exceeded with url: {request.url} ({request.body!r})")


def _timeout(request: requests.PreparedRequest):
    raise requests.exceptions.ReadTimeout(f"Read timed out. (url: {request.url})")


FAILURES = {"echo-200": _echo(200), "echo-500": _echo(500), "connection": _connection_error, "timeout": _timeout}
# What each failure must be reported as (a 200 is success for channels that only check the status).
EXPECTED_STATUS = {"echo-500": "rejected", "connection": "network_error", "timeout": "timeout"}


def test_the_suite_uses_secrets_at_all():
    assert len(CASES) >= 20


@pytest.mark.parametrize("failure", list(FAILURES))
@pytest.mark.parametrize("case", SENT_CASES, ids=[c.id for c in SENT_CASES])
def test_no_secret_in_results_logs_or_stderr(case, failure, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            mock.add_callback(method, re.compile(".*"), callback=FAILURES[failure])
        result = send_case(case)
    out, err = capsys.readouterr()
    shown = json.dumps(result.to_dict(), ensure_ascii=False) + repr(result) + caplog.text + out + err
    for secret in _secrets(case):
        assert secret not in shown
    if failure in EXPECTED_STATUS:
        for entry in result:
            if entry.status not in ("config_error", "skipped"):
                assert (entry.ok, entry.status) == (False, EXPECTED_STATUS[failure]), entry.channel


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_no_secret_in_a_redacted_plan(case):
    shown = json.dumps(plan_case(case, redact=True)[0], ensure_ascii=False)
    for secret in _secrets(case):
        assert secret not in shown


def test_a_secret_straddling_the_error_length_limit_is_masked_whole():
    # Cutting the vendor's message before masking would leave the secret's first half visible.
    key = "PDU8123secretKeyValue9"
    for prefix in range(150, 320, 7):
        body = json.dumps({"code": 80501, "error": "x" * prefix + f" pushkey={key} end"})
        with responses.RequestsMock() as mock:
            mock.post("https://api2.pushdeer.com/message/push", body=body, status=200)
            result = dispatch("t", "c", {"DEER_KEY": key, "HITOKOTO": "false"})
        error = result["pushdeer"].error
        assert key[:6] not in error, (prefix, error)
        assert len(error) <= 300
