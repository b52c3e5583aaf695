"""Routing in the MCP server (docs/ROUTING.md): each accepted message is routed (routing.decide, its state
in the state folder: routing_state.py) before the engine takes it; what routing holds (quiet hours, a
throttled update, a digest) is kept in the state folder and submitted by a thread of the server when it
is due, a digest as one summary message per instance, one line per message. Without a config file the
engine is called exactly as before.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Iterable, Mapping
from typing import Any

from .. import result as R
from ..configfile import ConfigFileError, load_config, one_look
from ..routed import decide_for, when_text
from ..selection import configured_channels
from .engine import Engine, Ticket
from .routing_state import Held, RoutingStore

log = logging.getLogger("mcp_push")

IDLE_WAKE_SECONDS = 5.0
_services: weakref.WeakKeyDictionary[Engine, RoutingService] = weakref.WeakKeyDictionary()
_services_lock = threading.Lock()


class _Targets:
    """The instances a message may go to, as routed.decide_for reads them from a prepared message."""

    def __init__(self, title: str, targets: list[tuple[Any, Any]]):
        self.title, self.targets = title, targets


class RoutingService:
    """One engine's routing: its store and the thread that submits held messages when they are due."""

    def __init__(self, engine: Engine, store: RoutingStore | None = None):
        self.engine, self._store = engine, store
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def store(self) -> RoutingStore:
        """Opened on first use: a server without a config file makes no file in the state folder."""
        with self._lock:
            if self._store is None:
                shared = getattr(self.engine.outbox, "routing_store", None)  # PostgreSQL: every replica's
                path = getattr(self.engine.outbox, "path", None)  # None: an outbox in memory
                self._store = shared() if shared is not None else RoutingStore(
                    path.with_name("routing.sqlite3") if path is not None else None)
            return self._store

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, daemon=True, name="mcp-push-held")
            self._thread.start()

    def submit(self, source: Mapping[str, Any], title: str, content: str, kind: str = "message",
               run_id: str | None = None, channels: Iterable[str] | None = None,
               params: Mapping[str, Any] | None = None, tags: Iterable[str] | None = None,
               now: float | None = None, format: str = "text",  # noqa: A002
               note: Mapping[str, Any] | None = None) -> Ticket:
        """Routes the message, submits what goes now, holds what goes later; one result per instance.
        `format` (markdown) goes with what is submitted now; a held message is sent as text. `note` is for
        the delivery history (engine.submit)."""
        try:
            config = load_config(source)
        except ConfigFileError:
            config = None  # the engine reports it (prepare_message), as for the library
        if config is None:
            return self.engine.submit(title, content, kind, run_id, channels=channels, params=params, format=format,
                                      note=note)
        at = time.time() if now is None else now
        targets = configured_channels(source, channels)
        decisions = decide_for(_Targets(title, targets), source, kind, run_id, tags, channels, self.store, at) or []
        going = {d["instance"]: d["priority"] for d in decisions if d["action"] == "send"}
        others: dict[str, R.ChannelResult] = {}
        for decision in decisions:
            name, action, rule = decision["instance"], decision["action"], decision["rule"]
            if action == "drop":
                others[name] = R.ChannelResult(name, False, R.SKIPPED, rule)
            elif action in ("defer", "digest"):
                digest = decision.get("digest") if action == "digest" else None
                slot = run_id or "" if action == "defer" and kind == "update" else None
                self.store.hold(name, decision["until"], kind, run_id, title, content, decision["priority"], at,
                                slot=slot, digest=digest)
                if decision.get("flush"):
                    self.store.flush_digest(digest, name)
                held = "collected for a digest" if action == "digest" else "held"
                others[name] = R.ChannelResult(name, True, R.QUEUED,
                                               f"{rule}: {held} until {when_text(decision['until'])}")
                self.start()
                self._wake.set()
        ticket = (self.engine.submit(title, content, kind, run_id, channels=list(going), params=params,
                                     priorities=going, format=format, note=note) if going else Ticket([]))
        by_name: dict[str, Any] = dict(others)
        for entry in ticket.entries:
            by_name[entry.channel] = entry
        order = [spec.name for spec, _ in targets]
        skipped = None if going or any(r.ok for r in others.values()) else "routing: " + (
            decisions[0]["rule"] if decisions else "no instance")
        return Ticket([by_name[name] for name in order if name in by_name], skipped or ticket.skipped,
                      ticket.message_id)

    # --- held messages ---------------------------------------------------------------------------------

    def send_due(self, now: float | None = None) -> int:
        """Submits every held message that is due (a digest as one summary per instance); how many."""
        at = time.time() if now is None else now
        due = self.store.take_due(at)
        singles = [held for held in due if held.digest is None]
        digests: dict[tuple[str, str], list[Held]] = {}
        for held in due:
            if held.digest is not None:
                digests.setdefault((held.digest, held.instance), []).append(held)
        # Each is forgotten only once the engine has it: a submit that fails (the database away) or a process
        # that dies here leaves the rest taken, due again RETAKE_SECONDS later (routing_state.RETAKE_SECONDS).
        for held in singles:
            self.engine.submit(held.title, held.content, held.kind, held.run_id, channels=[held.instance],
                               priorities={held.instance: held.priority})
            self.store.done([held.row])
        for (_, instance), items in digests.items():
            title, content = digest_message(items)
            loudest = max((h.priority for h in items), key=["low", "normal", "high"].index)
            self.engine.submit(title, content, channels=[instance], priorities={instance: loudest})
            self.store.done([h.row for h in items])
        return len(singles) + len(digests)

    def _run(self) -> None:
        while not getattr(self.engine, "_closed", False):
            try:
                self.send_due()
                upcoming = self.store.next_due()
            except Exception as exc:  # a locked or unreachable database: what was taken is due again later
                log.warning("routing: sending held messages failed, tried again later: %s", exc)
                log.debug("routing: sending held messages failed", exc_info=True)
                upcoming = None
            wait = IDLE_WAKE_SECONDS if upcoming is None else min(max(upcoming - time.time(), 0.05), IDLE_WAKE_SECONDS)
            self._wake.wait(wait)
            self._wake.clear()


def digest_message(items: list[Held]) -> tuple[str, str]:
    """One summary of a digest's messages: who (the run, or the kind), what (the title), when, a line each."""
    lines = [f"{time.strftime('%H:%M:%S', time.gmtime(h.created))} {h.run_id or h.kind}: {h.title or h.content[:80]}"
             for h in items]
    return f"Digest: {len(items)} message{'s' if len(items) != 1 else ''}", "\n".join(lines)


def service_for(engine: Engine) -> RoutingService:
    """The engine's routing service, made on first use over the engine's state folder (memory for an
    outbox in memory)."""
    with _services_lock:
        service = _services.get(engine)
        if service is None:
            service = _services[engine] = RoutingService(engine)
        return service


def submit(engine: Engine, source: Mapping[str, Any], title: str, content: str, **how: Any) -> Ticket:
    """engine.submit, routed when there is a config file (the MCP tools and REST call this). The config
    file is looked for once for the message (routing, the checks and the channel selection all ask)."""
    with one_look():
        return service_for(engine).submit(source, title, content, **how)


def start_routing(engine: Engine, source: Mapping[str, Any]) -> None:
    """With a routing config file, the thread that sends held messages (a previous run's too) starts
    with the server; without one nothing is made."""
    try:
        config = load_config(source)
    except ConfigFileError as exc:
        log.warning("%s", exc)
        return
    if config is not None:
        service_for(engine).start()
