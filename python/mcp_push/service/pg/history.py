"""The delivery history in PostgreSQL (MCP_PUSH_DATABASE_URL): the same store as history.py's SqliteHistory
(history.HistoryBackend's calls, the same rows, the same masking and retention), in two tables of mcp-push's
schema, shared by every replica and worker. A run accepted on one replica and delivered by a worker in
another process is told, with its final per-channel states, by any replica's notify_status, status page and
/metrics, and by `mcp-push history` with the URL set.

Who writes what:
- accepted: the replica that accepted the message (its deliveries keyed by their mcp_push_deliveries row);
- retrying, waiting, settled: the worker that has the delivery's job, by that row (it knows no message id);
- rows the queue makes final without a worker (an update superseded at accept, or by a newer one when its
  job runs) and results whose history write was lost (a worker killed after settling, a settle that came
  before its "accepted" was written, in another process): every store copies the final results of the
  queue's rows into the history's pending deliveries after each batch it writes and every RECONCILE_SECONDS.

Writes are queued, as in SQLite: the engine's threads only put small records on a queue, and one writer
thread per store writes them in batches (one transaction each). Not in the accept's transaction: that is
one per channel, under the run's lane lock, while the message is known only once every channel took it;
the queue's rows (committed first) are the truth the history follows. A database that cannot be written
loses history, never a message. The history has a pool of its own: its reads (a status page polling) never
take the connections the accept path and the workers need.

query() takes the readers' SQL (run_status.py) as written for SQLite: `?` placeholders, the tables
`messages` and `deliveries`, `rowid` (here the column `seq`).
"""

from __future__ import annotations

import atexit
import json
import logging
import queue
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

from ... import result as R
from ...config import ConfigError
from ..delivery import Delivery
from ..history import (
    Message,
    PrunePace,
    QueuedRecords,
    Retention,
    accepted_rows,
    drain,
    history_enabled,
    prune_with,
    retention,
    state_of,
)

log = logging.getLogger("mcp_push")

MESSAGES, DELIVERIES = "mcp_push_history_messages", "mcp_push_history_deliveries"
# How often a store copies the queue's final results into the history when it writes nothing itself.
RECONCILE_SECONDS = 1.0
# Pending deliveries reconciled per pass (the rest in the next one).
RECONCILE_CHUNK = 1000
# A worker's settled result whose "accepted" (another process's) is not written yet is tried again every
# RECONCILE_SECONDS for this long, and at most this many are kept (replicas with MCP_PUSH_HISTORY=false
# behind workers with it on would record no row for any of them).
EARLY_KEEP_SECONDS = 120.0
MAX_EARLY = 5000
# One store prunes at a time, whichever process (pg_try_advisory_xact_lock's key).
PRUNE_LOCK = 0x6D63_7075_7368_68  # "mcpushh"
POOL_SIZE = 2  # the writer and a reader: each replica and worker already holds the queue's connections
DEFAULT_KEEP = Retention(7, 100_000)

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {MESSAGES} (
    message_id TEXT PRIMARY KEY,
    created DOUBLE PRECISION NOT NULL,
    origin TEXT NOT NULL,
    kind TEXT NOT NULL,
    run_id TEXT,
    title TEXT NOT NULL,
    content TEXT NOT NULL,
    step TEXT,
    progress DOUBLE PRECISION,
    note TEXT,
    retry_of BIGINT,
    seq BIGSERIAL NOT NULL
);
CREATE INDEX IF NOT EXISTS {MESSAGES}_run ON {MESSAGES} (run_id, created);
CREATE INDEX IF NOT EXISTS {MESSAGES}_created ON {MESSAGES} (created);
CREATE INDEX IF NOT EXISTS {MESSAGES}_seq ON {MESSAGES} (seq);
CREATE TABLE IF NOT EXISTS {DELIVERIES} (
    id BIGSERIAL PRIMARY KEY,
    message_id TEXT NOT NULL,
    run_id TEXT,
    kind TEXT NOT NULL,
    channel TEXT NOT NULL,
    state TEXT NOT NULL,
    outcome TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    http_status INTEGER,
    error TEXT,
    parts INTEGER NOT NULL DEFAULT 0,
    truncated INTEGER NOT NULL DEFAULT 0,
    edited INTEGER NOT NULL DEFAULT 0,
    elapsed_ms BIGINT NOT NULL DEFAULT 0,
    outbox_row BIGINT,
    created DOUBLE PRECISION NOT NULL,
    updated DOUBLE PRECISION NOT NULL,
    next_at DOUBLE PRECISION,
    retried_by TEXT,
    UNIQUE (message_id, channel)
);
CREATE INDEX IF NOT EXISTS {DELIVERIES}_run ON {DELIVERIES} (run_id, id);
CREATE INDEX IF NOT EXISTS {DELIVERIES}_state ON {DELIVERIES} (state, id);
CREATE INDEX IF NOT EXISTS {DELIVERIES}_pending ON {DELIVERIES} (id) WHERE state IN ('queued', 'retrying');
CREATE INDEX IF NOT EXISTS {DELIVERIES}_created ON {DELIVERIES} (created);
CREATE INDEX IF NOT EXISTS {DELIVERIES}_row ON {DELIVERIES} (outbox_row);
"""

_NAMES = {"messages": MESSAGES, "deliveries": DELIVERIES, "rowid": "seq"}
_WORDS = re.compile(r"\b(messages|deliveries|rowid)\b")


@lru_cache(maxsize=256)
def pg_sql(sql: str) -> str:
    """The readers' SQLite SQL for these tables: the table names, `seq` for rowid, `%s` for `?`."""
    return _WORDS.sub(lambda m: _NAMES[m.group(1)], sql.replace("%", "%%")).replace("?", "%s")


