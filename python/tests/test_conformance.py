"""Replays the language-neutral conformance cases against the Python runtime.

Each case pins the exact planned requests; a case with scripted replies is also sent through the real
HTTP transport (intercepted by `responses`), and the bytes that left must equal the plan.
"""

from __future__ import annotations

import json
import logging

import pytest

from mcp_push.specs import load_channels
from mcp_push.tokens import TOKENS

from .conformance import leaks, load_cases, mock_vendor, plan_case, send_case

CASES = load_cases()


def _secrets(case) -> list[str]:
    secret_names = {n for spec in load_channels().values() for n in spec.secret_env}
    return [v for k, v in case.env.items() if k in secret_names and v]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_plan_matches_case(case):
    got, error = plan_case(case)
    assert error == case.data.get("error")
    assert got == case.expected_requests


SENT = [c for c in CASES if "replies" in c.data]


@pytest.mark.parametrize("case", SENT, ids=[c.id for c in SENT])
def test_send_matches_case(case, caplog):
    TOKENS.clear()
    caplog.set_level(logging.DEBUG, logger="mcp_push")
    mock, vendor = mock_vendor(case.data["replies"])
    with mock:
        result = send_case(case)
    expected = case.data.get("result", {})
    if "skipped" in expected:
        assert result.skipped == expected["skipped"]
        assert vendor.received == []
        return
    wire = case.expected_wire
    # Exactly the expected requests: a case where sending stops early (a refused token) says so in `sent`.
    assert len(vendor.received) == len(wire), f"{len(vendor.received)} requests went out, {len(wire)} expected"
    for sent, want in zip(vendor.received, wire, strict=True):
        assert (sent.method, sent.url) == (want["method"], want["url"])
        assert sent.body == want["body"]
        for name, value in want["headers"].items():
            assert sent.headers.get(name) == value, name
    [channel_result] = [r for r in result if r.channel == case.channel]
    for key in ("ok", "status", "http_status", "attempts", "parts", "truncated"):
        if key in expected:
            assert getattr(channel_result, key) == expected[key], key
    if "error_contains" in expected:
        assert expected["error_contains"] in (channel_result.error or "")
    if "delays" in case.data:
        assert case.slept == case.data["delays"]
    shown = json.dumps(result.to_dict(), ensure_ascii=False) + caplog.text
    for secret in _secrets(case) + case.issued_tokens:
        assert not leaks(secret, shown), secret
