"""Runs node_runner.js (the Node replayer) over a list of cases in one Node process."""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path
from typing import Any

from .cases import Case

NODE_RUNNER = Path(__file__).with_name("node_runner.js")


def _json_safe(value: Any) -> Any:
    """JSON has no NaN or infinity (a case may hold YAML's .nan): such a number travels to node_runner.js as
    {"$number": "NaN"}, which it turns back into the number."""
    if isinstance(value, float) and not math.isfinite(value):
        return {"$number": repr(value).replace("inf", "Infinity").replace("nan", "NaN")}
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def run_cases(cases: list[Case]) -> dict[str, dict[str, Any]]:
    """Each case's runner output (python_runner.run_case's shape), by case id."""
    payload = []
    for case in cases:
        entry = {"id": case.id, "env": case.env, "now": case.now, "input": case.data["input"]}
        if "replies" in case.data:
            entry["replies"] = case.data["replies"]
            # The mock vendor intercepts these origins, and records a default port as planned.
            entry["urls"] = [r["url"] for r in case.expected_wire]
        payload.append(entry)
    proc = subprocess.run(
        ["node", str(NODE_RUNNER)],
        input=json.dumps(_json_safe(payload)), capture_output=True, text=True, encoding="utf-8", timeout=600,
    )
    if proc.returncode != 0:
        raise SystemExit(f"the Node replay failed:\n{proc.stderr[-4000:]}")
    return {entry["id"]: entry for entry in json.loads(proc.stdout)}
