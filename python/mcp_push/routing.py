"""Routing decisions (docs/ROUTING.md): which instance gets a message, at which priority, now, later or
never, and the rule that decided, in words. One pure function, `decide`: the config, the message, the
state and the clock in; the decisions and the new state out. js/src/routing.js is the same, word for word;
conformance/cases/routing/ pins both.

The state (None: there is none, as for the library without a state folder) is plain JSON data:
  outcomes: {run_id: {outcome: failure | success, at}}   the last end or error of each run
  throttle: {"<instance> <run_id>": {free, pending}}      when the next update may go, one held for later
  digest:   {"<route> <instance>": {until, count}}         the open digest window of a route and instance
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Mapping
from typing import Any

KINDS = ("message", "start", "update", "end", "error")
DEFAULT_PRIORITY = {"message": "normal", "start": "normal", "update": "low", "end": "normal", "error": "high"}
OUTCOMES = {"error": "failure", "end": "success"}
KEEP_OUTCOMES_S = 30 * 86400  # a run's last outcome is forgotten after 30 days
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _a(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


def seconds(duration: str) -> int:
    """A config duration (30s, 10m, 1h, 1d) in seconds."""
    return int(duration[:-1]) * _UNITS[duration[-1]]


def glob_match(pattern: str, text: str) -> bool:
    """`*` any text, `?` one character, everything else itself (case matters)."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text, flags=re.DOTALL) is not None


def describe(when: Mapping[str, Any] | None) -> str:
    """A route's `when` in words: "event error", "event end, run_id nightly-*", "every message"."""
    when = when or {}
    parts = []
    if "event" in when:
        parts.append("event " + "|".join(when["event"]))
    if "run_id" in when:
        parts.append(f"run_id {when['run_id']}")
    if "tags" in when:
        parts.append("tags " + "|".join(when["tags"]))
    if "title" in when:
        parts.append(f"title {when['title']}")
    return ", ".join(parts) if parts else "every message"


def matches(when: Mapping[str, Any] | None, message: Mapping[str, Any]) -> bool:
    """Every condition of `when` holds: the event kind is listed, the run_id and title fit their globs, and
    the caller gave one of the tags."""
    when = when or {}
    if "event" in when and message["kind"] not in when["event"]:
        return False
    if "run_id" in when and not glob_match(when["run_id"], message.get("run_id") or ""):
        return False
    if "tags" in when and not set(when["tags"]) & set(message.get("tags") or []):
        return False
    return not ("title" in when and not glob_match(when["title"], message.get("title") or ""))


