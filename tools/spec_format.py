"""Spec format 2's renamed and removed keywords: what tools/lint_specs.py says about a format-1 spec.

Each message names the keyword a spec written for format 1 uses and what format 2 says instead
(spec/README.md, "Spec format"; docs/MIGRATION.md). The schema rejects these too, in its own words.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

FORMAT = 2

REMOVED_FILTERS = {
    "b64": "Base64 is computed in a hook (rfc2047 covers header values)",
    "lower": "write the value in the case the vendor wants, or compute it in a hook",
    "to_json": "use the body form {$json: …}",
}
_FILTER = re.compile(r"\|\s*(" + "|".join(REMOVED_FILTERS) + r")\b")
_REQUESTS = ("request", "edit.request", "token.request")
# No channel overrode the shared retry policy: a spec keeps only what is its own (after_json, idempotent).
REMOVED_RETRY = ("attempts", "backoff_seconds", "max_backoff_seconds", "jitter", "deadline_seconds")


def settings_problems(settings: dict[str, Any]) -> list[str]:
    found = settings.get("spec_format", 1)
    if found != FORMAT:
        return [f"spec/settings.yaml: spec_format is {found}; these tools read spec format {FORMAT} "
                "(spec/README.md, Spec format)"]
    return []


def _walk(node: Any, where: str) -> Iterator[tuple[str, Any, Any]]:
    if isinstance(node, dict):
        for key, child in node.items():
            yield where, key, child
            yield from _walk(child, f"{where}.{key}")
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _walk(item, f"{where}.{index}")


def _same_as_request(override: Any, request: Any, where: str) -> Iterator[str]:
    for key, value in override.items():
        if key not in request:
            continue
        if isinstance(value, dict) and isinstance(request[key], dict):
            yield from _same_as_request(value, request[key], f"{where}.{key}")
        elif value == request[key]:
            yield f"{where}.{key}"


def old_vocabulary(spec: dict[str, Any]) -> list[str]:
    """One line per format-1 keyword in a channel spec, naming its format-2 replacement."""
    problems = []
    for where, key, value in _walk(spec, ""):
        where = where.lstrip(".") or "(top level)"
        if key == "$when" and isinstance(value, str):
            problems.append(f"{where}: `$when: {value}` is format 1; spec format 2's $when takes a rule: "
                            f"`$when: {{path: {value}, truthy: true}}` (or `equals:` instead of a hook's is_* flag)")
        if key == "encoding" and value == "query" and where in _REQUESTS:
            problems.append(f"{where}: encoding `query` was removed in spec format 2: use `none` "
                            "(query fields go in `query`)")
        if isinstance(value, str) and ("{{" in value or "{%" in value):
            for name in _FILTER.findall(value):
                problems.append(f"{where}.{key}: the filter `{name}` was removed in spec format 2: "
                                f"{REMOVED_FILTERS[name]}")
    for key in REMOVED_RETRY:
        if key in (spec.get("retry") or {}):
            problems.append(f"retry.{key} was removed in spec format 2: the retry policy is settings.yaml's `retry`, "
                            "the same for every channel")
    edit, request = spec.get("edit"), spec.get("request")
    if isinstance(edit, dict) and isinstance(edit.get("request"), dict) and isinstance(request, dict):
        same = list(_same_as_request(edit["request"], request, "edit.request"))
        if same:
            problems.append(f"edit.request repeats request ({', '.join(same)}): in spec format 2 edit.request is "
                            "an override merged onto request; drop what it repeats")
    return problems
