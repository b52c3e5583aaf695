"""Replays the language-neutral conformance cases against the Python runtime, with the runner and the
comparator tools/conformance.py uses (conformance/runners/).

Each case pins the exact planned requests; a case with scripted replies is also sent through the real
HTTP transport (intercepted by `responses`), and the bytes that left must equal the plan.
"""

from __future__ import annotations

import copy
import json
import logging

import pytest

from conformance.runners import compare, python_runner
from conformance.runners.cases import load_cases
from mcp_push.specs import load_channels

CASES = load_cases()


def _secrets(case) -> list[str]:
    secret_names = {n for spec in load_channels().values() for n in spec.secret_env}
    return [v for k, v in case.env.items() if k in secret_names and v]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_plan_matches_case(case):
    mismatches = compare.plan_mismatches(case, "python", python_runner.run_case(case, send=False))
    assert not mismatches, compare.report(mismatches)


SENT = [c for c in CASES if "replies" in c.data]


@pytest.mark.parametrize("case", SENT, ids=[c.id for c in SENT])
def test_send_matches_case(case, caplog):
    caplog.set_level(logging.DEBUG, logger="mcp_push")
    output = python_runner.run_case(case)
    mismatches = compare.send_mismatches(case, "python", output)
    assert not mismatches, compare.report(mismatches)
    shown = json.dumps(output["result"], ensure_ascii=False) + caplog.text
    for secret in _secrets(case) + case.issued_tokens:
        assert not compare.leaks(secret, shown), secret


# --- the comparator itself: a difference in one field fails, naming the case, the runtime and the field ---

SIGNED = next(c for c in SENT if c.channel == "dingtalk" and "DD_BOT_SECRET" in c.env)


def test_the_comparator_passes_equal_outputs():
    output = python_runner.run_case(SIGNED)
    assert compare.against_case(SIGNED, "python", output) == []
    assert compare.between(SIGNED, "python", output, "node", copy.deepcopy(output)) == []


def test_runtimes_differing_in_one_result_field_fail_naming_case_runtime_and_field():
    python = python_runner.run_case(SIGNED)
    node = copy.deepcopy(python)
    node["result"]["channels"][0]["status"] = "rejected"
    [mismatch] = compare.between(SIGNED, "python", python, "node", node)
    field = "result.channels[0].status"
    assert (mismatch.case, mismatch.runtime, mismatch.field) == (SIGNED.id, "python vs node", field)
    assert str(mismatch) == f"{SIGNED.id} [python vs node] {field}: python 'delivered', node 'rejected'"


def test_an_output_differing_from_its_case_in_one_body_field_names_it():
    output = python_runner.run_case(SIGNED)
    output["plan"][0]["body"] = output["plan"][0]["body"].replace("Backup", "Backup!")
    [mismatch] = compare.against_case(SIGNED, "node", output)
    assert (mismatch.case, mismatch.runtime) == (SIGNED.id, "node")
    assert mismatch.field == "plan.dingtalk[send].body(json).text.content"
    assert mismatch.detail == "expected 'Backup\\n\\ndone in 3 min', got 'Backup!\\n\\ndone in 3 min'"
    assert compare.report([mismatch]).splitlines() == [f"FAIL {SIGNED.id}", f"  {mismatch.line()}"]


def test_runtime_plans_differing_only_in_json_types_or_key_order_fail():
    """Between runtimes a plan must be the same bytes: 1 vs 1.0 and key order count (not against a case)."""
    python = python_runner.run_case(SIGNED, send=False)
    node = copy.deepcopy(python)
    node["plan"][0]["headers"] = {"X-A": 1, **node["plan"][0]["headers"]}
    python["plan"][0]["headers"] = {**python["plan"][0]["headers"], "X-A": 1.0}
    fields = [m.field for m in compare.between(SIGNED, "python", python, "node", node)]
    assert fields == ["plan.dingtalk[send].headers", "plan.dingtalk[send].headers.X-A"]


def test_requests_interleaved_differently_fail_though_each_channel_plans_the_same():
    a, b = {"channel": "a", "step": "send"}, {"channel": "b", "step": "send"}
    a_token = {"channel": "a", "step": "token"}
    fields = [field for field, _ in compare.explain_plan([a, a_token, b], [a, b, a_token])]
    assert fields == ["plan[1].channel", "plan[1].step", "plan[2].channel", "plan[2].step"]
