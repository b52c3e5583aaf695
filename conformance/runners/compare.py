"""The one comparator of the conformance suite: a runner's output against its case, two runtimes' outputs
against each other, and (for the randomized cross-check) two plans. Equality decides; the diff explains it,
one Mismatch per differing field, naming the case, the runtime and the field:

    dingtalk/cases.yaml: signed text [node] plan.dingtalk[send].body(json).text.content: expected 'a', got 'b'

A JSON body is compared field by field (`body(json).…`), a plan channel by channel (`plan.<channel>[<step>]`),
and a long string by its first difference.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .cases import Case

# Fields of a channel's result a case may pin (`error_contains` aside).
RESULT_FIELDS = ("ok", "status", "http_status", "attempts", "parts", "truncated")
EXPECTED = ("expected", "got")


class _Absent:
    """A key one side lacks (shown as <absent>, unequal to everything, None included)."""

    def __repr__(self) -> str:
        return "<absent>"


ABSENT = _Absent()


@dataclass(frozen=True)
class Mismatch:
    case: str  # the case id, `file: description`
    runtime: str  # `python`, `node`, or `python vs node`
    field: str  # `plan.dingtalk[send].url`, `result.status`, `sent[1].body`
    detail: str  # `expected X, got Y`

    def line(self) -> str:
        return f"[{self.runtime}] {self.field}: {self.detail}"

    def __str__(self) -> str:
        return f"{self.case} {self.line()}"


def report(mismatches: Iterable[Mismatch]) -> str:
    """`FAIL <case>` then one indented line per mismatch, case by case (tools/conformance.py prints this)."""
    lines: list[str] = []
    for mismatch in mismatches:
        header = f"FAIL {mismatch.case}"
        if header not in lines:
            lines.append(header)
        lines.append(f"  {mismatch.line()}")
    return "\n".join(lines)


# --- explaining a difference ----------------------------------------------------------------------------

def show(value: Any, limit: int = 160) -> str:
    # repr() escapes control and invisible characters but keeps CJK and emoji readable.
    shown = repr(value) if isinstance(value, (str, _Absent)) else json.dumps(value, ensure_ascii=False, default=repr)
    return shown if len(shown) <= limit else f"{shown[: limit - 21]}…{shown[-20:]} ({len(shown)} chars)"


def _pair(want: Any, got: Any, names: tuple[str, str]) -> str:
    return f"{names[0]} {show(want)}, {names[1]} {show(got)}"


def _first_difference(a: str, b: str, names: tuple[str, str]) -> str:
    i = next((n for n, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    lo = max(0, i - 12)
    cut = "…" if lo else ""
    return (f"first difference at index {i} (lengths {len(a)} / {len(b)}): "
            f"{names[0]} {cut}{show(a[lo:i + 30])}, {names[1]} {cut}{show(b[lo:i + 30])}")


def _json_tree(text: str) -> Any:
    try:
        return json.loads(text) if text[:1] in "{[" else None
    except ValueError:
        return None


def equal(want: Any, got: Any, strict: bool = False) -> bool:
    """Lenient: Python equality (1 == 1.0, dict key order ignored), as a case's YAML is read. Strict, for two
    runtimes' plans: the same JSON text (types and key order too)."""
    if want is ABSENT or got is ABSENT:
        return want is got
    if strict:
        return json.dumps(want, ensure_ascii=False, default=repr) == json.dumps(got, ensure_ascii=False, default=repr)
    return want == got