def targets(to: list[str], channels: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The instance names a route's `to` names, in order, each once; `tag:NAME` is every instance with
    that tag, in the config's order."""
    found: list[str] = []
    for target in to:
        names = [n for n, i in channels.items() if target[4:] in (i.get("tags") or [])] \
            if target.startswith("tag:") else [target]
        found.extend(name for name in names if name not in found)
    return found


def local_clock(now: float, zone: str) -> tuple[int, int]:
    """(minute of the day, second of the minute) at Unix time `now` in the IANA time zone."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    local = datetime.fromtimestamp(math.floor(now), ZoneInfo(zone))
    return local.hour * 60 + local.minute, local.second


def _minutes(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


def quiet_until(quiet: Mapping[str, Any], now: float) -> int | None:
    """The end of the quiet hours `now` falls in (Unix seconds), or None outside them. From 22:00 to 07:00
    spans midnight; from equal to to is never quiet."""
    start, end = _minutes(quiet["from"]), _minutes(quiet["to"])
    minute, second = local_clock(now, quiet.get("tz", "UTC"))
    inside = start <= minute < end if start < end else (minute >= start or minute < end) if start > end else False
    if not inside:
        return None
    return math.floor(now) - second + ((end - minute) % 1440) * 60


def _last_outcome(state: Mapping[str, Any], key: str, pattern: bool) -> str | None:
    """The latest recorded outcome of the run `key`, or (pattern) of any run whose id fits the glob."""
    outcomes = state.get("outcomes", {})
    if not pattern:
        entry = outcomes.get(key)
        return entry["outcome"] if entry else None
    fitting = sorted((entry["at"], run_id, entry["outcome"]) for run_id, entry in outcomes.items()
                     if glob_match(key, run_id))
    return fitting[-1][2] if fitting else None


def _only(route: Mapping[str, Any], label: str, message: Mapping[str, Any], state: Any) -> str | None:
    """Why `only:` drops the message, or None when it passes."""
    only, kind = route["only"], message["kind"]
    if only == "failures":
        return None if kind == "error" else f"{label}: only failures: {_a(kind)} is no failure"
    pattern = (route.get("when") or {}).get("run_id")
    key = pattern or message.get("run_id") or ""
    if kind not in OUTCOMES:
        return f"{label}: only {only}: {_a(kind)} is no {'recovery' if only == 'recoveries' else 'change'}"
    if not key:
        return f"{label}: only {only}: the message has no run_id to follow"
    before = _last_outcome(state, key, pattern is not None)
    if only == "recoveries":
        if kind == "end" and before == "failure":
            return None
        return f"{label}: only recoveries: no error of {key} before this {kind}"
    if before == OUTCOMES[kind]:
        return f"{label}: only changes: {key} {'failed' if before == 'failure' else 'succeeded'} before too"
    return None


def _throttle(route: Mapping[str, Any], label: str, name: str, message: Mapping[str, Any], state: Any,
              now: float) -> dict[str, Any] | None:
    """A defer decision for an update within the route's throttle interval (the last one held wins), or
    None to send it; records the send or the hold in the state."""
    every = seconds(route["throttle"])
    key = f"{name} {message.get('run_id') or ''}"
    entry = state.setdefault("throttle", {}).get(key)
    if entry is not None and entry.get("pending") is not None and now < entry["pending"]:
        return {"action": "defer", "until": entry["pending"],
                "rule": f"{label}: throttle {route['throttle']}: replaces the update held until then"}
    if entry is None or now >= entry["free"]:
        state["throttle"][key] = {"free": now + every, "pending": None}
        return None
    held = entry["free"]
    state["throttle"][key] = {"free": held + every, "pending": held}
    return {"action": "defer", "until": held,
            "rule": f"{label}: throttle {route['throttle']}: one update per run per {route['throttle']}; held"}


def _digest(route: Mapping[str, Any], index: int, label: str, name: str, state: Any, now: float) -> dict[str, Any]:
    every = seconds(route["digest"]["every"])
    limit = route["digest"].get("max")
    key = f"{index + 1} {name}"
    windows = state.setdefault("digest", {}) if state is not None else {}
    entry = windows.get(key)
    if entry is None or now >= entry["until"]:
        entry = {"until": now + every, "count": 0}
    entry = {"until": entry["until"], "count": entry["count"] + 1}
    decision = {"action": "digest", "until": entry["until"], "digest": key,
                "rule": f"{label}: digest every {route['digest']['every']}"}
    if limit is not None and entry["count"] >= limit:
        decision["flush"] = True
        decision["rule"] += f": {limit} collected, sent now"
        windows.pop(key, None)
    else:
        windows[key] = entry
    return decision


def _apply(route: Mapping[str, Any], index: int, name: str, message: Mapping[str, Any], state: Any,
           now: float) -> dict[str, Any]:
    label = f"route {index + 1}"
    rule = f"{label}: {describe(route.get('when'))} → {', '.join(route['to'])}"
    priority = route.get("priority") or DEFAULT_PRIORITY[message["kind"]]
    decided = {"instance": name, "priority": priority}
    if "only" in route:
        if state is None:
            rule += f"; only {route['only']} cannot be told without a state folder, so it is sent"
        else:
            why = _only(route, label, message, state)
            if why is not None:
                return {**decided, "action": "drop", "rule": why}
    quiet = route.get("quiet_hours")
    if quiet is not None and message["kind"] not in quiet.get("except", []):
        until = quiet_until(quiet, now)
        if until is not None:
            hours = f"{label}: quiet hours {quiet['from']}-{quiet['to']} {quiet.get('tz', 'UTC')}"
            if quiet.get("then", "defer") == "drop":
                return {**decided, "action": "drop", "rule": hours}
            return {**decided, "action": "defer", "until": until, "rule": f"{hours}: held until they end"}
    if "digest" in route:
        return {**decided, **_digest(route, index, label, name, state, now)}
    if "throttle" in route and message["kind"] == "update":
        if state is None:
            rule += "; throttle cannot be kept without a state folder, so it is sent"
        else:
            held = _throttle(route, label, name, message, state, now)
            if held is not None:
                return {**decided, **held}
    return {**decided, "action": "send", "rule": rule}


def _tidy(state: dict[str, Any], now: float) -> None:
    """Forgets what no longer decides anything: old outcomes, throttle slots already free, closed digests
    (the server flushes a closed digest window before it routes the next message)."""
    outcomes = state.get("outcomes", {})
    for run_id in [r for r, entry in outcomes.items() if entry["at"] < now - KEEP_OUTCOMES_S]:
        del outcomes[run_id]
    throttle = state.get("throttle", {})
    for key in [k for k, e in throttle.items() if (e["pending"] is None or now >= e["pending"]) and now >= e["free"]]:
        del throttle[key]
    for part in ("outcomes", "throttle", "digest"):
        if part in state and not state[part]:
            del state[part]


def decide(config: Mapping[str, Any], message: Mapping[str, Any], state: Mapping[str, Any] | None,
           now: float) -> dict[str, Any]:
    """{decisions, state}: one decision per instance of the config, in its order: {instance, action (send,
    drop, defer, digest), priority (low, normal, high), rule (why, in words)[, until][, digest, flush]}.

    `config` is mcp-push.yaml's data (the env-configured channels added to `channels` by name);
    `message` is {kind, run_id, title, tags, channels}: an explicit `channels` list (instance names)
    overrides the routes. Routes are tried in order; the first that matches decides, unless it says
    `continue: true`; an instance a route already decided is not decided again. With routes, a message
    no route matches goes nowhere. `state` None: there is no state, so `only:` and `throttle:` cannot be
    kept (the message is sent, and the rule says so); the state returned is then None too.
    """
    kind = message.get("kind") or "message"
    if kind not in KINDS:
        raise ValueError(f"kind: must be one of {', '.join(KINDS)}")
    message = {**message, "kind": kind}
    channels = config.get("channels") or {}
    routes = config.get("routes") or []
    new_state = copy.deepcopy(dict(state)) if state is not None else None
    decided: dict[str, dict[str, Any]] = {}
    default = {"priority": DEFAULT_PRIORITY[kind]}
    explicit = message.get("channels")
    if explicit is not None:
        for name in channels:
            chosen = name in explicit
            decided[name] = {"instance": name, **default, "action": "send" if chosen else "drop",
                             "rule": "channels named by the caller" if chosen else "not among the channels named"}
    elif not routes:
        for name in channels:
            decided[name] = {"instance": name, **default, "action": "send", "rule": "no routes: every instance"}
    else:
        matched = False
        for index, route in enumerate(routes):
            if not matches(route.get("when"), message):
                continue
            matched = True
            for name in targets(route["to"], channels):
                if name in channels and name not in decided:
                    decided[name] = _apply(route, index, name, message, new_state, now)
            if not route.get("continue"):
                break
        left = "no route sends it there" if matched else "no route matches"
        for name in channels:
            decided.setdefault(name, {"instance": name, **default, "action": "drop", "rule": left})
    if new_state is not None and kind in OUTCOMES and message.get("run_id"):
        new_state.setdefault("outcomes", {})[message["run_id"]] = {"outcome": OUTCOMES[kind], "at": now}
    if new_state is not None:
        _tidy(new_state, now)
    return {"decisions": [decided[name] for name in channels], "state": new_state}
