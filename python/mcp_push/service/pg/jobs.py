"""The procrastinate side: one task, `mcp_push.deliver`, and how its jobs are named, locked and rescheduled.

A job carries no message: it names a delivery row (`row`), or for a run's updates the run (`lane`, `run_id`,
`gen`, the run's latest other event), and the row (the newest update) is read when the job runs.

- lock = the lane key: the jobs of one credential run one at a time, in the order they were deferred, on
  whichever worker takes them (procrastinate holds back a job while an earlier one of its lock is waiting
  or running). The worker running it is the only sender on the lane.
- queueing_lock = lane/run/gen for updates: while one update job of a run waits, a newer update only
  rewrites the row the job will read (latest wins); once it runs, the next update defers a new job.
- retries: a quota wait, or a vendor's Retry-After / backoff on a one-request message, raises Reschedule
  and the job goes again that much later, keeping its place in the lane (the same job id); a database
  that went away retries in RETRY_DB_SECONDS.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from procrastinate import App, BaseConnector, RetryDecision
from procrastinate.exceptions import AlreadyEnqueued
from procrastinate.retry import BaseRetryStrategy

from ..backend import BackendUnavailable
from ..delivery import Delivery

TASK = "mcp_push.deliver"
QUEUE = "mcp_push"
RETRY_DB_SECONDS = 5.0
MIN_RESCHEDULE_SECONDS = 1.0


class Reschedule(BaseException):  # noqa: N818 - a signal, not an error
    """Ends this run of a job: it goes again in `seconds`. A BaseException, so that nothing on the way
    (send_plan turns every Exception into a result) mistakes it for a failed send."""

    def __init__(self, seconds: float):
        super().__init__(seconds)
        self.seconds = seconds


class Rescheduling(BaseRetryStrategy):
    def get_retry_decision(self, *, exception: BaseException, job: Any) -> RetryDecision | None:
        if isinstance(exception, Reschedule):
            # Never sooner than MIN_RESCHEDULE_SECONDS: a wait of a few milliseconds would spin the lane.
            seconds = max(exception.seconds, MIN_RESCHEDULE_SECONDS)
            return RetryDecision(retry_in={"milliseconds": int(seconds * 1000)})
        if isinstance(exception, BackendUnavailable):
            return RetryDecision(retry_in={"milliseconds": int(RETRY_DB_SECONDS * 1000)})
        return None


Runner = Callable[..., None]


def build_app(connector: BaseConnector, run: Runner | None = None) -> App:
    """An App with the deliver task; `run(attempts, **job arguments)` does the work (a worker's), or None
    for an App that only defers."""
    app = App(connector=connector)

    @app.task(name=TASK, queue=QUEUE, pass_context=True, retry=Rescheduling())
    def deliver(context: Any, **arguments: Any) -> None:
        if run is None:
            raise RuntimeError("this app only defers jobs")
        run(context.job.attempts, **arguments)

    return app


def defer(app: App, conn: Any, delivery: Delivery) -> None:
    """Defers the job of a new delivery on `conn`, in the transaction that stores its row."""
    task = app.tasks[TASK]
    if delivery.is_update and delivery.run_id is not None:
        gen = getattr(delivery, "gen", 0)
        try:
            with conn.transaction():  # a savepoint: an enqueued twin must not abort the accept
                task.configure(lock=delivery.lane, queueing_lock=f"{delivery.lane}/{delivery.run_id}/{gen}",
                               connection=conn).defer(lane=delivery.lane, run_id=delivery.run_id, gen=gen)
        except AlreadyEnqueued:
            pass  # a job of this run's updates waits and will read this row, the newest
        return
    task.configure(lock=delivery.lane, connection=conn).defer(row=delivery.row)
