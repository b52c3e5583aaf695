"""The delivery engine of the long-running MCP server: lanes, rate limits, coalescing, the outbox.

Every accepted message becomes one delivery per channel. Deliveries to one channel credential share a
lane, which sends them one at a time, in order, when the vendor's rate limit has room (ratelimit.py).
An agent's burst of progress updates is coalesced while it waits: a newer `update` of a run replaces
the waiting one, and the run's `end` or `error` drops its waiting updates. `start`, `end`, `error` and
plain messages are never dropped, and nothing overtakes an older delivery of its own run. A lane holds
at most MCP_PUSH_LANE_QUEUE_MAX waiting deliveries: beyond it a new plain message (or an update with no
waiting update to replace) is refused at once, `rejected` with "queue full", rather than wait for hours;
a run's start, end and error are always taken. Deliveries are kept in the outbox (outbox.py) until
final, so a killed server finishes them at its next start, and a server on the same state folder takes
over those of a peer that died (checked at every heartbeat).

The engine runs on a clock it is given: lane worker threads in the server (`start()`), or `pump()`
called by a test that advances a fake clock, so a minute of rate limiting takes no time to test.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .. import result as R
from .. import retry
from ..api import prepare_message
from ..config import (
    ConfigError,
    channel_env,
    decimal_setting,
    is_configured,
    is_true,
    request_timeout,
    setting,
    strip_space,
)
from ..deliver import Outcome, send_plan
from ..edits import lane_key, post_or_edit, read_ref
from ..overflow import overflow_mode
from ..planner import ChannelPlan, plan_channel
from ..selection import find_target, target_env
from ..specs import ChannelSpec, load_channels, load_settings
from ..wire import seconds_text
from .delivery import TERMINAL, Delivery, stored_params
from .envview import EnvView
from .history import Message, new_message_id
from .observers import DeliveryObserver, tell
from .outbox import Outbox
from .ratelimit import RateLimiter

log = logging.getLogger("mcp_push")

EDIT_VAR = "MCP_PUSH_EDIT_PROGRESS"
QUEUE_MAX_VAR = "MCP_PUSH_LANE_QUEUE_MAX"
HEARTBEAT_VAR = "MCP_PUSH_HEARTBEAT_SECONDS"
KINDS = ("message", "start", "update", "end", "error")

# Edit refs remembered per lane (runs that never end must not grow memory without bound).
MAX_REFS = 1000
# A lane worker wakes at least this often (a changed clock). The heartbeat has its own interval.
IDLE_WAKE_SECONDS = 30.0
# How long accepting a message to one lane waits, at most, for the lane's idle thread to look at its queue.
# The lane then plans and starts the request while the caller (the server's event loop) waits without the
# GIL, instead of waiting for the GIL until the loop has built and written its answer. Bounded: a thread
# the OS is slow to schedule costs the caller this at most.
HANDOFF_SECONDS = 0.001
# Lane keys remembered (_lane_key): channels times the credentials they had while the server runs.
LANE_KEYS_MAX = 256


def queue_max(source: Mapping[str, Any]) -> int:
    """MCP_PUSH_LANE_QUEUE_MAX (spec/settings.yaml: an integer of at least 1), or a ConfigError naming it."""
    return int(strip_space(setting(QUEUE_MAX_VAR, source)))


def queue_full(limit: int) -> str:
    return f"queue full: {limit} messages already wait for this channel ({QUEUE_MAX_VAR})"


def heartbeat_seconds(source: Mapping[str, Any]) -> float:
    """MCP_PUSH_HEARTBEAT_SECONDS (spec/settings.yaml: seconds above 0), or a ConfigError naming it."""
    return decimal_setting(setting(HEARTBEAT_VAR, source))


class _SendSettings:
    """The key of _send_settings' answer in an env snapshot (EnvSnapshot.derive)."""


def _send_settings(source: Mapping[str, Any]) -> tuple[float, str, int | None]:
    """What every delivery reads of the env: (MCP_PUSH_TIMEOUT, MCP_PUSH_OVERFLOW, MCP_PUSH_RETRY_ATTEMPTS),
    or the ConfigError of the first that cannot work (raised again each time). Once per env snapshot."""
    return (request_timeout(setting("MCP_PUSH_TIMEOUT", source)), overflow_mode(setting("MCP_PUSH_OVERFLOW", source)),
            retry.attempts_override(source))


