"""The procrastinate side: one task, `mcp_push.deliver`, and how its jobs are named, locked and rescheduled.

A job carries no message: it names a delivery row (`row`), or for a run's updates the run (`lane`, `run_id`,
`gen`, the run's latest other event), and the row (the newest update) is read when the job runs.

- lock = the lane key: the jobs of one credential run one at a time, in the order they were deferred, on
  whichever worker takes them (procrastinate holds back a job while an earlier one of its lock is waiting
  or running). The worker running it is the only sender on the lane.
- queueing_lock = lane/run/gen for updates: while one update job of a run waits, a newer update only
  rewrites the row the job will read (latest wins); once it runs, the next update defers a new job.
- an update that finds no room in the quota leaves the lane until the quota has room (Requeue), so that
  a run's end behind it uses the headroom the quota keeps for ends and errors.
- retries: a quota wait of anything else, or a vendor's Retry-After / backoff on a one-request message,
  raises Reschedule and the job goes again that much later, keeping its place in the lane (the same job id); a database
  that went away retries in RETRY_DB_SECONDS.
- a job put back (rescheduled, or a dead worker's job rescued) whose queueing lock a newer job of its run took
  meanwhile is finished instead, that newer one (the same arguments: it reads the run's newest row) waiting
  as long as it would have (_JobManager): procrastinate refuses the retry, and the job would keep its lane.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
from procrastinate import App, BaseConnector, RetryDecision
from procrastinate.exceptions import AlreadyEnqueued, ConnectorException, UniqueViolation
from procrastinate.jobs import Job, Status
from procrastinate.manager import JobManager
from procrastinate.retry import BaseRetryStrategy

from ..backend import BackendUnavailable
from ..delivery import Delivery
from .url import scrub

log = logging.getLogger("mcp_push")

TASK = "mcp_push.deliver"
QUEUE = "mcp_push"
RETRY_DB_SECONDS = 5.0
# A job's end or retry is stored again this many times (RETRY_DB_SECONDS apart) while PostgreSQL is away; by
# then the worker's heartbeat has failed too, the worker stops, and a rescue puts the job back.
PERSIST_TRIES = 12
MIN_RESCHEDULE_SECONDS = 1.0


class Reschedule(BaseException):  # noqa: N818 - a signal, not an error
    """Ends this run of a job: it goes again in `seconds`. A BaseException, so that nothing on the way
    (send_plan turns every Exception into a result) mistakes it for a failed send."""

    def __init__(self, seconds: float, tried: bool = False):
        super().__init__(seconds)
        self.seconds = seconds
        self.tried = tried  # a retry's wait (tries were made), not the quota's


class Rescheduling(BaseRetryStrategy):
    def get_retry_decision(self, *, exception: BaseException, job: Any) -> RetryDecision | None:
        if isinstance(exception, Reschedule):
            # Never sooner than MIN_RESCHEDULE_SECONDS: a wait of a few milliseconds would spin the lane.
            seconds = max(exception.seconds, MIN_RESCHEDULE_SECONDS)
            return RetryDecision(retry_in={"milliseconds": int(seconds * 1000)})
        if isinstance(exception, BackendUnavailable):
            return RetryDecision(retry_in={"milliseconds": int(RETRY_DB_SECONDS * 1000)})
        return None


# The newer job of a run that covers a refused retry waits at least as long as that retry would have.
_WAIT_AS_LONG = ("UPDATE procrastinate_jobs SET scheduled_at = greatest(coalesce(scheduled_at, now()), "
                 "%(retry_at)s) WHERE queueing_lock = %(queueing_lock)s AND status = 'todo'")


class _JobManager(JobManager):
    """procrastinate's, with a job's end or retry that never leaves it `doing` (holding its lane's lock under a
    live worker, which no rescue takes):

    - a run's update job (its queueing lock lane/run/gen) put back, by its worker (Reschedule) or by a rescue
      (its worker died), while a newer update of the run deferred a job under that lock (free while this one
      ran): procrastinate refuses the retry with a unique violation. That newer job has the same arguments
      and sends the run's newest row, so this one is finished, and the newer one goes no sooner than this
      retry would have (a vendor's Retry-After holds);
    - an end or retry that PostgreSQL did not take (a connection lost) is stored again (_persisting);
    - a heartbeat that fails (a connection lost or slow under load) is said and the next one is sent on time.
      procrastinate's heartbeat task ends at its first error, and nothing notices (its side-task monitor
      stops watching once the periodic deferrer, with no periodic task, has returned at start): the worker
      then ran on without heartbeats, so after STALLED_SECONDS the other workers took its running jobs as a
      dead worker's and ran them again, and pruned it, after which its next fetch failed and it stopped."""

    def __init__(self, connector: BaseConnector, url: str = ""):
        super().__init__(connector)
        self.url = url
        self._beat_failing = False  # said once per outage, not every beat

    async def update_heartbeat(self, worker_id: int) -> None:
        try:
            await super().update_heartbeat(worker_id)
        except Exception as exc:
            if not self._beat_failing:
                cause = str(exc.__cause__ or exc) or type(exc).__name__
                log.warning("worker: a heartbeat was not stored (%s); the next one follows on time",
                            scrub(cause, self.url) if self.url else " ".join(cause.split()))
            self._beat_failing = True
        else:
            if self._beat_failing:
                log.info("worker: heartbeats are stored again")
            self._beat_failing = False

    async def retry_job(self, job: Job, retry_at: datetime.datetime | None = None, priority: int | None = None,
                        queue: str | None = None, lock: str | None = None) -> None:
        retry = super().retry_job
        try:
            await self._persisting(job, lambda: retry(job, retry_at=retry_at, priority=priority, queue=queue,
                                                      lock=lock))
        except UniqueViolation:
            if job.queueing_lock is None:
                raise
            log.info("worker: job %s is covered by a newer job of its run; finished", job.id)
            await self._persisting(job, lambda: self.connector.execute_query_async(
                _WAIT_AS_LONG, retry_at=retry_at or datetime.datetime.now(datetime.timezone.utc),
                queueing_lock=job.queueing_lock))
            await self.finish_job(job, status=Status.SUCCEEDED, delete_job=True)

    async def finish_job(self, job: Job, status: Status, delete_job: bool) -> None:
        finish = super().finish_job
        await self._persisting(job, lambda: finish(job, status=status, delete_job=delete_job))

    async def _persisting(self, job: Job, store: Callable[[], Awaitable[None]]) -> None:
        """`store()`, again every RETRY_DB_SECONDS up to PERSIST_TRIES times while PostgreSQL cannot be reached.
        Any other error is raised at once (a unique violation, a job another worker's rescue took)."""
        tries = 0
        while True:
            tries += 1
            try:
                await store()
                return
            except ConnectorException as exc:
                if not isinstance(exc.__cause__, psycopg.OperationalError) or tries >= PERSIST_TRIES:
                    raise
                cause = str(exc.__cause__) or type(exc.__cause__).__name__
                log.warning("worker: the state of job %s was not stored (%s); trying again in %s s", job.id,
                            scrub(cause, self.url) if self.url else " ".join(cause.split()), RETRY_DB_SECONDS)
            await asyncio.sleep(RETRY_DB_SECONDS)


