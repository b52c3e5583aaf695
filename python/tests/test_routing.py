"""Routing decisions (routing.py): the conformance cases (conformance/cases/routing/, both runtimes in
tools/conformance.py) replayed in Python, the comparator failing on a difference, and the helpers' edges."""

from __future__ import annotations

import copy

import pytest

from conformance.runners import routing_cases
from mcp_push.routing import decide, glob_match, quiet_until

CASES = routing_cases.load_routing_cases()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_decisions_match_case(case):
    found = routing_cases.mismatches(case, "python", routing_cases.run_python(case))
    assert not found, "\n".join(found)


def test_a_different_decision_fails_naming_the_step():
    case = CASES[0]
    output = copy.deepcopy(routing_cases.run_python(case))
    output[0]["decisions"][0]["action"] = "drop"
    [line] = routing_cases.mismatches(case, "python", output)
    assert line.startswith("  [python] step 1 decisions: expected")
    assert routing_cases.between(case, routing_cases.run_python(case), output)


def test_decide_never_changes_the_state_it_is_given():
    config = {"channels": {"me": {"type": "ntfy"}}, "routes": [{"to": ["me"], "throttle": "60s"}]}
    state: dict = {}
    result = decide(config, {"kind": "update", "run_id": "r"}, state, 100.0)
    assert state == {}
    assert result["state"] == {"throttle": {"me r": {"free": 160.0, "pending": None}}}


def test_an_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="kind: must be one of message, start, update, end, error"):
        decide({"channels": {}}, {"kind": "progress"}, {}, 0)


@pytest.mark.parametrize(("pattern", "text", "fits"), [
    ("nightly-*", "nightly-2026-12-01", True), ("nightly-*", "weekly-1", False), ("a?c", "abc", True),
    ("a.c", "abc", False), ("*[prod]*", "x [prod] y", True), ("*", "", True), ("a*", "A1", False),
])
def test_globs_know_star_and_question_mark_only(pattern, text, fits):
    assert glob_match(pattern, text) is fits


def test_quiet_hours_across_midnight_end_at_the_next_to():
    quiet = {"from": "22:00", "to": "07:00", "tz": "UTC"}
    assert quiet_until(quiet, 1700006399) == 1700031600  # 23:59:59 UTC -> 07:00 the next day
    assert quiet_until(quiet, 1700031600) is None  # 07:00 itself is no longer quiet
    assert quiet_until({"from": "07:00", "to": "07:00"}, 1700031600) is None
