"""Named hooks: pure functions that compute what a spec cannot say as data (signatures, parsed targets).

A hook gets the channel's env, the message and the clock, and returns values the spec's templates read
as `hook.*`. It does no I/O, so a dry-run plan is exact. It may return `secrets`: values derived from
credentials alone that must be redacted like them (kept for the life of the process), and
`message_secrets`: values that change with every message (a signature over its timestamp), masked in
that message's results only. The Node runtime has the same hooks under the same names.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# hook name -> module under mcp_push.hooks that defines a function of that name
REGISTRY = {
    "dingtalk_sign": "dingtalk",
    "feishu_sign": "feishu",
    "serverchan_endpoint": "serverchan",
    "wxpusher_targets": "wxpusher",
    "wxpusher_spt_targets": "wxpusher_spt",
    "ntfy_auth": "ntfy",
    "wecom_app_config": "wecom_app",
    "gocqhttp_target": "gocqhttp",
    "chronocat_targets": "chronocat",
    "webhook_request": "webhook",
    "smtp_server": "smtp",
    "matrix_txn_id": "matrix",
    "lark_sign": "lark",
}


@dataclass(frozen=True)
class HookInput:
    env: dict[str, str] = field(repr=False)  # secrets included
    title: str
    content: str
    now: float  # Unix time in seconds
    params: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)  # the spec's `data` tables (e.g. SMTP services)


def get_hook(name: str) -> Callable[[HookInput], dict[str, Any]]:
    module_name = REGISTRY.get(name)
    if module_name is None:
        raise LookupError(f"no hook named '{name}'")
    module = importlib.import_module(f"{__name__}.{module_name}")
    return getattr(module, name)


def run_hook(name: str, data: HookInput) -> dict[str, Any]:
    return get_hook(name)(data)
