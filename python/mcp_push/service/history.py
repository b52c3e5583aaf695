"""The delivery history: every message, event and delivery the server, the CLI or the library handled,
in SQLite in the state folder (history.sqlite3, next to the outbox), so "did it arrive, why not, what is
still queued?" can be answered after the call returned (notify_status, the runs resources, `mcp-push
history` / `status`, the status page).

A delivery is recorded when it is accepted (queued), while its tries fail (retrying, with the last
error and when the next try is due), and when it is final: delivered, failed (rejected, network_error,
timeout, config_error, internal_error; `outcome` keeps which) or skipped (skipped, superseded). Errors,
titles and texts are masked with the channels' secret marks (redact.py) before they are queued for the
database: no secret is ever written.

Never in the way of a delivery: the engine only puts small records on a queue; one writer thread per
database writes them in batches (one transaction each) and prunes, between batches, what is older than
MCP_PUSH_HISTORY_DAYS or beyond the newest MCP_PUSH_HISTORY_MAX final deliveries (pending ones are kept).
A database that cannot be written (a full disk, a locked file) loses history, never a message.

`HistoryBackend` is what the engine talks to (engine.DeliveryObserver's events): a PostgreSQL store can
implement the same few methods.
"""

from __future__ import annotations

import atexit
import logging
import queue
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from .. import result as R
from ..config import ConfigError, is_true, setting, strip_space
from ..redact import process_redactor
from .delivery import Delivery

log = logging.getLogger("mcp_push")

FILE_NAME = "history.sqlite3"
HISTORY_VAR, DAYS_VAR, MAX_VAR = "MCP_PUSH_HISTORY", "MCP_PUSH_HISTORY_DAYS", "MCP_PUSH_HISTORY_MAX"
# Prune after this many written records (two or three per delivery), or this many seconds, whichever comes
# first: between prunes the history may hold that many deliveries beyond MCP_PUSH_HISTORY_MAX.
PRUNE_EVERY_WRITES = 10_000
PRUNE_EVERY_SECONDS = 60.0
# Rows deleted per pruning statement: a long delete would hold the write lock (and the readers' view) long.
PRUNE_CHUNK = 5000
# Bytes of history.sqlite3-wal kept once the WAL starts anew (SQLite's journal_size_limit).
WAL_LIMIT = 4 * 1024 * 1024
# Stored message texts are cut here: the history answers "what was it", not an archive.
MAX_TEXT = 4000
# The writer waits this long after a record before it writes, so the records of a burst of calls share one
# transaction (and one wake-up of its thread) rather than each costing one; a reader (sync) does not wait.
LINGER_SECONDS = 0.02

# The states a delivery is shown in; `outcome` keeps the result's own status.
QUEUED, RETRYING, DELIVERED, FAILED, SKIPPED = "queued", "retrying", "delivered", "failed", "skipped"
PENDING = (QUEUED, RETRYING)
STATES = (QUEUED, RETRYING, DELIVERED, FAILED, SKIPPED)

SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    message_id TEXT PRIMARY KEY,
    created REAL NOT NULL,
    origin TEXT NOT NULL,          -- server, cli or library
    kind TEXT NOT NULL,            -- message, start, update, end, error
    run_id TEXT,
    title TEXT NOT NULL,
    content TEXT NOT NULL,
    step TEXT,
    progress REAL,
    note TEXT,                     -- an event's message
    retry_of INTEGER               -- the failed delivery this message retries (the status page's button)
);
CREATE INDEX IF NOT EXISTS messages_run ON messages (run_id, created);
CREATE INDEX IF NOT EXISTS messages_created ON messages (created);
CREATE TABLE IF NOT EXISTS deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
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
    edited INTEGER NOT NULL DEFAULT 0,  -- 1: an update that edited the run's message in place
    elapsed_ms INTEGER NOT NULL DEFAULT 0,
    outbox_row INTEGER,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    next_at REAL,                       -- when a queued or retrying one is due, when known
    retried_by TEXT,                    -- the message that retried this failed one
    UNIQUE (message_id, channel)
);
CREATE INDEX IF NOT EXISTS deliveries_run ON deliveries (run_id, id);
CREATE INDEX IF NOT EXISTS deliveries_state ON deliveries (state, id);
CREATE INDEX IF NOT EXISTS deliveries_created ON deliveries (created);
CREATE INDEX IF NOT EXISTS deliveries_row ON deliveries (outbox_row);
"""


def state_of(status: str) -> str:
    """A result status as a history state."""
    if status == R.DELIVERED:
        return DELIVERED
    if status in (R.QUEUED, R.RETRYING):
        return status
    if status in (R.SKIPPED, R.SUPERSEDED):
        return SKIPPED
    return FAILED


def new_message_id() -> str:
    return uuid.uuid4().hex[:16]


@dataclass
class Message:
    """One accepted message or event, as the history keeps it (texts masked by the caller)."""

    message_id: str
    kind: str
    run_id: str | None
    title: str
    content: str
    origin: str = "server"
    step: str | None = None
    progress: float | None = None
    note: str | None = None
    retry_of: int | None = None
    created: float = field(default_factory=time.time)


@dataclass(frozen=True)
class Retention:
    days: float
    max_deliveries: int


def retention(source: Mapping[str, Any]) -> Retention:
    """MCP_PUSH_HISTORY_DAYS and MCP_PUSH_HISTORY_MAX (spec/settings.yaml), or a ConfigError naming one."""
    days = float(strip_space(setting(DAYS_VAR, source)))
    return Retention(days, int(strip_space(setting(MAX_VAR, source))))


def history_enabled(source: Mapping[str, Any]) -> bool:
    return is_true(setting(HISTORY_VAR, source))


class HistoryBackend(Protocol):
    """What the engine and the readers need of a history store (SQLite here; PostgreSQL could do the same)."""

    def accepted(self, message: Message, entries: Sequence[Delivery | R.ChannelResult],
                 source: Mapping[str, Any]) -> None: ...

    def retrying(self, delivery: Delivery, error: str, next_at: float | None) -> None: ...

    def waiting(self, delivery: Delivery, next_at: float) -> None: ...

    def settled(self, delivery: Delivery, result: R.ChannelResult) -> None: ...

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[dict[str, Any]]: ...

    def claim_retry(self, delivery_id: int, message_id: str) -> dict[str, Any] | None: ...

    def retried(self, delivery_id: int, message_id: str) -> None: ...

    def sync(self, timeout: float = 5.0) -> bool: ...

    def close(self) -> None: ...


def _clip(text: str | None) -> str:
    text = text or ""
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT - 1] + "…"


def source_redactor(source: Mapping[str, Any]) -> Any:
    """The redactor of `source`'s channels' secrets (an env snapshot derives it once): both stores keep the
    last one for the errors that come later without a source."""
    from .outcome import SecretRedactor

    derive = getattr(source, "derive", None)
    return derive(SecretRedactor, lambda: SecretRedactor(source)) if derive else SecretRedactor(source)


def record_masker(redactor: Any) -> Callable[[str | None], str | None]:
    """The mask for one record's texts: `redactor`'s secrets (None: only the process's) and every secret
    this process knows, looked up once for the record, not once per text."""
    masker = getattr(redactor, "masker", None)
    mask = process_redactor().text if redactor is None else masker() if masker else redactor.text
    return lambda text: mask(text) if text else text


BATCH_MAX = 1000  # records one writer transaction takes at most


def drain(ops: queue.Queue, batch: list[Any]) -> tuple[list[Any], bool]:
    """`batch` with what else is queued, up to BATCH_MAX: (its records, whether the store is closing, said
    by a None in the queue). Both stores' writer threads take their batches so."""
    while batch and len(batch) < BATCH_MAX:
        try:
            batch.append(ops.get_nowait())
        except queue.Empty:
            break
    return [item for item in batch if item is not None], any(item is None for item in batch)


class PrunePace:
    """When a writer thread prunes: after a tenth of MCP_PUSH_HISTORY_MAX records (so a small max keeps its
    slack small; at least 100, at most PRUNE_EVERY_WRITES), or PRUNE_EVERY_SECONDS after the last time."""

    def __init__(self, keep: Retention):
        self.keep, self.last, self.since = keep, time.monotonic(), 0

    def wrote(self, count: int) -> bool:
        """Counts `count` records written; whether it is time to prune."""
        self.since += count
        every = min(PRUNE_EVERY_WRITES, max(100, self.keep.max_deliveries // 10))
        return self.since >= every or time.monotonic() - self.last >= PRUNE_EVERY_SECONDS

    def pruned(self) -> None:
        self.last, self.since = time.monotonic(), 0


class QueuedRecords:
    """What both history stores share: records come in on a queue from any thread (never blocking the caller)
    and one writer thread writes them; sync() waits for what was queued before it. The masking of what is
    recorded is here too: `source`'s channels' secrets (kept for the errors that come later) and every secret
    this process knows."""

    def _start_queue(self) -> None:
        self._ops: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._written = threading.Condition()
        self._queued = self._done = 0  # ops put, and ops written (the writer's count), for sync()
        self._closed = False
        self.pruned = 0  # deliveries pruned so far (the benchmark reads it)
        self._redactor: Any = None

    def _put(self, op: Callable[[Any], None]) -> None:
        if self._closed:
            return
        with self._written:
            self._queued += 1
        self._ops.put(op)

    def _mask(self, source: Mapping[str, Any] | None) -> Callable[[str | None], str | None]:
        if source is not None:
            self._redactor = source_redactor(source)
        return record_masker(self._redactor)

    def _wrote(self, batch: list[Any]) -> None:
        """The writer thread has written `batch` (a None in it too): sync() callers waiting for it go on."""
        with self._written:
            self._done += len(batch)
            self._written.notify_all()

    def _wait_written(self, timeout: float, hurry: Callable[[], None] | None = None) -> bool:
        """Waits until everything queued so far is written; hurry() when some is still to write."""
        with self._written:
            target = self._queued
            if hurry is not None and self._done < target:
                hurry()
            return self._written.wait_for(lambda: self._done >= target or not self._thread.is_alive(), timeout)

    def _stop_queue(self) -> bool:
        """Ends the writer thread once it has written what is queued; False when already closed."""
        if self._closed:
            return False
        self._closed = True
        with self._written:
            self._queued += 1
        self._ops.put(None)
        return True


def accepted_rows(message: Message, entries: Sequence[Delivery | R.ChannelResult],
                  mask: Callable[[str | None], str | None]) -> tuple[tuple[Any, ...], list[tuple[Any, ...]]]:
    """The messages row and the deliveries rows (in the tables' column order) of an accepted message: a
    queued delivery per Delivery, a final one per result given at once."""
    now = message.created
    row = (message.message_id, now, message.origin, message.kind, message.run_id, _clip(mask(message.title)),
           _clip(mask(message.content)), mask(message.step), message.progress, _clip(mask(message.note)) or None,
           message.retry_of)
    deliveries = []
    for entry in entries:
        if isinstance(entry, Delivery):
            deliveries.append((message.message_id, message.run_id, message.kind, entry.channel, QUEUED,
                               R.QUEUED, 0, None, None, 0, 0, 0, 0, entry.row or None, now, now))
        else:
            deliveries.append((message.message_id, message.run_id, message.kind, entry.channel,
                               state_of(entry.status), entry.status, entry.attempts, entry.http_status,
                               mask(entry.error), entry.parts, int(entry.truncated), 0, entry.elapsed_ms, None,
                               now, now))
    return row, deliveries


# Pruning, in SQLite's words (pg/history.pg_sql says them in PostgreSQL's): final deliveries before the cutoff,
# then beyond the newest max, a chunk per statement; then the messages left without a kept delivery (by their
# indexes, no scan of the deliveries), and never more of them than max.
PRUNE_OLD = ("DELETE FROM deliveries WHERE id IN (SELECT id FROM deliveries WHERE created < ? AND"
             " state NOT IN ('queued', 'retrying') LIMIT ?)")
PRUNE_NEWEST = "SELECT id FROM deliveries WHERE state NOT IN ('queued', 'retrying') ORDER BY id DESC LIMIT 1 OFFSET ?"
PRUNE_BEYOND = ("DELETE FROM deliveries WHERE id IN (SELECT id FROM deliveries WHERE id <= ? AND"
                " state NOT IN ('queued', 'retrying') LIMIT ?)")
PRUNE_MESSAGES = ("DELETE FROM messages WHERE created < COALESCE((SELECT MIN(created) FROM deliveries), ?)",
                  "DELETE FROM messages WHERE rowid <= (SELECT rowid FROM messages ORDER BY rowid DESC LIMIT 1"
                  " OFFSET ?)")


def prune_with(execute: Callable[[str, tuple[Any, ...]], Any], cutoff: float, keep: Retention) -> int:
    """Runs the pruning statements through execute(sql, args) -> cursor; how many deliveries went."""
    deleted = 0
    for sql, first in ((PRUNE_OLD, cutoff), (PRUNE_BEYOND, None)):
        if first is None:
            row = execute(PRUNE_NEWEST, (keep.max_deliveries,)).fetchone()
            if row is None:
                break
            first = row[0]
        while True:
            n = execute(sql, (first, PRUNE_CHUNK)).rowcount
            deleted += n
            if n < PRUNE_CHUNK:
                break
    execute(PRUNE_MESSAGES[0], (cutoff,))
    execute(PRUNE_MESSAGES[1], (keep.max_deliveries,))
    return deleted


class SqliteHistory(QueuedRecords):
    """history.sqlite3: records come in on a queue (any thread, never blocking) and one writer thread
    writes them in batches and prunes; readers use their own connection (WAL: they never wait for it)."""

    def __init__(self, path: Path | None, keep: Retention = Retention(7, 100_000),
                 clock: Callable[[], float] = time.time):
        self.path, self.keep, self.clock = path, keep, clock
        self._start_queue()
        # Settled updates that came before their delivery's row (the writer thread's alone): see accepted().
        self._early: dict[tuple[str, str], tuple[str, tuple[Any, ...]]] = {}
        self._urgent = threading.Event()  # a reader waits (sync) or the store closes: write without lingering
        if path is None:
            # One shared in-memory database: the writer's and the readers' connections see the same rows.
            target, uri = f"file:mcp-push-history-{uuid.uuid4().hex}?mode=memory&cache=shared", True
        else:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            path.touch(mode=0o600, exist_ok=True)
            target, uri = str(path), False
        self._target, self._uri = target, uri
        self._db = self._connect()
        self._db.executescript(SCHEMA)
        if path is not None:
            # A script's process exits without closing the database (its writer is a daemon thread), so no
            # close checkpoints the WAL, and SQLite starts a WAL anew only after a checkpoint: without this
            # one every script's records were appended to it, and every open read the whole file again
            # (40 MB after 600 one-shot sends: 20 ms an open, fsyncs in each commit). Passive: it never waits
            # for another process's reader or writer. WAL_LIMIT then keeps a file once grown from staying so.
            self._db.execute(f"PRAGMA journal_size_limit = {WAL_LIMIT}").fetchall()
            self._db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            # The WAL starts anew with the next page written, its header synced to disk: written here (the
            # database header's user_version, unchanged), so that sync is the open's, made while a library
            # send's vendors answer (api.prepare_record), not the record's after the results.
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            self._db.execute(f"PRAGMA user_version = {int(version)}")
        self._reader = self._connect()
        self._read_lock = threading.Lock()
        self._thread = threading.Thread(target=self._write_loop, daemon=True, name="mcp-push-history")
        self._thread.start()

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self._target, uri=self._uri, check_same_thread=False, isolation_level=None, timeout=10)
        if self.path is not None:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
        return db

    # --- writing (any thread: queued) -------------------------------------------------------------------

    def accepted(self, message: Message, entries: Sequence[Delivery | R.ChannelResult],
                 source: Mapping[str, Any] | None = None) -> None:
        row, deliveries = accepted_rows(message, entries, self._mask(source))

        def write(db: sqlite3.Connection) -> None:
            db.execute("INSERT OR IGNORE INTO messages VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
            db.executemany(
                "INSERT OR IGNORE INTO deliveries (message_id, run_id, kind, channel, state, outcome, attempts,"
                " http_status, error, parts, truncated, edited, elapsed_ms, outbox_row, created, updated)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", deliveries)
            # A lane may settle a delivery before its submit has told "accepted": that update found no row
            # then (settled), and applies now.
            for entry in entries:
                early = self._early.pop((message.message_id, entry.channel), None)
                if early is not None:
                    db.execute(*early)

        self._put(write)

    def _where(self, delivery: Delivery) -> tuple[str, tuple[Any, ...]]:
        """The delivery's row: by message id, or (one adopted from the outbox after a restart) by outbox row."""
        if delivery.message_id:
            return "message_id = ? AND channel = ?", (delivery.message_id, delivery.channel)
        return ("id = (SELECT id FROM deliveries WHERE outbox_row = ? AND channel = ? AND state IN ('queued',"
                " 'retrying') ORDER BY id DESC LIMIT 1)"), (delivery.row, delivery.channel)

    def retrying(self, delivery: Delivery, error: str, next_at: float | None) -> None:
        where, key = self._where(delivery)
        now, error = self.clock(), self._mask(None)(error)
        self._put(lambda db: db.execute(
            f"UPDATE deliveries SET state = 'retrying', outcome = 'retrying', error = ?, updated = ?,"  # noqa: S608
            f" next_at = ? WHERE {where}", (error, now, next_at, *key)))

    def waiting(self, delivery: Delivery, next_at: float) -> None:
        where, key = self._where(delivery)
        self._put(lambda db: db.execute(
            f"UPDATE deliveries SET next_at = ? WHERE {where} AND state = 'queued'", (next_at, *key)))  # noqa: S608

    def settled(self, delivery: Delivery, result: R.ChannelResult) -> None:
        where, key = self._where(delivery)
        values = (state_of(result.status), result.status, result.attempts, result.http_status,
                  self._mask(None)(result.error),
                  result.parts, int(result.truncated), int(delivery.edited), result.elapsed_ms, self.clock())
        sql = ("UPDATE deliveries SET state = ?, outcome = ?, attempts = ?, http_status = ?, error = ?, "  # noqa: S608
               f"parts = ?, truncated = ?, edited = ?, elapsed_ms = ?, updated = ?, next_at = NULL WHERE {where}")
        early_key = (delivery.message_id, delivery.channel) if delivery.message_id else None

        def write(db: sqlite3.Connection) -> None:
            if db.execute(sql, (*values, *key)).rowcount == 0 and early_key is not None:
                self._early[early_key] = (sql, (*values, *key))  # its "accepted" is still to come

        self._put(write)

    def record(self, message: Message, results: Iterable[R.ChannelResult], source: Mapping[str, Any],
               edited: Iterable[str] = ()) -> None:
        """A message sent at once (the CLI, the library): its final results."""
        results = list(results)
        self.accepted(message, results, source)
        edits = set(edited)
        if edits:
            self._put(lambda db: db.executemany(
                "UPDATE deliveries SET edited = 1 WHERE message_id = ? AND channel = ?",
                [(message.message_id, name) for name in edits]))

    def claim_retry(self, delivery_id: int, message_id: str) -> dict[str, Any] | None:
        """Marks a failed, not yet retried delivery as retried by `message_id`, at once (not queued), so
        two clicks never retry it twice; returns the delivery with its message's texts, or None."""
        self.sync()
        with self._read_lock:
            db = self._reader
            db.execute("BEGIN IMMEDIATE")
            try:
                cursor = db.execute("UPDATE deliveries SET retried_by = ? WHERE id = ? AND state = 'failed'"
                                    " AND retried_by IS NULL", (message_id, delivery_id))
                row = None
                if cursor.rowcount == 1:
                    row = db.execute(
                        "SELECT d.id, d.channel, d.kind, d.run_id, m.title, m.content, d.message_id FROM deliveries d"
                        " JOIN messages m ON m.message_id = d.message_id WHERE d.id = ?", (delivery_id,)).fetchone()
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        if row is None:
            return None
        keys = ("id", "channel", "kind", "run_id", "title", "content", "message_id")
        return dict(zip(keys, row, strict=True))

    def retried(self, delivery_id: int, message_id: str) -> None:
        """Names the message that retried a claimed delivery."""
        self._put(lambda db: db.execute("UPDATE deliveries SET retried_by = ? WHERE id = ?", (message_id, delivery_id)))

    # --- the writer thread ----------------------------------------------------------------------------

    def _write_loop(self) -> None:
        pace = PrunePace(self.keep)
        while True:
            op = self._ops.get()
            if op is not None:
                self._urgent.wait(LINGER_SECONDS)
            self._urgent.clear()  # then drained: whatever a reader waits for was queued before it asked
            batch = [op]
            ops, stop = drain(self._ops, batch)
            try:
                self._db.execute("BEGIN IMMEDIATE")
                for item in ops:
                    item(self._db)
                self._db.execute("COMMIT")
            except Exception:  # history is lost, never a message: say so once per batch
                log.warning("history: could not write %d records to %s", len(ops), self.path or "memory",
                            exc_info=True)
                try:
                    self._db.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
            if pace.wrote(len(ops)):
                try:
                    self.prune()
                except Exception:
                    log.warning("history: pruning failed", exc_info=True)
                pace.pruned()
            self._wrote(batch)
            if stop:
                return

    def prune(self) -> int:
        """Deletes final deliveries older than the retention days or beyond the newest max, and messages
        left with none; returns how many deliveries. Run by the writer thread (or a test, with no writer
        busy), a chunk per statement."""
        deleted = prune_with(self._db.execute, self.clock() - self.keep.days * 86400, self.keep)
        self.pruned += deleted
        return deleted

    # --- reading --------------------------------------------------------------------------------------

    def sync(self, timeout: float = 5.0) -> bool:
        """Waits until everything queued so far is written (a reader then sees its own process's records)."""
        return self._wait_written(timeout, hurry=self._urgent.set)

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[dict[str, Any]]:
        self.sync()
        with self._read_lock:
            cursor = self._reader.execute(sql, tuple(args))
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def close(self) -> None:
        if not self._stop_queue():
            return
        self._urgent.set()
        self._thread.join(10)
        self._db.close()
        with self._read_lock:
            self._reader.close()


# --- one store per state folder in a process ---------------------------------------------------------

_STORES: dict[Path, SqliteHistory] = {}
_STORES_LOCK = threading.Lock()
# Stores kept open per process (each has a writer thread): a test suite uses a state folder per test.
MAX_OPEN_STORES = 8


def store_for(source: Mapping[str, Any], quiet: bool = False) -> SqliteHistory | None:
    """This process's history of the state folder `source` names (MCP_PUSH_STATE_DIR, else the
    platform's default), or None with MCP_PUSH_HISTORY=false or a folder that cannot be written (logged,
    unless `quiet`: prepare_store's try, which the record's own says again).
    With MCP_PUSH_DATABASE_URL, the history every replica shares in PostgreSQL (pg/history.py) instead."""
    from .backend import uses_postgres
    from .outbox import state_dir

    try:
        if uses_postgres(source):  # MCP_PUSH_DATABASE_URL: the history every replica shares (pg/history.py)
            from .pg.history import pg_store_for

            return pg_store_for(source)  # type: ignore[return-value]  # a HistoryBackend too
        if not history_enabled(source):
            return None
        keep = retention(source)
        path = state_dir(source) / FILE_NAME
    except ConfigError as exc:
        if not quiet:
            log.warning("history: %s; not recording", exc)
        return None
    with _STORES_LOCK:
        store = _STORES.pop(path, None)
        if store is None or store._closed:
            try:
                store = SqliteHistory(path, keep)
            except (OSError, sqlite3.Error) as exc:
                # History is lost, not a message: said where -v shows it, not as a warning on every send.
                if not quiet:
                    log.info("history: cannot keep it in %s: %s", path, exc)
                return None
        _STORES[path] = store  # the most recently used last
        while len(_STORES) > MAX_OPEN_STORES:
            oldest = next(iter(_STORES))
            _STORES.pop(oldest).close()
        store.keep = keep
        return store


def record_sent(source: Mapping[str, Any], title: str, content: str, result: R.SendResult, kind: str = "message",
                run_id: str | None = None, edited: Iterable[str] = (), origin: str = "library",
                note: Mapping[str, Any] | None = None) -> None:
    """The library's and the CLI's sends (final at once): recorded, and the result given its message_id."""
    store = store_for(source)
    if store is None:
        return
    result.message_id = new_message_id()
    extra = dict(note or {})
    progress = extra.get("progress")
    store.record(Message(result.message_id, kind, run_id, title, content, origin, extra.get("step"),
                         progress if isinstance(progress, int | float) else None, extra.get("message"),
                         created=store.clock()), result.channels, source, edited)


def prepare_store(source: Mapping[str, Any]) -> None:
    """Opens the store record_sent will write `source`'s send to, and loads what masking its texts needs,
    ahead of the send's results (api.prepare_record). A store that cannot open is left to record_sent,
    which says why; so is PostgreSQL's (its connection may wait for a server: once per send, not twice)."""
    from .backend import uses_postgres
    from .outcome import SecretRedactor  # noqa: F401 - imported now: source_redactor needs it

    try:
        if uses_postgres(source):
            return
    except ConfigError:
        return
    store_for(source, quiet=True)


@atexit.register
def _flush_all() -> None:
    """At exit, what the library and the CLI recorded is written (their writer thread is a daemon)."""
    for store in list(_STORES.values()):
        try:
            store.sync(5.0)
        except Exception:  # noqa: S110 - nothing to do about history at exit
            pass