class _RetryWatch:
    """A retry pace (the lane's counting one, else whatever retry.PACE is at the time), telling the
    delivery why it is retrying."""

    def __init__(self, delivery: Delivery, base: retry.Pace | None = None,
                 engine: Engine | None = None):
        self._delivery, self._base, self._engine = delivery, base, engine

    def __getattr__(self, name: str) -> Any:
        return getattr(self._base or retry.PACE, name)

    def retrying(self, error: str) -> None:
        self._delivery.retry_error = error

    def resumed(self) -> tuple[int, float]:
        """(tries made, seconds since the first) of a send whose job was rescheduled (PostgreSQL) and goes on now:
        its tries, backoff and deadline carry on, as on this engine's lanes, which sleep the wait through;
        (0, 0.0) for a new send."""
        delivery = self._delivery
        if not delivery.tries or delivery.first_try is None or self._engine is None:
            return delivery.tries, 0.0
        return delivery.tries, max(self._engine.clock() - delivery.first_try, 0.0)

    def sleep(self, seconds: float) -> None:
        # The observers learn the error and when the next try is due (send_plan sleeps only before one).
        if self._engine is not None:
            tell(self._engine.observers, "retrying", self._delivery, self._delivery.retry_error or "",
                 self._engine.clock() + seconds)
        (self._base or retry.PACE).sleep(seconds)


class Lane:
    """The deliveries waiting for one credential, and its rate limit. Guarded by the engine's lock."""

    def __init__(self, key: str, spec: ChannelSpec, limiter: RateLimiter | None):
        self.key, self.spec, self.limiter = key, spec, limiter
        self.queue: list[Delivery] = []
        self.busy = False
        self.refs: OrderedDict[str, Any] = OrderedDict()
        self.thread: threading.Thread | None = None
        self.idle = False  # its thread waits for work (`wake`)
        # What its thread waits on: a condition of the engine's lock of its own, so that a message to this
        # lane, or the end of another lane's send, wakes no other lane's thread (Engine._lane sets it).
        self.wake: threading.Condition | None = None
        self.looked: threading.Event | None = None  # set when its thread has next looked at the queue

    def supersedes(self, delivery: Delivery) -> list[Delivery]:
        """The waiting deliveries that adding this one would replace (add returns the same)."""
        run = delivery.run_id
        if run is None or not (delivery.is_update or delivery.kind in TERMINAL):
            return []
        replaced = [d for d in self.queue if d.is_update and d.run_id == run]
        return replaced[:1] if delivery.is_update else replaced

    def add(self, delivery: Delivery) -> list[Delivery]:
        """Queues a delivery; returns the waiting ones it supersedes."""
        run = delivery.run_id
        if run is not None and delivery.is_update:
            for index, waiting in enumerate(self.queue):
                if waiting.is_update and waiting.run_id == run:
                    later = self.queue[index + 1:]
                    if any(d.run_id == run for d in later):
                        # A newer event of the run (a new start) waits after it: the update goes last.
                        self.queue.pop(index)
                        self.queue.append(delivery)
                    else:
                        # The newest progress takes the old one's place in line.
                        self.queue[index] = delivery
                    return [waiting]
        superseded = []
        if run is not None and delivery.kind in TERMINAL:
            superseded = [d for d in self.queue if d.is_update and d.run_id == run]
            self.queue = [d for d in self.queue if d not in superseded]
        self.queue.append(delivery)
        return superseded

    def refuses(self, delivery: Delivery, limit: int) -> bool:
        """True when the lane is full for this new delivery: `limit` wait already and it is a plain
        message, or an update with no waiting update of its run to take the place of. A run's start,
        end and error are never refused (an agent must learn how its run ended)."""
        if delivery.kind in ("start", *TERMINAL) or len(self.queue) < limit:
            return False
        if delivery.is_update and delivery.run_id is not None:
            return not any(d.is_update and d.run_id == delivery.run_id for d in self.queue)
        return True

    def _eligible(self) -> Iterable[Delivery]:
        """Waiting deliveries no older one of the same run is ahead of, in line order."""
        ahead: set[str] = set()
        for delivery in self.queue:
            if delivery.run_id is None or delivery.run_id not in ahead:
                yield delivery
            if delivery.run_id is not None:
                ahead.add(delivery.run_id)

    def next_ready(self, now: float) -> tuple[Delivery | None, float | None]:
        """(a delivery that may go now, None) or (None, seconds until one may)."""
        if self.busy or not self.queue:
            return None, None
        soonest: float | None = None
        for delivery in self._eligible():
            wait = self.limiter.wait(now, delivery.cost, delivery.is_terminal) if self.limiter else 0.0
            if wait <= 0:
                return delivery, None
            soonest = wait if soonest is None else min(soonest, wait)
        return None, soonest


