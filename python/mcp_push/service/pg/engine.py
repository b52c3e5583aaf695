"""PgEngine: the delivery engine over PostgreSQL. It accepts as the embedded engine does (engine.Engine's
submit: the same checks, lane keys, refusals), but a delivery is a row plus a procrastinate job committed
together (state.PgState.accept, jobs.defer), and procrastinate's workers send it through the same
pipeline (engine.Engine.deliver) on a Lane made for that one job. Only scheduling differs.

A caller waiting for results (wait=true, Ticket.wait) is told when its rows become final, whichever worker
sent them: a watcher thread reads their results every WATCH_SECONDS while any are outstanding.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from procrastinate import SyncPsycopgConnector

from ... import result as R
from ... import retry
from ...config import ConfigError, channel_env, is_configured, setting, strip_space
from ...overflow import overflow_mode
from ...planner import plan_channel
from ...selection import find_target
from ...specs import ChannelSpec, load_channels
from ..delivery import Delivery
from ..engine import Engine, Lane
from ..observers import tell
from ..ratelimit import RateLimiter
from . import jobs
from .state import PgState

log = logging.getLogger("mcp_push")

WORKERS_VAR = "MCP_PUSH_WORKERS"
WATCH_SECONDS = 0.2
# A retry wait at least this long is a reschedule of the job (the lane's worker is free meanwhile); a
# shorter one, or any after MAX_RESCHEDULES runs of the job, is slept through as the embedded engine does.
RESCHEDULE_MIN_SECONDS = 2.0
MAX_RESCHEDULES = 20


def workers(source: Mapping[str, Any]) -> int:
    """MCP_PUSH_WORKERS (spec/settings.yaml: an integer of at least 0), or a ConfigError naming it."""
    return int(strip_space(setting(WORKERS_VAR, source)))


class _JobPace:
    """The retry pace of the job running on this thread: a long wait of a one-request message reschedules
    the job (it cannot have been delivered: send_plan retries only then), any other is slept."""

    def __init__(self) -> None:
        self._local = threading.local()

    def arm(self, reschedule: bool) -> None:
        self._local.reschedule = reschedule
        self._local.failed = 0

    def failed_tries(self) -> int:
        """The failed tries of this run of the job: send_plan sleeps after each one it retries."""
        return getattr(self._local, "failed", 0)

    def __getattr__(self, name: str) -> Any:
        return getattr(retry.PACE, name)

    def sleep(self, seconds: float) -> None:
        self._local.failed = self.failed_tries() + 1
        if getattr(self._local, "reschedule", False) and seconds >= RESCHEDULE_MIN_SECONDS:
            raise jobs.Reschedule(seconds, tried=True)
        retry.PACE.sleep(seconds)


class PgEngine(Engine):
    def __init__(self, source: Mapping[str, Any], url: str, clock: Callable[[], float] = time.time):
        self.state = PgState(url, clock)
        super().__init__(source, self.state, clock)  # type: ignore[arg-type]  # PgState is a backend.Backend
        self.url = url
        self.pace = _JobPace()  # type: ignore[assignment]
        self.deferring = jobs.build_app(SyncPsycopgConnector(conninfo=url))
        self._watch: dict[int, Delivery] = {}
        self._watch_lock = threading.Lock()
        self._watch_wake = threading.Event()
        self._worker: Any = None

    # --- accepting: Engine.submit, with the row and its job committed together ------------------------------

    def _enqueue(self, spec: ChannelSpec, delivery: Delivery, limit: int | None = None) -> bool:
        if not self.state.accept(delivery, limit, lambda conn, d: jobs.defer(self.deferring, conn, d)):
            return False
        with self._watch_lock:
            self._watch[delivery.row] = delivery
        self._watch_wake.set()
        return True

    def adopt(self, note: str = "") -> list[Delivery]:
        return []  # nothing to adopt: the rows and their jobs are in PostgreSQL, for any worker

    def queue_depths(self) -> list[tuple[str, str, int]]:
        return self.state.queue_depths()  # every replica's lanes (the database's), for /metrics

    # --- a job: the one pipeline on a lane made for it -------------------------------------------------------

    def run_job(self, attempts: int, row: int | None = None, lane: str | None = None, run_id: str | None = None,
                gen: int = 0) -> None:
        """What a worker does with a job; Reschedule when the lane's quota (or the vendor) says later."""
        state = self.state
        delivery = state.take_row(row) if row is not None else state.take_update(lane or "", run_id or "", gen)
        if delivery is None:
            return  # superseded, or sent already
        try:
            result = self._run(delivery, attempts, row is None)
        except jobs.Requeue as requeue:
            state.park(delivery.row, self.clock() + requeue.seconds)  # unpark() defers it again when due
            return
        except (jobs.Reschedule, jobs.BackendUnavailable):
            raise
        except Exception as exc:  # a bug must not leave the row waiting forever
            log.exception("worker: %s failed", delivery.channel)
            result = R.ChannelResult(delivery.channel, False, R.INTERNAL_ERROR, type(exc).__name__)
        state.settle(delivery.row, result.to_dict())
        if state.history is not None:  # the accepting replica's watcher tells the other observers (settle_final)
            tell([state.history], "settled", delivery, result)

    def _run(self, delivery: Delivery, attempts: int, requeue: bool) -> R.ChannelResult:
        source = self._env.current()
        spec = load_channels().get(delivery.channel)
        env = channel_env(spec, source) if spec else {}
        if spec is None and (instance := find_target(source, delivery.channel)) is not None:
            spec, env = instance  # a config file's instance (configfile.py), with its own settings
        if spec is None or not is_configured(spec, env):
            return R.ChannelResult(delivery.channel, False, R.CONFIG_ERROR,
                                   f"{delivery.channel} is no longer configured")
        limiter = RateLimiter.for_limits(spec.limits.get("rate"))
        lane = Lane(delivery.lane, spec, limiter)
        try:
            overflow = overflow_mode(setting("MCP_PUSH_OVERFLOW", source))
            delivery.plan = plan_channel(spec, dict(env), delivery.title, delivery.content, delivery.params,
                                         self.clock(), overflow, None, priority=delivery.priority,
                                         markup=delivery.format)
        except ConfigError:
            delivery.plan = None  # reported by the pipeline
        if limiter is not None:
            # The lock holder is the only sender on this lane: the shared window is exact, no race.
            now = self.clock()
            limiter.seed(self.state.recent_sends(delivery.lane, now - limiter.window))
            wait = limiter.wait(now, delivery.cost, delivery.is_terminal)
            if wait > 0:
                tell(self.observers, "waiting", delivery, now + wait)
                if requeue:  # the job of a run's updates makes way for what waits behind it
                    raise jobs.Requeue(wait)
                raise jobs.Reschedule(wait)
        self.state.sending(delivery.row)
        self.pace.arm(attempts < MAX_RESCHEDULES and delivery.plan is not None and len(delivery.plan.requests) == 1)
        started = self.clock()
        try:
            return self.deliver(lane, delivery)
        except jobs.Reschedule as later:
            if later.tried:  # the next run goes on with these tries, from this first one (_RetryWatch.resumed)
                self.state.add_tries(delivery.row, self.pace.failed_tries(), started)
            raise
        finally:
            self.pace.arm(False)

    def unpark(self) -> float | None:
        """Jobs again for the parked updates that are due; the seconds until the next one is (None: none)."""
        return self.state.unpark(lambda conn, lane, run_id, gen: jobs.defer_update(self.deferring, conn, lane,
                                                                                   run_id, gen))

    # --- callers that wait ------------------------------------------------------------------------------------

    def settle_final(self) -> None:
        """Settles the watched deliveries whose rows are final."""
        with self._watch_lock:
            rows = list(self._watch)
        if not rows:
            return
        for row_id, found in self.state.results(rows).items():
            with self._watch_lock:
                delivery = self._watch.pop(row_id, None)
            if delivery is not None:
                result = _channel_result(delivery.channel, found)
                # The observers but the history (the worker wrote it, whichever process that is): the metrics.
                tell([o for o in self.observers if o is not self.state.history], "settled", delivery, result)
                delivery.settle(result)

    def _watcher(self) -> None:
        while not self._closed:
            self._watch_wake.wait(WATCH_SECONDS)
            self._watch_wake.clear()
            try:
                self.settle_final()
            except Exception:  # PostgreSQL away for a moment: the next look will do
                log.debug("watching results failed", exc_info=True)
            with self._watch_lock:
                idle = not self._watch
            if idle:
                self._watch_wake.wait(1.0)
            else:
                time.sleep(WATCH_SECONDS)

    # --- driving ----------------------------------------------------------------------------------------------

    def pump(self) -> float | None:
        """Runs every job that may go now in this thread (a test's fake clock); returns the whole seconds
        until a rescheduled one may (None: no job is waiting)."""
        from .worker import run_once

        self.unpark()
        run_once(self)
        self.settle_final()
        parked = self.unpark()
        with self.state.connection() as conn:
            row = conn.execute("SELECT count(*), extract(epoch FROM min(scheduled_at) - now()) FROM procrastinate_jobs "
                               "WHERE status = 'todo' AND queue_name = %s", (jobs.QUEUE,)).fetchone()
        waits = [] if parked is None else [parked]
        if row[0]:
            waits.append(max(float(row[1] or 0.0), 0.0))
        if not waits:
            return None
        # Whole seconds, rounded up: the job is due by then although this pass itself took time.
        return float(math.ceil(min(waits)))

    def start(self, resume: bool = True) -> PgEngine:
        """The watcher and, unless MCP_PUSH_WORKERS is 0, a worker in this process."""
        from .worker import WorkerThread

        with self._cond:
            if self._threaded:
                return self
            self._threaded = True
        threading.Thread(target=self._watcher, daemon=True, name="mcp-push-pg-watch").start()
        try:
            count = workers(self.source)
        except ConfigError as exc:
            log.warning("%s; running 1", exc)
            count = 1
        if count > 0:
            self._worker = WorkerThread(self, count).start()
        return self

    def drain(self, timeout: float) -> bool:
        """Waits until what this process accepted is final (whichever worker sends it), or the timeout."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.settle_final()
            except Exception:
                log.debug("watching results failed", exc_info=True)
            with self._watch_lock:
                if not self._watch:
                    return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(WATCH_SECONDS)

    def close(self) -> None:
        """Stops this process's worker (a job on the wire finishes first); what waits stays in PostgreSQL."""
        with self._cond:
            self._closed = True
            self._stopped.set()
            self._cond.notify_all()
        self._watch_wake.set()
        if self._worker is not None:
            self._worker.stop()
        if self.state.history is not None:
            self.state.history.close()
        self.state.close()


def _channel_result(channel: str, found: Mapping[str, Any]) -> R.ChannelResult:
    known = {name: found[name] for name in ("ok", "status", "error", "attempts", "elapsed_ms", "http_status",
                                            "parts", "truncated") if name in found}
    known.setdefault("ok", False)
    return R.ChannelResult(channel, **known)
