"""Hooks: pure functions that compute what a spec cannot say as data (signatures, parsed targets).

A hook is found by its file name: `hook: feishu_sign` runs the function `feishu_sign` of
`hooks/feishu_sign.py`; there is no list of hooks to keep. It gets a HookInput (the channel's env, the
message, the clock) and, as keyword arguments, the parameters the spec gives it
(`hook: {use: feishu_sign, secret_var: LARK_SECRET}`), and returns values the spec's templates read as
`hook.*`. It does no I/O, so a dry-run plan is exact. It may return `secrets`: values derived from
credentials alone that must be redacted like them (kept for the life of the process), and
`message_secrets`: values that change with every message (a signature over its timestamp), masked in
that message's results only. js/src/hooks/ has the same hooks under the same file and function names.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

# A hook's name is a module name under this package, never a path (the spec schema says the same).
NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class HookError(LookupError):
    """A spec names a hook that has no file, or whose file lacks its function: a bug in the spec or hook,
    reported as `HookError: ...` in that channel's internal_error result (the same words in Node)."""


@dataclass(frozen=True)
class HookInput:
    env: dict[str, str] = field(repr=False)  # secrets included
    title: str
    content: str
    now: float  # Unix time in seconds
    params: dict[str, Any] = field(default_factory=dict)  # the message's params (send(..., params=))
    data: dict[str, Any] = field(default_factory=dict)  # the spec's `data` tables (e.g. SMTP services)


# Hook modules once imported, by hook name: import_module's lookup costs more than the hook itself. The
# function is still read from its module at every call (a test may replace it there).
_modules: dict[str, Any] = {}


def get_hook(name: str) -> Callable[..., dict[str, Any]]:
    """The function `name` of hooks/<name>.py."""
    module = _modules.get(name)
    if module is None:
        if not NAME.match(name):
            raise HookError(f"no hook named '{name}'")
        module_name = f"{__name__}.{name}"
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:  # the hook exists but imports something missing: a bug to show as it is
                raise
            raise HookError(f"no hook named '{name}'") from None
        _modules[name] = module
    hook = getattr(module, name, None)
    if not callable(hook):
        raise HookError(f"hooks/{name}.py defines no function {name}")
    return hook


def run_hook(name: str, data: HookInput, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Runs the hook with the spec's parameters for it (`hook: {use: name, ...params}`)."""
    return get_hook(name)(data, **(params or {}))
