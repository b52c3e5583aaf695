"""Decides from a vendor's reply whether a message was delivered, as the spec's `success` block says."""

from __future__ import annotations

import json
from typing import Any

from .config import strip_space
from .paths import resolve_path
from .wire import to_json

_MISSING = object()


def _get(data: Any, path: str) -> Any:
    return resolve_path(data, path, _MISSING)


def rule_holds(data: Any, rule: dict[str, Any]) -> bool:
    value = _get(data, rule["path"])
    if value is _MISSING:
        return False
    return value_passes(value, rule)


def value_passes(value: Any, rule: dict[str, Any]) -> bool:
    """Whether a value already read passes the rule's test (a success rule's, or a body's `$when`)."""
    if "equals" in rule:
        # 0 and "0" are the same answer from vendors that are loose with types; True is not 1.
        expected = rule["equals"]
        if isinstance(value, bool) or isinstance(expected, bool):
            return value is expected
        return value == expected or str(value) == str(expected)
    if "in" in rule:
        return any(value_passes(value, {"equals": option}) for option in rule["in"])
    if "truthy" in rule:
        return bool(value)
    if "nonempty" in rule:
        return isinstance(value, (list, str, dict)) and len(value) > 0
    if "all" in rule:
        # Every item of a list passes the inner rule (WxPusher reports each recipient separately).
        return isinstance(value, list) and all(rule_holds(item, rule["all"]) for item in value)
    raise ValueError(f"rule has no test: {rule}")


def parse_json(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, TypeError):
        return _MISSING


def evaluate(success: dict[str, Any], status: int, text: str) -> tuple[bool, str | None]:
    """(delivered?, why not). The reason is a short phrase; vendor messages are added by the caller."""
    allowed = success.get("status")
    if allowed is not None and status not in allowed:
        return False, f"HTTP {status}"
    if allowed is None and not 200 <= status < 300:
        return False, f"HTTP {status}"
    if "text" in success and strip_space(text) != success["text"]:
        return False, "reply is not " + to_json(success["text"])
    if "json" in success or "json_any" in success:
        data = parse_json(text)
        if data is _MISSING:
            return False, "reply is not JSON"
        for rule in success.get("json", []):
            if not rule_holds(data, rule):
                return False, _describe(rule, data)
        any_rules = success.get("json_any", [])
        if any_rules and not any(rule_holds(data, r) for r in any_rules):
            return False, " and ".join(_describe(r, data) for r in any_rules)
    return True, None


def _describe(rule: dict[str, Any], data: Any) -> str:
    value = _get(data, rule["path"])
    shown = "missing" if value is _MISSING else to_json(value)
    if "equals" in rule:
        return f"{rule['path']}={shown}, expected {to_json(rule['equals'])}"
    if "in" in rule:
        return f"{rule['path']}={shown}, expected one of {to_json(rule['in'])}"
    if "truthy" in rule:
        return f"{rule['path']}={shown}, expected a true value"
    if "all" in rule:
        return f"{rule['path']}={shown}, expected every item to have {rule['all']['path']} as required"
    return f"{rule['path']}={shown}, expected a non-empty value"


def vendor_message(text: str, paths: tuple[str, ...] | list[str]) -> str | None:
    """The vendor's own explanation, when the reply carries one at a known path (or is short plain text).

    Not shortened here: the caller masks secrets first and shortens after, so a secret can never be
    cut in two and slip past the mask.
    """
    data = parse_json(text)
    if data is _MISSING:
        stripped = strip_space(text)
        return stripped if stripped and len(stripped) < 200 and "<" not in stripped else None
    for path in paths:
        value = _get(data, path)
        if value is not _MISSING and value not in (None, "", {}, []):
            return value if isinstance(value, str) else to_json(value)
    return None