def _walk(path: str, want: Any, got: Any, names: tuple[str, str], strict: bool, out: list[tuple[str, str]]) -> None:
    if isinstance(want, str) and isinstance(got, str):
        if want == got:
            return
        # A JSON body is compared field by field, so the message names the field that differs.
        want_tree, got_tree = _json_tree(want), _json_tree(got)
        if want_tree is not None and got_tree is not None:
            before = len(out)
            _walk(f"{path}(json)", want_tree, got_tree, names, strict, out)
            if len(out) > before:
                return
        long = max(len(want), len(got)) > 60
        out.append((path, _first_difference(want, got, names) if long else _pair(want, got, names)))
    elif isinstance(want, dict) and isinstance(got, dict):
        if strict and list(want) != list(got) and set(want) == set(got):
            out.append((path, f"key order differs: {names[0]} {list(want)}, {names[1]} {list(got)}"))
        for key in list(want) + [k for k in got if k not in want]:
            _walk(f"{path}.{key}", want.get(key, ABSENT), got.get(key, ABSENT), names, strict, out)
    elif isinstance(want, list) and isinstance(got, list):
        if len(want) != len(got):
            out.append((path, f"{names[0]} {len(want)} items, {names[1]} {len(got)}"))
        for index, (a, b) in enumerate(zip(want, got, strict=False)):
            _walk(f"{path}[{index}]", a, b, names, strict, out)
    elif not equal(want, got, strict):
        out.append((path, _pair(want, got, names)))


def explain(path: str, want: Any, got: Any, names: tuple[str, str] = EXPECTED,
            strict: bool = False) -> list[tuple[str, str]]:
    """(field, detail) for each differing field; never empty when the values differ."""
    if equal(want, got, strict):
        return []
    out: list[tuple[str, str]] = []
    _walk(path, want, got, names, strict, out)
    return out or [(path, _pair(want, got, names))]


def _by_channel(entries: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        grouped.setdefault(str(entry.get("channel")), []).append(entry)
    return grouped


def explain_plan(want: Any, got: Any, names: tuple[str, str] = EXPECTED, strict: bool = False,
                 path: str = "plan") -> list[tuple[str, str]]:
    """Two plans channel by channel: `plan.weplus[send].body(json).template: python …, node …`."""
    if equal(want, got, strict):
        return []
    if not (isinstance(want, list) and isinstance(got, list)):
        return explain(path, want, got, names, strict)
    out: list[tuple[str, str]] = []
    want_channels, got_channels = _by_channel(want), _by_channel(got)
    if list(want_channels) != list(got_channels) and set(want_channels) == set(got_channels):
        out.append((path, f"channel order differs: {names[0]} {list(want_channels)}, {names[1]} {list(got_channels)}"))
    for channel in list(want_channels) + [c for c in got_channels if c not in want_channels]:
        a_entries, b_entries = want_channels.get(channel, []), got_channels.get(channel, [])
        if len(a_entries) != len(b_entries):
            steps = [[e.get("step", "error") for e in side] or "nothing" for side in (a_entries, b_entries)]
            out.append((f"{path}.{channel}", f"{names[0]} plans {steps[0]}, {names[1]} {steps[1]}"))
            if not (a_entries and b_entries):
                continue
        for index, (a, b) in enumerate(zip(a_entries, b_entries, strict=False)):
            suffix = f"#{index}" if len(a_entries) > 1 else ""
            if ("error" in a) != ("error" in b):  # a config error on one side, a request on the other
                shown = [show(e["error"]) if "error" in e else f"a {e.get('step')} request" for e in (a, b)]
                out.append((f"{path}.{channel}{suffix}", f"{names[0]} plans {shown[0]}, {names[1]} {shown[1]}"))
                continue
            out.extend(explain(f"{path}.{channel}[{a.get('step', 'error')}]{suffix}", a, b, names, strict))
    # The same requests per channel, interleaved differently: still a difference.
    return out or explain(path, want, got, names, strict)


# --- a runner's output against its case ----------------------------------------------------------------

def _mismatches(case: Case, runtime: str, found: list[tuple[str, str]]) -> list[Mismatch]:
    return [Mismatch(case.id, runtime, field, detail) for field, detail in found]


def plan_mismatches(case: Case, runtime: str, output: dict[str, Any]) -> list[Mismatch]:
    """The envelope error and the unredacted plan, exactly."""
    found = explain("error", case.expected_error, output.get("error"))
    found += explain_plan(case.expected_requests, output["plan"])
    return _mismatches(case, runtime, found)


def send_mismatches(case: Case, runtime: str, output: dict[str, Any]) -> list[Mismatch]:
    """What went on the wire (method, URL, body, the planned headers) and the fields of the result the case names."""
    if "replies" not in case.data:
        return []
    found: list[tuple[str, str]] = []
    expected = case.data.get("result", {})
    if "skipped" in expected:
        found += explain("result.skipped", expected["skipped"], output["result"].get("skipped", ABSENT))
        if output["sent"]:
            found.append(("sent", f"expected nothing, got {len(output['sent'])} requests"))
        return _mismatches(case, runtime, found)
    wire = case.expected_wire
    if len(output["sent"]) != len(wire):
        found.append(("sent", f"expected {len(wire)} requests, got {len(output['sent'])}"))
    for index, (sent, want) in enumerate(zip(output["sent"], wire, strict=False)):
        for name in ("method", "url", "body"):
            found += explain(f"sent[{index}].{name}", want[name], sent[name])
        lowered = {k.lower(): v for k, v in sent["headers"].items()}
        for name, value in want["headers"].items():
            found += explain(f"sent[{index}].headers.{name}", value, lowered.get(name.lower(), ABSENT))
    whose = expected.get("channel", case.channel)
    matching = [r for r in output["result"]["channels"] if r["channel"] == whose]
    if len(matching) != 1:
        found.append(("result.channels", f"expected one entry for {whose}, got {len(matching)}"))
        return _mismatches(case, runtime, found)
    [result] = matching
    for name in RESULT_FIELDS:
        if name in expected:
            found += explain(f"result.{name}", expected[name], result.get(name, ABSENT))
    needle = expected.get("error_contains")
    if needle and needle not in (result.get("error") or ""):
        found.append(("result.error", f"expected to contain {show(needle)}, got {show(result.get('error'))}"))
    if "delays" in case.data:
        found += explain("delays", case.data["delays"], output.get("delays", ABSENT))
    return _mismatches(case, runtime, found)


def against_case(case: Case, runtime: str, output: dict[str, Any]) -> list[Mismatch]:
    return plan_mismatches(case, runtime, output) + send_mismatches(case, runtime, output)


# --- two runtimes against each other -------------------------------------------------------------------

def _without_elapsed(result: dict[str, Any]) -> dict[str, Any]:
    channels = [{k: v for k, v in entry.items() if k != "elapsed_ms"} for entry in result.get("channels", [])]
    return {**result, "channels": channels}


def _wire(sent: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: r[k] for k in ("method", "url", "body")} for r in sent]


