"""The one path syntax of the specs (js/src/paths.js mirrors it).

A path is dotted steps (`result.message_id`, `hook.agentid`); a step of ASCII digits on a list is an index
(`result.0.message_id`). The same resolver reads success rules, `error_paths`, `$ref`, `$merge`, `$when`,
`for_each`, `edit.ref`, `token.value`, `token.expires_in` and `retry.after_json` (spec/README.md, "Paths").
"""

from __future__ import annotations

from typing import Any


class PathError(KeyError):
    """A path that names nothing in the data: a spec error in a template context."""

    def __str__(self) -> str:  # KeyError's own str() quotes its argument
        return str(self.args[0])


_RAISE = object()


def resolve_path(data: Any, path: str, default: Any = _RAISE) -> Any:
    """The value at `path` in `data`; `default` when a step names nothing, or PathError without one."""
    value = data
    for step in path.split("."):
        if isinstance(value, dict) and step in value:
            value = value[step]
        elif isinstance(value, list) and step.isascii() and step.isdigit() and int(step) < len(value):
            value = value[int(step)]
        elif default is _RAISE:
            raise PathError(f"context has no '{path}'")
        else:
            return default
    return value