_SETTLE = ("UPDATE mcp_push_history_deliveries SET state = %s, outcome = %s, attempts = %s, http_status = %s, "
           "error = %s, parts = %s, truncated = %s, edited = %s, elapsed_ms = %s, updated = %s, next_at = NULL WHERE ")
# The final results of the queue's rows whose history still says pending. SKIP LOCKED: two processes
# reconciling at once take different rows and never wait for each other (they deadlocked, each waiting for
# a row the other had updated first).
_FINAL = ("SELECT h.id, d.result, d.finished FROM mcp_push_history_deliveries h JOIN mcp_push_deliveries d"
          " ON d.id = h.outbox_row WHERE h.state IN ('queued', 'retrying') AND d.state = 'final'"
          " ORDER BY h.id LIMIT %s FOR UPDATE OF h SKIP LOCKED")


class PgHistory(QueuedRecords):
    """history.HistoryBackend on PostgreSQL; records come in on a queue (any thread, never blocking), one
    writer thread writes them in batches, reconciles with the queue and prunes; readers use the pool."""

    def __init__(self, url: str, keep: Retention = DEFAULT_KEEP, clock: Callable[[], float] = time.time,
                 source: Mapping[str, Any] | None = None):
        import psycopg
        import psycopg_pool

        self.url, self.keep, self.clock = url, keep, clock
        self._start_queue()
        if source is not None:
            self._mask(source)  # a worker never sees an "accepted": its errors are masked with its env's secrets
        # Settled updates that found no row yet (the writer thread's alone): (give up at, sql, args).
        self._early: list[tuple[float, str, tuple[Any, ...]]] = []
        logging.getLogger("psycopg.pool").setLevel(logging.ERROR)
        psycopg.connect(url, connect_timeout=5).close()  # a database that is not there is said at once
        self.pool = psycopg_pool.ConnectionPool(url, min_size=1, max_size=POOL_SIZE, open=False, timeout=5,
                                                check=psycopg_pool.ConnectionPool.check_connection,
                                                kwargs={"connect_timeout": 5})
        self.pool.open(wait=True, timeout=5)
        try:
            with self.pool.connection() as conn:
                row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (DELIVERIES,)).fetchone()
            if not (row and row[0]):
                raise ConfigError("the database has no delivery history tables yet: run `mcp-push db migrate`")
        except BaseException:
            self.pool.close()
            raise
        self._thread = threading.Thread(target=self._write_loop, daemon=True, name="mcp-push-pg-history")
        self._thread.start()

    # --- writing (any thread: queued) -------------------------------------------------------------------

    def accepted(self, message: Message, entries: Sequence[Delivery | R.ChannelResult],
                 source: Mapping[str, Any] | None = None) -> None:
        row, deliveries = accepted_rows(message, entries, self._mask(source))

        def write(conn: Any) -> None:
            conn.execute("INSERT INTO mcp_push_history_messages (message_id, created, origin, kind, run_id, title,"
                         " content, step, progress, note, retry_of) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                         " ON CONFLICT DO NOTHING", row)
            if deliveries:
                with conn.cursor() as cur:
                    cur.executemany(
                        "INSERT INTO mcp_push_history_deliveries (message_id, run_id, kind, channel, state, outcome,"
                        " attempts, http_status, error, parts, truncated, edited, elapsed_ms, outbox_row, created,"
                        " updated)"
                        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                        " ON CONFLICT DO NOTHING", deliveries)

        self._put(write)

    @staticmethod
    def _where(delivery: Delivery) -> tuple[str, tuple[Any, ...]]:
        """The delivery's row: by message id, or (a worker's) by its queue row, unique in the database."""
        if delivery.message_id:
            return "message_id = %s AND channel = %s", (delivery.message_id, delivery.channel)
        return "outbox_row = %s AND channel = %s", (delivery.row, delivery.channel)

    def retrying(self, delivery: Delivery, error: str, next_at: float | None) -> None:
        where, key = self._where(delivery)
        args = (self._mask(None)(error), self.clock(), next_at, *key)
        # Never back from final: a reconcile may have copied the result before this record was written.
        self._put(lambda conn: conn.execute(
            "UPDATE mcp_push_history_deliveries SET state = 'retrying', outcome = 'retrying', error = %s,"  # noqa: S608
            f" updated = %s, next_at = %s WHERE {where} AND state IN ('queued', 'retrying')", args))

    def waiting(self, delivery: Delivery, next_at: float) -> None:
        where, key = self._where(delivery)
        self._put(lambda conn: conn.execute(
            f"UPDATE mcp_push_history_deliveries SET next_at = %s WHERE {where} AND state = 'queued'", (next_at, *key)))  # noqa: S608

    def settled(self, delivery: Delivery, result: R.ChannelResult) -> None:
        where, key = self._where(delivery)
        sql = _SETTLE + where
        args = (state_of(result.status), result.status, result.attempts, result.http_status,
                self._mask(None)(result.error), result.parts, int(result.truncated), int(delivery.edited),
                result.elapsed_ms, self.clock(), *key)

        def write(conn: Any) -> None:
            if conn.execute(sql, args).rowcount == 0 and len(self._early) < MAX_EARLY:
                # Its "accepted" is another process's and still to come: tried again every RECONCILE_SECONDS.
                self._early.append((time.monotonic() + EARLY_KEEP_SECONDS, sql, args))

        self._put(write)

    def record(self, message: Message, results: Iterable[R.ChannelResult], source: Mapping[str, Any],
               edited: Iterable[str] = ()) -> None:
        """A message sent at once (the CLI, the library): its final results."""
        self.accepted(message, list(results), source)
        edits = [(message.message_id, name) for name in set(edited)]
        if edits:
            def write(conn: Any) -> None:
                with conn.cursor() as cur:
                    cur.executemany("UPDATE mcp_push_history_deliveries SET edited = 1 WHERE message_id = %s"
                                    " AND channel = %s", edits)

            self._put(write)

    def claim_retry(self, delivery_id: int, message_id: str) -> dict[str, Any] | None:
        """Marks a failed, not yet retried delivery as retried by `message_id`, at once and for every replica
        (one UPDATE: two clicks, on two replicas, never retry it twice); the delivery with its texts, or None."""
        self.sync()
        with self.pool.connection() as conn:
            row = conn.execute(
                "WITH claimed AS (UPDATE mcp_push_history_deliveries SET retried_by = %s WHERE id = %s AND"
                " state = 'failed' AND retried_by IS NULL RETURNING id, channel, kind, run_id, message_id)"
                " SELECT c.id, c.channel, c.kind, c.run_id, m.title, m.content, c.message_id FROM claimed c"
                " JOIN mcp_push_history_messages m ON m.message_id = c.message_id",
                (message_id, delivery_id)).fetchone()
        if row is None:
            return None
        keys = ("id", "channel", "kind", "run_id", "title", "content", "message_id")
        return dict(zip(keys, row, strict=True))

    def retried(self, delivery_id: int, message_id: str) -> None:
        self._put(lambda conn: conn.execute("UPDATE mcp_push_history_deliveries SET retried_by = %s WHERE id = %s",
                                            (message_id, delivery_id)))

    # --- the writer thread ----------------------------------------------------------------------------

    def reconcile(self, conn: Any) -> int:
        """Copies the final results of the queue's rows into the history's pending deliveries; how many."""
        mask = self._mask(None)
        rows = conn.execute(_FINAL, (RECONCILE_CHUNK,)).fetchall()
        updates = []
        for history_id, result, finished in rows:
            found = json.loads(result) if result else {}
            status = str(found.get("status") or R.INTERNAL_ERROR)
            updates.append((state_of(status), status, int(found.get("attempts") or 0), found.get("http_status"),
                            mask(found.get("error")), int(found.get("parts") or 0), int(bool(found.get("truncated"))),
                            0, int(found.get("elapsed_ms") or 0), float(finished or self.clock()), history_id))
        if updates:
            with conn.cursor() as cur:
                cur.executemany(_SETTLE + "id = %s AND state IN ('queued', 'retrying')", updates)
        return len(updates)

    def _apply_early(self, conn: Any) -> None:
        now, kept = time.monotonic(), []
        for entry in self._early:
            give_up, sql, args = entry
            if conn.execute(sql, args).rowcount == 0 and now < give_up:
                kept.append(entry)
        self._early = kept

    def _write_loop(self) -> None:
        pace = PrunePace(self.keep)
        last_reconcile = last_early = 0.0
        while True:
            try:
                batch = [self._ops.get(timeout=RECONCILE_SECONDS)]
            except queue.Empty:
                batch = []
            ops, stop = drain(self._ops, batch)
            due = time.monotonic() - last_reconcile >= RECONCILE_SECONDS
            early = bool(self._early) and time.monotonic() - last_early >= RECONCILE_SECONDS
            if ops or early:
                try:
                    with self.pool.connection() as conn, conn.transaction():
                        for item in ops:
                            item(conn)
                        if early:
                            self._apply_early(conn)
                            last_early = time.monotonic()
                except Exception:  # history is lost, never a message: said once per batch
                    log.warning("history: could not write %d records to PostgreSQL", len(ops), exc_info=True)
            if ops or due:
                # After what this process wrote (a reader that synced then sees what the queue made final
                # meanwhile, a superseded update too), and every RECONCILE_SECONDS; a transaction of its own,
                # so that a reconcile that fails never costs the records.
                try:
                    with self.pool.connection() as conn, conn.transaction():
                        self.reconcile(conn)
                except Exception:
                    log.debug("history: reconciling with the queue failed", exc_info=True)
                last_reconcile = time.monotonic()
            if pace.wrote(len(ops)):
                try:
                    self.prune()
                except Exception:
                    log.debug("history: pruning failed", exc_info=True)
                pace.pruned()
            self._wrote(batch)
            if stop:
                return

    def prune(self) -> int:
        """Deletes final deliveries older than the retention days or beyond the newest max, and messages
        left with none; how many deliveries (0 when another process is pruning). A chunk per statement."""
        cutoff = self.clock() - self.keep.days * 86400
        with self.pool.connection() as conn, conn.transaction():
            if not conn.execute("SELECT pg_try_advisory_xact_lock(%s)", (PRUNE_LOCK,)).fetchone()[0]:
                return 0
            deleted = prune_with(lambda sql, args: conn.execute(pg_sql(sql), args), cutoff, self.keep)
        self.pruned += deleted
        return deleted

    # --- reading --------------------------------------------------------------------------------------

    def sync(self, timeout: float = 5.0) -> bool:
        """Waits until everything this process queued so far is written (and reconciled with the queue)."""
        return self._wait_written(timeout)

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[dict[str, Any]]:
        self.sync()
        with self.pool.connection() as conn:
            cursor = conn.execute(pg_sql(sql), tuple(args))
            names = [d.name for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def close(self) -> None:
        if not self._stop_queue():
            return
        self._thread.join(10)
        self.pool.close()


def open_history(source: Mapping[str, Any], url: str, clock: Callable[[], float] = time.time) -> PgHistory | None:
    """The shared history on `url`, or None with MCP_PUSH_HISTORY=false or one that cannot be opened (logged:
    history is lost, never a message)."""
    try:
        if not history_enabled(source):
            return None
        keep = retention(source)
    except ConfigError as exc:
        log.warning("history: %s; not recording", exc)
        return None
    try:
        return PgHistory(url, keep, clock, source)
    except Exception as exc:  # noqa: BLE001 - an unreachable or unmigrated database: no history, say why
        from .url import scrub

        FAILURES[url] = scrub(str(exc).strip() or type(exc).__name__, url).strip()
        log.warning("history: cannot keep it in PostgreSQL: %s", FAILURES[url])
        return None


# Why the history on a URL could not be opened, the URL's password masked (`mcp-push history` says it).
FAILURES: dict[str, str] = {}


def watch_pg(engine: Any, source: Mapping[str, Any]) -> Any:
    """watchers.watch for a PgEngine: the shared history in the backend's `history` slot and among the
    observers, and the metrics, with the history's counts by channel and state (every replica's)."""
    from ..metrics import EngineMetrics, metrics_of

    store = open_history(source, engine.url, engine.clock)
    if store is not None:
        engine.state.history = store
        engine.observers.append(store)
    if metrics_of(engine) is None:
        metrics = EngineMetrics(engine)
        if store is not None:
            metrics.registry.register(HistoryCounts(store))
        engine.observers.append(metrics)
    return engine


class HistoryCounts:
    """A /metrics collector read at scrape time: the shared history's deliveries by channel and state, so
    any replica tells what every worker delivered (its own counters count what it accepted and settled)."""

    def __init__(self, store: PgHistory):
        self.store = store

    def collect(self) -> Iterable[Any]:
        from prometheus_client.core import GaugeMetricFamily

        family = GaugeMetricFamily("mcp_push_history_deliveries", "Deliveries in the shared delivery history "
                                   "(every replica's, within its retention) by channel and state",
                                   labels=["channel", "state"])
        try:
            rows = self.store.query("SELECT channel, state, COUNT(*) AS n FROM deliveries GROUP BY channel, state"
                                    " ORDER BY channel, state")
        except Exception:  # PostgreSQL away: the other metrics are still served
            log.debug("metrics: reading the history failed", exc_info=True)
            rows = []
        for row in rows:
            family.add_metric([row["channel"], row["state"]], row["n"])
        yield family

    def describe(self) -> Iterable[Any]:
        return []  # registered without a scrape (the database is read only when /metrics is)


# --- one store per URL in a process (the CLI and the library; an engine owns its own) -------------------

_STORES: dict[str, PgHistory] = {}
MAX_OPEN_STORES = 4
_STORES_LOCK = threading.Lock()


def pg_store_for(source: Mapping[str, Any]) -> PgHistory | None:
    """This process's shared history on MCP_PUSH_DATABASE_URL (history.store_for with the URL set)."""
    from ..backend import database_url
    from . import require

    try:
        require()
    except ImportError as exc:
        log.info("history: %s", exc)
        return None
    url = database_url(source)
    with _STORES_LOCK:
        store = _STORES.pop(url, None)
        if store is None or store._closed:
            store = open_history(source, url)
            if store is None:
                return None
        else:
            try:
                store.keep = retention(source)
            except ConfigError:
                pass
        _STORES[url] = store  # the most recently used last
        while len(_STORES) > MAX_OPEN_STORES:  # each has a pool and a writer thread (a test suite: many URLs)
            _STORES.pop(next(iter(_STORES))).close()
        return store


@atexit.register
def _flush_all() -> None:
    """At exit, what the CLI and the library recorded is written (the writer thread is a daemon)."""
    for store in list(_STORES.values()):
        try:
            store.sync(5.0)
        except Exception:  # noqa: S110 - nothing to do about history at exit
            pass