def between(case: Case, left: str, left_output: dict[str, Any], right: str,
            right_output: dict[str, Any]) -> list[Mismatch]:
    """Two runtimes' outputs for one case: the same plan byte for byte (types and key order too), the same
    wire, the same whole result but for elapsed time, the same retry waits."""
    names = (left, right)
    found = explain("error", left_output.get("error"), right_output.get("error"), names)
    found += explain_plan(left_output["plan"], right_output["plan"], names, strict=True)
    if "result" in left_output or "result" in right_output:
        found += explain("result", _without_elapsed(left_output.get("result", {})),
                         _without_elapsed(right_output.get("result", {})), names)
        found += explain("delays", left_output.get("delays"), right_output.get("delays"), names)
        found += explain("sent", _wire(left_output.get("sent", [])), _wire(right_output.get("sent", [])), names)
    return _mismatches(case, f"{left} vs {right}", found)


# --- secrets --------------------------------------------------------------------------------------------

def leaks(secret: str, shown: str) -> bool:
    """A secret of 8 characters or more must appear nowhere; a shorter one nowhere as a whole token
    (spec/README.md, "Secrets": a one-letter token is masked where it stands alone, not inside words)."""
    from mcp_push.redact import LONG_SECRET

    if len(secret) >= LONG_SECRET:
        return secret in shown
    return re.search(rf"(?<![A-Za-z0-9_-]){re.escape(secret)}(?![A-Za-z0-9_-])", shown) is not None