class Ticket:
    """What one accepted message became: a delivery per channel, or a result settled at once."""

    def __init__(self, entries: list[Delivery | R.ChannelResult], skipped: str | None = None,
                 message_id: str | None = None):
        self.entries, self.skipped, self.message_id = entries, skipped, message_id

    def wait(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        for entry in self.entries:
            if isinstance(entry, Delivery):
                left = None if deadline is None else max(deadline - time.monotonic(), 0)
                if not entry.done.wait(left):
                    return False
        return True

    def result(self) -> R.SendResult:
        """Results so far: a delivery still waiting or on the wire is `queued`, or `retrying` (with the
        last try's error) when every try so far failed and another one is due."""
        channels = []
        for entry in self.entries:
            if isinstance(entry, R.ChannelResult):
                channels.append(entry)
            elif entry.result is not None:
                channels.append(entry.result)
            elif entry.retry_error is not None:
                channels.append(R.ChannelResult(entry.channel, False, R.RETRYING, entry.retry_error))
            else:
                channels.append(R.ChannelResult(entry.channel, False, R.QUEUED))
        return R.SendResult(channels, skipped=self.skipped, message_id=self.message_id)


class Engine:
    def __init__(self, source: Mapping[str, Any], outbox: Outbox | None = None,
                 clock: Callable[[], float] = time.time):
        self.source = source
        self._env = EnvView(source)  # what a message reads of the env, once per env (envview.py)
        self.outbox = outbox or Outbox(None, clock)
        self.clock = clock
        self.lanes: dict[str, Lane] = {}
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)  # drain()'s waits; each lane's thread waits on its own
        self._threaded = False
        self._closed = False
        self._stopped = threading.Event()  # set by close(): the heartbeat's wake-up
        self._beat = float(load_settings()["env"][HEARTBEAT_VAR].default)
        self._adopting = False  # started with resume: peers' orphaned rows are taken over at each heartbeat
        # The retry pace under the lane's counting one; None: retry.PACE. The PostgreSQL backend's reschedules
        # a long wait as a job instead of sleeping through it (service/pg/worker.py).
        self.pace: retry.Pace | None = None
        self.handoff_seconds = HANDOFF_SECONDS
        self._lane_keys: dict[tuple[str, tuple[str, ...]], str] = {}  # _lane_key's memo
        # Told of every accepted message and every delivery's progress (observers.py: history, metrics).
        self.observers: list[DeliveryObserver] = []

    # --- accepting ------------------------------------------------------------------------------------

    def submit(self, title: str, content: str, kind: str = "message", run_id: str | None = None,
               channels: Iterable[str] | None = None, params: Mapping[str, Any] | None = None,
               priorities: Mapping[str, str] | None = None, format: str = "text",  # noqa: A002 (the tools' argument)
               note: Mapping[str, Any] | None = None) -> Ticket:
        """Accepts a message for every configured channel (or the named ones); returns at once.
        `priorities` ({channel: low | normal | high}, service/routing_service.py) as routing decided.
        `format` markdown converts the content to each channel's dialect when it is planned. `note`
        (an event's step, progress, message, retry_of) is for the observers (the history) only."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}")
        source = self._env.current()
        ticket = self._submit(title, content, kind, run_id, channels, params, source, priorities, format)
        if self.observers:
            extra = dict(note or {})
            progress = extra.get("progress")
            message = Message(ticket.message_id or "", kind, run_id, title, content, extra.get("origin", "server"),
                              extra.get("step"), progress if isinstance(progress, int | float) else None,
                              extra.get("message"), extra.get("retry_of"), self.clock())
            tell(self.observers, "accepted", message, ticket.entries, source)
        return ticket

    def _submit(self, title: str, content: str, kind: str, run_id: str | None, channels: Iterable[str] | None,
                params: Mapping[str, Any] | None, source: Mapping[str, Any],
                priorities: Mapping[str, str] | None = None, format: str = "text") -> Ticket:  # noqa: A002
        message_id = new_message_id()
        prepared = prepare_message(title, content, source, channels)
        if prepared.result is not None:
            return Ticket(list(prepared.result.channels), prepared.result.skipped, message_id)
        entries: list[Delivery | R.ChannelResult] = []
        try:
            limit = queue_max(source)
        except ConfigError as exc:
            return Ticket([R.ChannelResult(spec.name, False, R.CONFIG_ERROR, str(exc)) for spec, _ in prepared.targets],
                          message_id=message_id)
        for spec, env in prepared.targets:
            key = self._lane_key(spec, env)
            delivery = Delivery(0, key, spec.name, kind, run_id, prepared.title, prepared.content,
                                dict(params or {}), priority=(priorities or {}).get(spec.name), format=format,
                                message_id=message_id)
            if spec.limits.get("rate"):
                # Planned now: a rate-limited lane must know what the message costs (requests: parts,
                # targets) before it may go. Another lane plans it when it goes (an update superseded
                # while it waits is never planned).
                delivery.plan = self._plan(spec, env, delivery, prepared.overflow)
            if self._enqueue(spec, delivery, limit):
                entries.append(delivery)
            else:
                entries.append(R.ChannelResult(spec.name, False, R.REJECTED, queue_full(limit)))
        self._hand_off(entries)
        return Ticket(entries, message_id=message_id)

    def _hand_off(self, entries: Iterable[Delivery | R.ChannelResult]) -> None:
        """For a message to one lane: waits (HANDOFF_SECONDS at most, without the GIL) until the lane's idle
        thread has looked at its queue, so it starts on the delivery before the caller goes on. Not for a
        fan-out: every lane woken would take the GIL in turn before the caller got it back, so the caller's
        answer would wait behind each lane's planning (measured: fewer calls/s with two lanes)."""
        if not self._threaded:
            return
        deliveries = [entry for entry in entries if isinstance(entry, Delivery)]
        if len(deliveries) != 1:
            return
        with self._cond:
            lane = self.lanes.get(deliveries[0].lane)
            if lane is None or not lane.idle:
                return
            looked = lane.looked = lane.looked or threading.Event()
        looked.wait(self.handoff_seconds)

    def _lane_key(self, spec: ChannelSpec, env: Mapping[str, str]) -> str:
        """lane_key(), remembered per channel and credential: an HMAC per message is most of what finding
        its lane costs. Bounded (rotated credentials must not grow it without end)."""
        memo_key = (getattr(spec, "channel_id", spec.name), tuple(env.get(name, "") for name in spec.secret_env))
        key = self._lane_keys.get(memo_key)
        if key is None:
            if len(self._lane_keys) >= LANE_KEYS_MAX:
                self._lane_keys.clear()
            key = self._lane_keys[memo_key] = lane_key(spec, env, self.outbox.lane_salt)
        return key

    def _plan(self, spec: ChannelSpec, env: Mapping[str, str], delivery: Delivery, overflow: str,
              edit_ref: Any = None) -> ChannelPlan:
        return plan_channel(spec, dict(env), delivery.title, delivery.content, delivery.params, self.clock(),
                            overflow, edit_ref, priority=delivery.priority, markup=delivery.format)

    def _lane(self, spec: ChannelSpec, key: str) -> Lane:
        lane = self.lanes.get(key)
        if lane is None:
            limiter = RateLimiter.for_limits(spec.limits.get("rate"))
            if limiter is not None:
                limiter.seed(self.outbox.recent_sends(key, self.clock() - limiter.window))
            lane = self.lanes[key] = Lane(key, spec, limiter)
            lane.wake = threading.Condition(self._lock)
        return lane

    def _enqueue(self, spec: ChannelSpec, delivery: Delivery, limit: int | None = None) -> bool:
        """Queues a delivery in its lane. A new one (`limit` given) is first checked against the lane's
        cap and stored in the outbox, under the lock so concurrent calls cannot pass the cap together;
        returns False, storing nothing, when the lane refuses it. An adopted one is never refused."""
        stored = False
        with self._cond:
            lane = self._lane(spec, delivery.lane)
            if limit is not None:
                if lane.refuses(delivery, limit):
                    return False
                # One commit stores it and forgets the rows it supersedes.
                delivery.row = self.outbox.add(delivery.lane, delivery.channel, delivery.kind, delivery.run_id,
                                               delivery.title, delivery.content,
                                               stored_params(delivery.params, delivery.format),
                                               finished=[old.row for old in lane.supersedes(delivery)],
                                               priority=delivery.priority)
                stored = True
            superseded = lane.add(delivery)
            if self._threaded and lane.thread is None:
                lane.thread = threading.Thread(target=self._work, args=(lane,), daemon=True,
                                               name=f"mcp-push-lane-{spec.name}")
                lane.thread.start()
            lane.wake.notify()  # its one thread
        for old in superseded:
            replaced = R.ChannelResult(old.channel, False, R.SUPERSEDED, "a newer event of the run replaced it")
            tell(self.observers, "settled", old, replaced)  # before its waiters learn it: they may ask them
            old.settle(replaced)
        if superseded and not stored:
            self.outbox.finish(old.row for old in superseded)
        return True

    def resume(self) -> int:
        """Takes over what killed or ended processes left in the outbox; returns how many deliveries."""
        return len(self.adopt())

    def adopt(self, note: str = "outbox: resuming %d unfinished deliveries") -> list[Delivery]:
        """Queues what killed or ended processes left in the outbox, oldest first; returns those deliveries."""
        specs = load_channels()
        rows = self.outbox.adopt()
        adopted = []
        for delivery in rows:
            spec = specs.get(delivery.channel)
            env = channel_env(spec, self.source) if spec else {}
            if spec is None and (instance := find_target(self.source, delivery.channel)) is not None:
                spec, env = instance  # a config file's instance (configfile.py)
            if spec is None or not is_configured(spec, env):
                log.warning("outbox: %s is no longer configured; dropping a %s from %s", delivery.channel,
                            delivery.kind, time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(delivery.created)))
                self.outbox.finish([delivery.row])
                continue
            # The lane follows today's credential: a rotated token still gets the message.
            delivery.lane = lane_key(spec, env, self.outbox.lane_salt)
            try:
                overflow = overflow_mode(setting("MCP_PUSH_OVERFLOW", self.source))
                delivery.plan = self._plan(spec, env, delivery, overflow)
            except ConfigError:
                pass  # reported when it is sent
            self._enqueue(spec, delivery)
            adopted.append(delivery)
        if rows:
            log.info(note, len(rows))
        return adopted

    def adopt_orphans(self) -> int:
        """At a heartbeat: takes over what a server on this state folder that died since left unfinished."""
        return len(self.adopt("outbox: taking over %d unfinished deliveries of a server on this state folder "
                              "that is gone"))

    # --- sending --------------------------------------------------------------------------------------

    def _take(self, lane: Lane, now: float) -> tuple[Delivery | None, float | None]:
        if lane.limiter is not None and lane.queue and not lane.busy and self.outbox.durable:
            # Other servers on this state folder send with the same credential: the outbox's record of
            # every request, theirs included, is the window.
            lane.limiter.seed(self.outbox.recent_sends(lane.key, now - lane.limiter.window))
        delivery, wait = lane.next_ready(now)
        if delivery is not None:
            lane.queue.remove(delivery)
            lane.busy = True
        elif wait is not None and self.observers:
            # Held by the rate limit: each waiting delivery is told once when it may go, at the soonest.
            for held in lane.queue:
                if held.next_at is None:
                    held.next_at = now + wait
                    tell(self.observers, "waiting", held, held.next_at)
        return delivery, wait

    def _send(self, lane: Lane, delivery: Delivery) -> None:
        """Outside the lock: send the delivery (editing the run's message where it can) and settle it."""
        result = R.ChannelResult(delivery.channel, False, R.INTERNAL_ERROR, "not sent")
        try:
            result = self._deliver(lane, delivery)
            self.outbox.finish([delivery.row])
        except Exception as exc:  # a bug or a database error must not kill the lane
            log.exception("engine: %s failed", delivery.channel)
            if result.status == R.INTERNAL_ERROR:
                result = R.ChannelResult(delivery.channel, False, R.INTERNAL_ERROR, type(exc).__name__)
        finally:
            # Settled before the lane is free: whoever waits on drain() then reads final results.
            # The observers first (history, metrics): whoever waits for it may read them next.
            tell(self.observers, "settled", delivery, result)
            delivery.settle(result)
            with self._cond:
                lane.busy = False
                self._cond.notify_all()

    def deliver(self, lane: Lane, delivery: Delivery) -> R.ChannelResult:
        """The one delivery pipeline (plan, send, retry, edit the run's message), for a scheduler other than
        this engine's lane threads: procrastinate's workers (service/pg/worker.py)."""
        return self._deliver(lane, delivery)

    def _deliver(self, lane: Lane, delivery: Delivery) -> R.ChannelResult:
        spec = lane.spec
        if delivery.channel != spec.name:  # two instances with one credential share the lane
            spec = (find_target(self._env.current(), delivery.channel) or (spec, None))[0]
        source = self._env.current()
        try:
            timeout, overflow, attempts = source.derive(_SendSettings, lambda: _send_settings(source))
        except ConfigError as exc:
            return R.ChannelResult(spec.name, False, R.CONFIG_ERROR, str(exc))
        post = delivery.plan or self._plan(spec, target_env(spec, source), delivery, overflow)
        editing = spec.edit is not None and is_true(setting(EDIT_VAR, source)) and delivery.run_id
        # Updates edit the run's card, and so do its end and error: the final state replaces the progress.
        edits_card = editing and (delivery.is_update or delivery.kind in TERMINAL)
        ref = self._ref(lane, delivery.run_id) if edits_card else None

        def attempt(edit_ref: Any) -> Outcome:
            plan = post if edit_ref is None else self._plan(spec, post.env, delivery, overflow, edit_ref)
            cost = max(len(plan.requests), 1)
            if lane.limiter is not None:
                with self._cond:
                    lane.limiter.record(self.clock(), cost)
                self.outbox.record_sends(lane.key, self.clock(), cost, lane.limiter.window)
            return send_plan(plan, timeout, _RetryWatch(delivery, self._counting_pace(lane), self), attempts=attempts)

        # The one edit rule (edits.post_or_edit), as send_event follows it: a refused edit is posted anew.
        [outcome] = post_or_edit(lambda refs, _only: [attempt(refs.get(spec.name))],
                                 {} if ref is None else {spec.name: ref})
        delivery.edited = bool(outcome.plan.edits)
        if editing and outcome.result.ok:
            if delivery.kind in TERMINAL:
                self._set_ref(lane, delivery.run_id, None)
            elif not outcome.plan.edits and outcome.replies:
                # A post (the run's first, or one after a refused edit) becomes the run's message.
                self._set_ref(lane, delivery.run_id, read_ref(spec, outcome.replies[0]))
        return outcome.result

    def _counting_pace(self, lane: Lane) -> retry.Pace | None:
        """The retry pace, counting each retry of a rate-limited lane as a request in its window: the
        vendor counts it too (send_plan sleeps only before a retry)."""
        limiter, base = lane.limiter, self.pace or retry.PACE
        if limiter is None:
            return self.pace

        def sleep(seconds: float) -> None:
            base.sleep(seconds)
            with self._cond:
                limiter.record(self.clock(), 1)
            self.outbox.record_sends(lane.key, self.clock(), 1, limiter.window)

        return retry.Pace(sleep, base.monotonic, base.random, base.wall, base.at_once)

    def _ref(self, lane: Lane, run_id: str) -> Any:
        if run_id in lane.refs:
            return lane.refs[run_id]
        stored = self.outbox.get_ref(lane.key, run_id)
        return json.loads(stored) if stored is not None else None

    def _set_ref(self, lane: Lane, run_id: str, ref: Any) -> None:
        if ref is None:
            lane.refs.pop(run_id, None)
            self.outbox.set_ref(lane.key, run_id, None)
            return
        lane.refs[run_id] = ref
        lane.refs.move_to_end(run_id)
        while len(lane.refs) > MAX_REFS:
            old, _ = lane.refs.popitem(last=False)
            self.outbox.set_ref(lane.key, old, None)
        self.outbox.set_ref(lane.key, run_id, json.dumps(ref))

    # --- driving: a test's fake clock, or worker threads ------------------------------------------------

    def pump(self) -> float | None:
        """Sends everything that may go at the clock's current time, one lane after another, in this
        thread; returns the seconds until something more may go (None: nothing is waiting)."""
        while True:
            soonest: float | None = None
            sent = False
            for lane in list(self.lanes.values()):
                with self._cond:
                    delivery, wait = self._take(lane, self.clock())
                if delivery is not None:
                    self._send(lane, delivery)
                    sent = True
                elif wait is not None:
                    soonest = wait if soonest is None else min(soonest, wait)
            if not sent:
                return soonest

    @property
    def running(self) -> bool:
        """True once start() has put worker threads on the lanes."""
        return self._threaded

    def start(self, resume: bool = True) -> Engine:
        """Worker threads from now on (one per lane, started with its first delivery); resumes the outbox
        and, with `resume`, takes over a dead peer's rows at every heartbeat."""
        try:
            beat = heartbeat_seconds(self.source)
        except ConfigError as exc:
            log.warning("%s; using %s", exc, seconds_text(self._beat))
            beat = self._beat
        with self._cond:
            self._adopting = self._adopting or resume
            if not self._threaded:
                self._beat = beat
                self.outbox.heartbeat(beat)
                threading.Thread(target=self._heartbeat, daemon=True, name="mcp-push-heartbeat").start()
            self._threaded = True
            for lane in self.lanes.values():
                if lane.thread is None and lane.queue:
                    lane.thread = threading.Thread(target=self._work, args=(lane,), daemon=True,
                                                   name=f"mcp-push-lane-{lane.spec.name}")
                    lane.thread.start()
        if resume:
            self.resume()
        return self

    def _heartbeat(self) -> None:
        """Tells peers on the state folder this server is alive, and takes over the rows of one that is
        not: a SIGKILLed peer's deliveries go out within a heartbeat or two, not at the next start."""
        deadline = time.monotonic() + self._beat
        while True:
            # An event of its own, not the engine's condition: every accepted message and every send
            # notifies that one, and waking this thread for each of them costs the server's calls.
            while not self._stopped.is_set() and (left := deadline - time.monotonic()) > 0:
                self._stopped.wait(left)
            with self._cond:
                if self._closed:
                    return
                adopting = self._adopting
            deadline = time.monotonic() + self._beat
            try:
                self.outbox.heartbeat(self._beat)
                if adopting:
                    self.adopt_orphans()
            except Exception:  # a locked database now and then: the next beat will do
                log.debug("outbox heartbeat failed", exc_info=True)

    def _work(self, lane: Lane) -> None:
        while True:
            try:
                with self._cond:
                    if self._closed:
                        return
                    delivery, wait = self._take(lane, self.clock())
                    if lane.looked is not None:  # a submit waits for this look (_hand_off)
                        lane.looked.set()
                        lane.looked = None
                    if delivery is None:
                        lane.idle = True
                        try:
                            lane.wake.wait(min(wait, IDLE_WAKE_SECONDS) if wait is not None else IDLE_WAKE_SECONDS)
                        finally:
                            lane.idle = False
                        continue
            except Exception:  # the outbox could not be read (locked): try again shortly, never stop the lane
                log.warning("engine: %s lane: reading the outbox failed; retrying", lane.spec.name, exc_info=True)
                time.sleep(1.0)
                continue
            self._send(lane, delivery)

    def drain(self, timeout: float) -> bool:
        """Waits (threaded) until nothing is waiting or on the wire, or the timeout passes."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not all(not lane.queue and not lane.busy for lane in self.lanes.values()):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 1.0))
        return True

    def close(self) -> None:
        """Stops the workers; what is still waiting stays in the outbox for the next start."""
        with self._cond:
            self._closed = True
            self._stopped.set()
            self._cond.notify_all()
            for lane in self.lanes.values():
                if lane.wake is not None:
                    lane.wake.notify_all()
        self.outbox.close()
