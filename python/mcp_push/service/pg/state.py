"""mcp-push's state in PostgreSQL (schema.py's tables): backend.Backend over a psycopg connection pool.

Every method is one short transaction; a database that cannot be reached raises backend.BackendUnavailable
with the URL masked, so a caller is told "try again" and nothing half-accepted is left behind.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import psycopg
import psycopg_pool

from .. import idempotency as idem
from ..backend import BackendUnavailable
from ..delivery import TERMINAL, Delivery, loaded_params, stored_params
from .schema import is_migrated
from .url import masked, scrub

# Final rows (their results) are kept this long for callers that wait on them, then pruned.
KEEP_FINAL_SECONDS = 24 * 3600.0
# A call waits this long for a connection to PostgreSQL, then is refused (503): nothing is accepted.
WAIT_SECONDS = 5.0



def _delivery(row: tuple) -> Delivery:
    """A delivery from a row of take_row's / take_update's columns."""
    row_id, lane, channel, kind, run_id, title, content, params, created, priority, tries, first_try = row
    stored, markup = loaded_params(json.loads(params))
    return Delivery(int(row_id), lane, channel, kind, run_id, title, content, stored, created, format=markup,
                    priority=priority, tries=int(tries), first_try=first_try)


class PgState:
    """backend.Backend on PostgreSQL; safe to use from any thread (the pool hands out connections)."""

    durable = True
    # backend.Backend's slots for issue 17's history and issue 18's asks store.
    history: Any = None
    asks: Any = None

    def __init__(self, url: str, clock: Callable[[], float] = time.time, max_size: int = 8):
        self.url, self.clock = url, clock
        self.shown = masked(url)
        # The pool retries a lost server every few seconds, a warning each time: BackendUnavailable says it
        # once per refused call instead, with the URL masked.
        logging.getLogger("psycopg.pool").setLevel(logging.ERROR)
        try:  # one try first: a database that is not there is said at once, not after the pool's wait
            psycopg.connect(url, connect_timeout=5).close()
        except psycopg.OperationalError as exc:
            raise self.unavailable(exc) from None
        self.pool = psycopg_pool.ConnectionPool(url, min_size=1, max_size=max_size, open=False,
                                                timeout=WAIT_SECONDS,
                                                check=psycopg_pool.ConnectionPool.check_connection,
                                                kwargs={"connect_timeout": 5})
        try:
            self.pool.open(wait=True, timeout=10)
        except psycopg_pool.PoolTimeout as exc:
            self.pool.close()
            raise self.unavailable(exc) from None
        with self.connection() as conn:
            if not is_migrated(conn):
                self.pool.close()
                raise BackendUnavailable(f"database: {self.shown} has no mcp-push tables yet: "
                                         "run `mcp-push db migrate`")
            row = conn.execute("SELECT value FROM mcp_push_meta WHERE name = 'lane_salt'").fetchone()
        self.lane_salt = bytes.fromhex(row[0])

    def unavailable(self, exc: BaseException) -> BackendUnavailable:
        return BackendUnavailable(f"database: PostgreSQL at {self.shown} is not available "
                                  f"({scrub(str(exc) or type(exc).__name__, self.url).strip()}); "
                                  "nothing was accepted, try again")

    @contextlib.contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        """A pooled connection, committed at the end of the block; BackendUnavailable when PostgreSQL is gone."""
        try:
            with self.pool.connection() as conn:
                yield conn
        except (psycopg.OperationalError, psycopg_pool.PoolTimeout) as exc:
            raise self.unavailable(exc) from None

    def close(self) -> None:
        self.pool.close()

    def routing_store(self) -> Any:
        """Routing's state and held messages, shared by every replica (pg/routing.py); routing_service asks."""
        from .routing import PgRoutingStore

        return PgRoutingStore(self)

    # --- accepting (the scheduler's jobs are deferred in the same transaction: jobs.py) ---------------------

    def accept(self, delivery: Delivery, limit: int | None, defer: Callable[[psycopg.Connection, Delivery], None],
               ) -> bool:
        """Stores a new delivery and its job in one transaction (accepted = committed); False, storing nothing,
        when its lane is full for it. A run's end or error makes its waiting updates final (superseded); an
        update makes the older waiting updates of its run final (the newest content wins); so does any
        other event of the run (a requeued update must not go after it: jobs.Requeue)."""
        run, kind = delivery.run_id, delivery.kind
        with self.connection() as conn, conn.transaction():
            # The accepts of one run on one lane, one at a time (across replicas): its order is its events'.
            conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"{delivery.lane}/{run}",))
            coalesce = run is not None and kind == "update"
            gen = 0
            if run is not None:
                # The run's latest start/end/error (or message) row: updates after it wait behind it.
                gen = conn.execute("SELECT coalesce(max(id), 0) FROM mcp_push_deliveries WHERE lane = %s AND "
                                   "run_id = %s AND kind <> 'update'", (delivery.lane, run)).fetchone()[0]
            if limit is not None and kind not in ("start", *TERMINAL):
                waiting = conn.execute("SELECT count(*) FROM mcp_push_deliveries WHERE lane = %s AND "
                                       "state = 'waiting'", (delivery.lane,)).fetchone()[0]
                if waiting >= limit:
                    replaces = coalesce and conn.execute(
                        "SELECT 1 FROM mcp_push_deliveries WHERE lane = %s AND run_id = %s AND kind = 'update' "
                        "AND state = 'waiting' AND gen = %s LIMIT 1", (delivery.lane, run, gen)).fetchone()
                    if not replaces:
                        return False
            now = self.clock()
            if run is not None:
                # An update replaces the waiting ones behind the same event; any other event of the run (its
                # end, error, a new start), all of them: a waiting update never goes after a later event.
                conn.execute("UPDATE mcp_push_deliveries SET state = 'final', finished = %s, result = %s "
                             "WHERE lane = %s AND run_id = %s AND kind = 'update' AND state = 'waiting' "
                             "AND (%s OR gen = %s)", (now, SUPERSEDED, delivery.lane, run, not coalesce, gen))
            delivery.row = conn.execute(
                "INSERT INTO mcp_push_deliveries (created, lane, channel, kind, run_id, gen, title, content, params,"
                " priority) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
                (now, delivery.lane, delivery.channel, kind, run, gen, delivery.title, delivery.content,
                 json.dumps(stored_params(delivery.params, delivery.format), ensure_ascii=False),
                 delivery.priority)).fetchone()[0]
            delivery.created = now
            delivery.gen = gen  # type: ignore[attr-defined]  # read by defer (the update's queueing lock)
            defer(conn, delivery)
        return True

    # --- what a worker takes and settles -------------------------------------------------------------------

    def take_row(self, row_id: int) -> Delivery | None:
        """The row a job names, unless it is final already (superseded, or sent before a crash was noticed)."""
        with self.connection() as conn:
            row = conn.execute("SELECT id, lane, channel, kind, run_id, title, content, params, created, priority, "
                               "tries, first_try FROM mcp_push_deliveries WHERE id = %s AND state <> 'final'",
                               (row_id,)).fetchone()
        return _delivery(row) if row else None

    def take_update(self, lane: str, run_id: str, gen: int) -> Delivery | None:
        """The newest waiting (or interrupted) update of a run behind its event `gen`; older ones become final."""
        with self.connection() as conn, conn.transaction():
            rows = conn.execute("SELECT id, lane, channel, kind, run_id, title, content, params, created, priority, "
                                "tries, first_try FROM mcp_push_deliveries WHERE lane = %s AND run_id = %s AND "
                                "kind = 'update' AND gen = %s AND state <> 'final' ORDER BY id DESC FOR UPDATE",
                                (lane, run_id, gen)).fetchall()
            if len(rows) > 1:
                conn.execute("UPDATE mcp_push_deliveries SET state = 'final', finished = %s, result = %s "
                             "WHERE id = ANY(%s)", (self.clock(), SUPERSEDED, [r[0] for r in rows[1:]]))
        return _delivery(rows[0]) if rows else None

    def park(self, row_id: int, due: float) -> None:
        """A run's update with no room in the quota waits without a job (a job would hold its lane) until `due`."""
        with self.connection() as conn:
            conn.execute("UPDATE mcp_push_deliveries SET due = %s WHERE id = %s AND state = 'waiting'", (due, row_id))

    def unpark(self, defer: Callable[[psycopg.Connection, str, str, int], None]) -> float | None:
        """Defers a job for every parked update that is due (and has none); returns the seconds until the
        next one is due (None: none is parked)."""
        now = self.clock()
        with self.connection() as conn, conn.transaction():
            due = conn.execute("UPDATE mcp_push_deliveries SET due = NULL WHERE state = 'waiting' AND kind = 'update' "
                               "AND due IS NOT NULL AND due <= %s RETURNING lane, run_id, gen", (now,)).fetchall()
            for lane, run_id, gen in sorted(set(due)):
                defer(conn, lane, run_id, gen)
            later = conn.execute("SELECT min(due) FROM mcp_push_deliveries WHERE state = 'waiting' AND "
                                 "due IS NOT NULL").fetchone()[0]
        return None if later is None else max(float(later) - now, 0.0)

    def add_tries(self, row_id: int, tries: int, first_try: float) -> None:
        """Tries made before the job was rescheduled, the send's first at `first_try` (unless an earlier run
        said when): the next run of the job goes on with them."""
        with self.connection() as conn:
            conn.execute("UPDATE mcp_push_deliveries SET tries = tries + %s, first_try = coalesce(first_try, %s) "
                         "WHERE id = %s", (tries, first_try, row_id))

    def sending(self, row_id: int) -> None:
        """On the wire from now: a crash from here on sends it again (at least once, never lost)."""
        with self.connection() as conn:
            conn.execute("UPDATE mcp_push_deliveries SET state = 'sending' WHERE id = %s", (row_id,))

    def settle(self, row_id: int, result: Mapping[str, Any]) -> None:
        with self.connection() as conn:
            conn.execute("UPDATE mcp_push_deliveries SET state = 'final', finished = %s, result = %s WHERE id = %s",
                         (self.clock(), json.dumps(dict(result), ensure_ascii=False), row_id))

    def results(self, row_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
        """The results of those rows that are final."""
        ids = list(row_ids)
        if not ids:
            return {}
        with self.connection() as conn:
            rows = conn.execute("SELECT id, result FROM mcp_push_deliveries WHERE id = ANY(%s) AND state = 'final'",
                                (ids,)).fetchall()
        return {int(row_id): json.loads(result) for row_id, result in rows}

    def unfinished(self) -> list[tuple[int, str]]:
        """(row, channel) of every delivery not final yet, oldest first: what `mcp-push flush` sends."""
        with self.connection() as conn:
            return [(int(row), channel) for row, channel in conn.execute(
                "SELECT id, channel FROM mcp_push_deliveries WHERE state <> 'final' ORDER BY id")]

    def queue_depths(self) -> list[tuple[str, str, int]]:
        """(channel, lane, deliveries not final) of every lane, whichever replica accepted them: what
        mcp_push_queue_depth shows on PostgreSQL (metrics.py), where no replica holds the lanes' queues."""
        with self.connection() as conn:
            return [(channel, lane, int(n)) for channel, lane, n in conn.execute(
                "SELECT channel, lane, count(*) FROM mcp_push_deliveries WHERE state <> 'final' "
                "GROUP BY channel, lane ORDER BY channel, lane")]

    def pending(self) -> int:
        with self.connection() as conn:
            return int(conn.execute("SELECT count(*) FROM mcp_push_deliveries WHERE state <> 'final'").fetchone()[0])

    def prune(self) -> None:
        with self.connection() as conn:
            conn.execute("DELETE FROM mcp_push_deliveries WHERE state = 'final' AND finished < %s",
                         (self.clock() - KEEP_FINAL_SECONDS,))

    # --- backend.Backend ------------------------------------------------------------------------------------

    def add(self, lane: str, channel: str, kind: str, run_id: str | None, title: str, content: str,
            params: Mapping[str, Any], finished: Iterable[int] = (), priority: str | None = None) -> int:
        """A delivery stored without a job (the accepting path is `accept`, which defers one with it)."""
        delivery = Delivery(0, lane, channel, kind, run_id, title, content, dict(params), priority=priority)
        self.accept(delivery, None, lambda _conn, _d: None)
        self.finish(finished)
        return delivery.row

    def finish(self, row_ids: Iterable[int]) -> None:
        ids = list(row_ids)
        if ids:
            with self.connection() as conn:
                conn.execute("UPDATE mcp_push_deliveries SET state = 'final', finished = %s, "
                             "result = coalesce(result, %s) WHERE id = ANY(%s)", (self.clock(), SUPERSEDED, ids))

    def record_sends(self, lane: str, at: float, count: int, window: float) -> None:
        with self.connection() as conn:
            conn.execute("DELETE FROM mcp_push_sends WHERE lane = %s AND at < %s", (lane, at - window))
            with conn.cursor() as cur:
                cur.executemany("INSERT INTO mcp_push_sends VALUES (%s, %s)", [(lane, at)] * count)

    def recent_sends(self, lane: str, since: float) -> list[float]:
        with self.connection() as conn:
            return [at for (at,) in conn.execute("SELECT at FROM mcp_push_sends WHERE lane = %s AND at > %s "
                                                 "ORDER BY at", (lane, since))]

    def get_ref(self, lane: str, run_id: str) -> str | None:
        with self.connection() as conn:
            row = conn.execute("SELECT ref FROM mcp_push_refs WHERE lane = %s AND run_id = %s",
                               (lane, run_id)).fetchone()
        return row[0] if row else None

    def set_ref(self, lane: str, run_id: str, ref: str | None) -> None:
        with self.connection() as conn:
            if ref is None:
                conn.execute("DELETE FROM mcp_push_refs WHERE lane = %s AND run_id = %s", (lane, run_id))
            else:
                conn.execute("INSERT INTO mcp_push_refs VALUES (%s, %s, %s) ON CONFLICT (lane, run_id) "
                             "DO UPDATE SET ref = EXCLUDED.ref", (lane, run_id, ref))

    def idempotency(self) -> PgIdempotencyStore:
        return PgIdempotencyStore(self)


SUPERSEDED = json.dumps({"status": "superseded", "error": "a newer event of the run replaced it"})


class PgIdempotencyStore:
    """idempotency.IdempotencyStore's methods on the shared table: a key claimed on one replica is seen by all."""

    def __init__(self, state: PgState):
        self.state = state

    def claim(self, key: str) -> idem.Answer | str | None:
        now = self.state.clock()
        with self.state.connection() as conn, conn.transaction():
            conn.execute("DELETE FROM mcp_push_idempotency WHERE created < %s", (now - idem.KEEP_SECONDS,))
            inserted = conn.execute("INSERT INTO mcp_push_idempotency VALUES (%s, %s, NULL, NULL) "
                                    "ON CONFLICT (key) DO NOTHING RETURNING key", (idem.digest(key), now)).fetchone()
            if inserted is not None:
                return None
            row = conn.execute("SELECT status, body FROM mcp_push_idempotency WHERE key = %s",
                               (idem.digest(key),)).fetchone()
        if row is None or row[0] is None:
            return idem.PENDING
        return idem.Answer(int(row[0]), row[1])

    def finish(self, key: str, answer: idem.Answer) -> None:
        with self.state.connection() as conn:
            conn.execute("UPDATE mcp_push_idempotency SET status = %s, body = %s WHERE key = %s",
                         (answer.status, answer.body, idem.digest(key)))

    def release(self, key: str) -> None:
        with self.state.connection() as conn:
            conn.execute("DELETE FROM mcp_push_idempotency WHERE key = %s AND status IS NULL", (idem.digest(key),))

    def close(self) -> None:
        pass  # the pool is the state's
