"""A message's priority (low, normal, high; docs/ROUTING.md) as each channel spec maps it to its vendor's
knob, as data (spec/README.md, "Priority"): a spec's `priority` block gives, per level, settings that
level overrides (`env`) and fields it adds to the request's JSON body (`body`). A level the block leaves
out, or a spec without one, plans the request as its settings make it. js/src/priority.js is the same."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

LEVELS = ("low", "normal", "high")


def priority_level(spec: Any, priority: str | None) -> Mapping[str, Any]:
    """What `priority` changes for this channel: {env?, body?}, empty when nothing."""
    if not priority:
        return {}
    return (getattr(spec, "priority", None) or {}).get(priority) or {}


def with_priority(spec: Any, env: Mapping[str, str], request: Mapping[str, Any],
                  priority: str | None) -> tuple[dict[str, str], Mapping[str, Any]]:
    """The channel's settings and request template under `priority`: the level's settings over the
    channel's, its body fields added to the body template (they are literal values)."""
    level = priority_level(spec, priority)
    if not level:
        return dict(env), request
    env = {**env, **level.get("env", {})}
    if "body" in level and isinstance(request.get("body"), dict):
        request = {**request, "body": {**request["body"], **level["body"]}}
    return env, request