Runner = Callable[..., None]


def build_app(connector: BaseConnector, run: Runner | None = None, url: str = "") -> App:
    """An App with the deliver task; `run(attempts, **job arguments)` does the work (a worker's), or None
    for an App that only defers. `url`: the database's, masked in what the log says."""
    app = App(connector=connector)
    app.job_manager = _JobManager(connector, url)  # before the task: it keeps the manager it is given

    @app.task(name=TASK, queue=QUEUE, pass_context=True, retry=Rescheduling())
    def deliver(context: Any, **arguments: Any) -> None:
        if run is None:
            raise RuntimeError("this app only defers jobs")
        run(context.job.attempts, **arguments)

    return app


def defer(app: App, conn: Any, delivery: Delivery) -> None:
    """Defers the job of a new delivery on `conn`, in the transaction that stores its row."""
    if delivery.is_update and delivery.run_id is not None:
        defer_update(app, conn, delivery.lane, delivery.run_id, getattr(delivery, "gen", 0))
        return
    app.tasks[TASK].configure(lock=delivery.lane, connection=conn).defer(row=delivery.row)


def defer_update(app: App, conn: Any, lane: str, run_id: str, gen: int) -> None:
    """The job of a run's updates behind its event `gen`, unless one waits already (it reads the newest row)."""
    try:
        with conn.transaction():  # a savepoint: an enqueued twin must not abort the accept
            app.tasks[TASK].configure(lock=lane, queueing_lock=f"{lane}/{run_id}/{gen}",
                                      connection=conn).defer(lane=lane, run_id=run_id, gen=gen)
    except AlreadyEnqueued:
        pass  # a job of this run's updates waits and will read this row, the newest


class Requeue(Exception):  # noqa: N818 - a signal, not an error
    """A run's update finds no room in the quota: its job ends and the row is parked until `seconds` later
    (state.PgState.park; a job waiting in the lane, even one scheduled later, would hold back what is
    behind it), then deferred anew at the back of the lane, so that the starts, ends and errors behind it
    need not wait (an end uses the quota's headroom). It cannot overtake its own run: the run's next start,
    end or error supersedes it."""

    def __init__(self, seconds: float):
        super().__init__(seconds)
        self.seconds = seconds
