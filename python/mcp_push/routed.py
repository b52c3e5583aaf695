"""Routing applied to a prepared message (docs/ROUTING.md): which of its instances it goes to now, at
which priority, and a result for each of the others, from routing.decide. Without a config file nothing
here runs and nothing changes. js/src/routed.js is the same.

The library and the CLI send at once: a message routing holds for later (quiet hours, throttle) is not
sent, and a digest route is refused, each saying so; the MCP server holds them
(service/routing_service.py). A `store` (service/routing_state.py) keeps the state only:, throttle: and
quiet hours read; without one, routing.decide says what it cannot keep.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from . import result as R
from .routing import decide

DIGEST_REFUSED = ("digest routes need the MCP server (mcp-push serve), which collects messages; "
                  "this sends at once, so it is not sent")
HELD_NOT_SENT = "only the MCP server sends held messages, so it is not sent"


class StateStore(Protocol):
    def update(self, change: Any) -> Any:
        """Runs change(state) -> {decisions, state} under the store's lock, keeps the new state."""


def when_text(seconds: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(seconds))


def routing_config(config: Any, targets: Iterable[tuple[Any, Any]]) -> dict[str, Any]:
    """What routing.decide reads: the instances in the pipeline's order (env-configured channels under
    their ids, without tags) and the config's routes."""
    return {"channels": {spec.name: {"tags": list(config.channels.get(spec.name, {}).get("tags", []))}
                         for spec, _ in targets},
            "routes": config.routes}


def message_of(kind: str, run_id: str | None, title: str, tags: Iterable[str] | None,
               channels: Iterable[str] | None) -> dict[str, Any]:
    message: dict[str, Any] = {"kind": kind, "title": title, "tags": list(tags or [])}
    if run_id:
        message["run_id"] = run_id
    if channels is not None:
        message["channels"] = [name.lower() for name in channels]
    return message


@dataclass
class Routing:
    """The decisions for one message, and a result for each instance it does not go to now."""

    decisions: list[dict[str, Any]]
    order: list[str]
    others: dict[str, R.ChannelResult] = field(default_factory=dict)

    def merge(self, sent: Iterable[R.ChannelResult]) -> R.SendResult:
        """The sent instances' results and the others', in the instances' order."""
        by_name = {**self.others, **{result.channel: result for result in sent}}
        results = [by_name[name] for name in self.order if name in by_name]
        skipped = None if any(d["action"] == "send" for d in self.decisions) else "routing: " + (
            self.decisions[0]["rule"] if self.decisions else "no instance")
        return R.SendResult(results, skipped=skipped)


def decide_for(prepared: Any, source: Mapping[str, Any], kind: str = "message", run_id: str | None = None,
               tags: Iterable[str] | None = None, channels: Iterable[str] | None = None,
               store: StateStore | None = None, now: float | None = None) -> list[dict[str, Any]] | None:
    """routing.decide's decisions for a prepared message's instances, or None without a config file."""
    from .config_lookup import load_config

    config = load_config(source)
    if config is None:
        return None
    data = routing_config(config, prepared.targets)
    message = message_of(kind, run_id, prepared.title, tags, channels)
    at = time.time() if now is None else now
    if store is None:
        return decide(data, message, None, at)["decisions"]
    return store.update(lambda state: decide(data, message, state, at))["decisions"]


def route_prepared(prepared: Any, source: Mapping[str, Any], kind: str = "message", run_id: str | None = None,
                   tags: Iterable[str] | None = None, channels: Iterable[str] | None = None,
                   store: StateStore | None = None, now: float | None = None) -> Routing | None:
    """Narrows `prepared` to the instances the message goes to now, with their priorities; None (and
    `prepared` as it was) without a config file. Held and digest decisions are not sent here."""
    decisions = decide_for(prepared, source, kind, run_id, tags, channels, store, now)
    if decisions is None:
        return None
    routing = Routing(decisions, [spec.name for spec, _ in prepared.targets])
    going = {d["instance"]: d["priority"] for d in decisions if d["action"] == "send"}
    for decision in decisions:
        name, action, rule = decision["instance"], decision["action"], decision["rule"]
        if action == "drop":
            routing.others[name] = R.ChannelResult(name, False, R.SKIPPED, rule)
        elif action == "defer":
            why = f"{rule}: until {when_text(decision['until'])}; {HELD_NOT_SENT}"
            routing.others[name] = R.ChannelResult(name, False, R.SKIPPED, why)
        elif action == "digest":
            routing.others[name] = R.ChannelResult(name, False, R.CONFIG_ERROR, f"{rule}: {DIGEST_REFUSED}")
    prepared.targets = [(spec, env) for spec, env in prepared.targets if spec.name in going]
    prepared.priorities = going
    return routing
