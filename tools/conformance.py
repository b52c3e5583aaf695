"""Replays every conformance case against both runtimes and fails on any difference.

Each runtime must match the case (its plan, what went on the wire to the scripted vendor, its result),
and the two runtimes must match each other exactly (plans, wire, results but for elapsed time).
Differences are printed as readable diffs naming the case, the runtime and the field.

    python tools/conformance.py [-k SUBSTRING]
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python"))

from mcp_push.tokens import TOKENS  # noqa: E402
from tests.conformance import Case, load_cases, mock_vendor, plan_case, send_case  # noqa: E402

RESULT_FIELDS = ("ok", "status", "http_status", "attempts", "parts", "truncated")


def run_python(case: Case) -> dict[str, Any]:
    planned, error = plan_case(case)
    out: dict[str, Any] = {"plan": planned, "error": error}
    if "replies" in case.data:
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


def _json_safe(value: Any) -> Any:
    """JSON has no NaN or infinity (a case may hold YAML's .nan): such a number travels to replay.js as
    {"$number": "NaN"}, which it turns back into the number."""
    if isinstance(value, float) and not math.isfinite(value):
        return {"$number": repr(value).replace("inf", "Infinity").replace("nan", "NaN")}
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def run_js(cases: list[Case]) -> list[dict[str, Any]]:
    payload = []
    for case in cases:
        entry = {"id": case.id, "env": case.env, "now": case.now, "input": case.data["input"]}
        if "replies" in case.data:
            entry["replies"] = case.data["replies"]
            entry["urls"] = [r["url"] for r in case.expected_wire]
        payload.append(entry)
    proc = subprocess.run(
        ["node", str(ROOT / "js" / "tools" / "replay.js")],
        input=json.dumps(_json_safe(payload)), capture_output=True, text=True, encoding="utf-8", timeout=600,
    )
    if proc.returncode != 0:
        raise SystemExit(f"the Node replay failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout)


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 400 else text[:400] + "…"


def diff(path: str, want: Any, got: Any, out: list[str]) -> None:
    """Appends one line per differing leaf: `path: expected X, got Y`."""
    if isinstance(want, dict) and isinstance(got, dict):
        for key in list(want) + [k for k in got if k not in want]:
            diff(f"{path}.{key}", want.get(key, "<absent>"), got.get(key, "<absent>"), out)
    elif isinstance(want, list) and isinstance(got, list) and len(want) == len(got):
        for index, (w, g) in enumerate(zip(want, got, strict=True)):
            diff(f"{path}[{index}]", w, g, out)
    elif want != got:
        out.append(f"{path}: expected {_show(want)}, got {_show(got)}")


def check_against_case(case: Case, got: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    diff("error", case.data.get("error"), got.get("error"), problems)
    diff("plan", case.expected_requests, got["plan"], problems)
    if "replies" not in case.data:
        return problems
    expected_result = case.data.get("result", {})
    if "skipped" in expected_result:
        diff("result.skipped", expected_result["skipped"], got["result"]["skipped"], problems)
        if got["sent"]:
            problems.append(f"sent: expected nothing, got {len(got['sent'])} requests")
        return problems
    wire = case.expected_wire
    if len(got["sent"]) != len(wire):
        problems.append(f"sent: {len(got['sent'])} requests went out, {len(wire)} expected")
    for index, (sent, want) in enumerate(zip(got["sent"], wire, strict=False)):
        for field in ("method", "url", "body"):
            diff(f"sent[{index}].{field}", want[field], sent[field], problems)
        lowered = {k.lower(): v for k, v in sent["headers"].items()}
        for name, value in want["headers"].items():
            diff(f"sent[{index}].headers.{name}", value, lowered.get(name.lower(), "<absent>"), problems)
    matching = [r for r in got["result"]["channels"] if r["channel"] == case.channel]
    if len(matching) != 1:
        return [*problems, f"result: expected one entry for {case.channel}, got {len(matching)}"]
    for field in RESULT_FIELDS:
        if field in expected_result:
            diff(f"result.{field}", expected_result[field], matching[0][field], problems)
    needle = expected_result.get("error_contains")
    if needle and needle not in (matching[0]["error"] or ""):
        problems.append(f"result.error: expected to contain {_show(needle)}, got {_show(matching[0]['error'])}")
    if "delays" in case.data:
        diff("delays", case.data["delays"], got.get("delays"), problems)
    return problems


def check_runtimes_agree(python: dict[str, Any], js: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    diff("error", python.get("error"), js.get("error"), problems)
    diff("plan", python["plan"], js["plan"], problems)
    if "result" in python:
        for side in (python, js):
            for entry in side["result"]["channels"]:
                entry.pop("elapsed_ms", None)
        diff("result", python["result"], js["result"], problems)
        diff("delays", python.get("delays"), js.get("delays"), problems)
        wire = [{k: r[k] for k in ("method", "url", "body")} for r in python["sent"]]
        diff("sent", wire, [{k: r[k] for k in ("method", "url", "body")} for r in js["sent"]], problems)
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-k", default="", help="only cases whose id contains this text")
    args = parser.parse_args()
    logging.disable(logging.CRITICAL)  # the runtimes' own logs would drown the diffs
    cases = [c for c in load_cases() if args.k in c.id]
    js_results = {entry["id"]: entry for entry in run_js(cases)}
    failed = 0
    for case in cases:
        python = run_python(case)
        js = js_results[case.id]
        report = [f"  [python] {p}" for p in check_against_case(case, python)]
        report += [f"  [js] {p}" for p in check_against_case(case, js)]
        report += [f"  [python vs js] {p}" for p in check_runtimes_agree(python, js)]
        if report:
            failed += 1
            print(f"FAIL {case.id}", *report, sep="\n")
    print(f"conformance: {len(cases)} cases replayed against python and js")
    print(f"{len(cases) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
