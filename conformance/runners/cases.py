"""Loads conformance/cases/*/*.yaml (validated by conformance/case.schema.json) into Case objects."""

from __future__ import annotations

import copy
import functools
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from mcp_push.specs import load_channels, load_settings

REPO = Path(__file__).resolve().parents[2]
CASES = REPO / "conformance" / "cases"
DEFAULT_NOW = 1700000000.0


@dataclass
class Case:
    file: str
    channel: str
    data: dict[str, Any]
    # Seconds the runtime slept between tries in the last send (retries use a fake clock).
    slept: list[float] = field(default_factory=list)
    _config_file: str | None = field(default=None, repr=False)

    @property
    def id(self) -> str:
        return f"{self.file}: {self.data['description']}"

    @property
    def env(self) -> dict[str, str]:
        env = {"HITOKOTO": "false"}
        env.update(self.data["env"])
        if "config" in self.data:
            env["MCP_PUSH_CONFIG"] = self.config_file
        return env

    @property
    def config_file(self) -> str:
        """The case's `config` (a mapping, or a file's text) as a file both runtimes read through
        MCP_PUSH_CONFIG; written once per case."""
        if self._config_file is None:
            given = self.data["config"]
            text = given if isinstance(given, str) else json.dumps(given, ensure_ascii=False, indent=1)
            folder = Path(tempfile.mkdtemp(prefix="mcp-push-case-"))
            (folder / "mcp-push.yaml").write_text(text, encoding="utf-8")
            self._config_file = str(folder / "mcp-push.yaml")
        return self._config_file

    @property
    def expected_error(self) -> str | None:
        """The case's `error`, `{config}` standing for its config file's path."""
        error = self.data.get("error")
        return error.replace("{config}", self.config_file) if error and "config" in self.data else error

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
                reply = json_or_none(replies[index].get("body")) or {}
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
        values = (json_or_none(r.get("body")) for r in self.data.get("replies", []))
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


def json_or_none(text: str | None) -> Any:
    try:
        return json.loads(text or "null")
    except ValueError:
        return None


def load_cases() -> list[Case]:
    """Fresh Case objects each call (a run records into them), from the files parsed and validated once."""
    return [Case(file, channel, copy.deepcopy(data)) for file, channel, data in _validated_cases()]


@functools.cache
def _validated_cases() -> list[tuple[str, str, dict[str, Any]]]:
    # One validator for all files (jsonschema.validate would check the schema itself again for each of them)
    # and libyaml's parser where PyYAML has it, as mcp_push.specs does: a test process collects cases for
    # several test modules, and this was most of pytest's collection time.
    schema = json.loads((REPO / "conformance" / "case.schema.json").read_text(encoding="utf-8"))
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    cases = []
    for path in sorted(CASES.glob("*/*.yaml")):
        if path.parent.name == "routing":  # routing decisions, not plans: routing_cases.py
            continue
        doc = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)  # noqa: S506 (a safe loader)
        error = jsonschema.exceptions.best_match(validator.iter_errors(doc))
        if error is not None:
            raise error  # what jsonschema.validate raises
        for data in doc["cases"]:
            cases.append((f"{path.parent.name}/{path.name}", doc["channel"], data))
    return cases
