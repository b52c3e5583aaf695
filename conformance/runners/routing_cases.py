"""Routing cases (conformance/cases/routing/*.yaml, validated by conformance/routing.schema.json): each a
config, a sequence of messages with a clock and the decisions expected; replayed through each runtime's
pure decide() (python/mcp_push/routing.py, js/src/routing.js via routing_runner.js)."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from .cases import CASES, REPO

ROUTING = CASES / "routing"
NODE_RUNNER = Path(__file__).with_name("routing_runner.js")


@dataclass
class RoutingCase:
    file: str
    data: dict[str, Any]

    @property
    def id(self) -> str:
        return f"{self.file}: {self.data['description']}"

    @property
    def config(self) -> dict[str, Any]:
        """The config as decide() takes it: the file's, the env-configured channels added by id."""
        config = dict(self.data["config"])
        channels = dict(config.get("channels") or {})
        for name in self.data.get("env_channels", []):
            channels.setdefault(name, {"type": name})
        config["channels"] = channels
        return config

    @property
    def state(self) -> dict[str, Any] | None:
        return self.data.get("state", {})


def load_routing_cases() -> list[RoutingCase]:
    schema = json.loads((REPO / "conformance" / "routing.schema.json").read_text(encoding="utf-8"))
    cases = []
    for path in sorted(ROUTING.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        jsonschema.validate(doc, schema)
        cases.extend(RoutingCase(f"routing/{path.name}", data) for data in doc["cases"])
    return cases


def run_python(case: RoutingCase) -> list[dict[str, Any]]:
    """Each step's {decisions, state}, the config checked as a config file is first."""
    from mcp_push.configfile import parse_config
    from mcp_push.routing import decide

    parse_config(json.dumps(case.data["config"]), case.file)
    state, out = case.state, []
    for step in case.data["steps"]:
        result = decide(case.config, step["message"], state, step["now"])
        out.append(result)
        state = result["state"]
    return out


def run_node(cases: list[RoutingCase]) -> dict[str, list[dict[str, Any]]]:
    payload = [{"id": c.id, "file": c.file, "raw": c.data["config"], "config": c.config, "state": c.state,
                "steps": c.data["steps"]} for c in cases]
    proc = subprocess.run(["node", str(NODE_RUNNER)], input=json.dumps(payload), capture_output=True, text=True,
                          encoding="utf-8", timeout=600)
    if proc.returncode != 0:
        raise SystemExit(f"the Node routing replay failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout)


def mismatches(case: RoutingCase, runtime: str, output: list[dict[str, Any]]) -> list[str]:
    """One line per step whose decisions (or pinned state) differ from the case's."""
    found = []
    for index, (step, got) in enumerate(zip(case.data["steps"], output, strict=True)):
        if got["decisions"] != step["decisions"]:
            expected = json.dumps(step["decisions"], ensure_ascii=False)
            found.append(f"  [{runtime}] step {index + 1} decisions: expected {expected}"
                         f"\n    got {json.dumps(got['decisions'], ensure_ascii=False)}")
        if "state" in step and got["state"] != step["state"]:
            found.append(f"  [{runtime}] step {index + 1} state: expected {json.dumps(step['state'])}, "
                         f"got {json.dumps(got['state'])}")
    return found


def between(case: RoutingCase, python: list[dict[str, Any]], node: list[dict[str, Any]]) -> list[str]:
    shown = lambda value: json.dumps(value, ensure_ascii=False)  # noqa: E731
    return [f"  [python vs node] step {i + 1}: python {shown(a)}, node {shown(b)}"
            for i, (a, b) in enumerate(zip(python, node, strict=True)) if a != b]
