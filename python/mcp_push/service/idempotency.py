"""Idempotency keys of the REST endpoint (rest.py): the first answer to a key, kept 24 hours, so a caller
that retries (CI, webhooks, orchestrators) gets that answer again and nothing is sent twice.

Kept in the outbox's SQLite file (outbox.py owns it: it creates the folder and the file, private to the
user, and moves a corrupt one aside before this opens it), in a table of its own, over a connection of
its own with the same settings; in memory when the outbox is (MCP_PUSH_OUTBOX=false). Keys are stored as
SHA-256 digests: a key is the caller's text, and only its equality matters. One namespace for the
server (there is one token). A claim is a row without an answer yet; the answer fills it in. Rows older
than KEEP_SECONDS are pruned at every claim, and the table never holds more than MAX_KEYS rows.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

KEEP_SECONDS = 24 * 3600.0
MAX_KEYS = 100_000

SCHEMA = """
CREATE TABLE IF NOT EXISTS idempotency (key TEXT PRIMARY KEY, created REAL NOT NULL, status INTEGER,
                                        body TEXT);
CREATE INDEX IF NOT EXISTS idempotency_created ON idempotency (created);
"""


@dataclass(frozen=True)
class Answer:
    """The first answer to a key: HTTP status and JSON body, as sent."""

    status: int
    body: str


PENDING = "pending"  # claimed, no answer yet


def digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


class IdempotencyStore:
    """Every method is safe to call from any thread (one connection behind a lock, as the outbox's)."""

    def __init__(self, path: Path | None, clock: Callable[[], float] = time.time):
        self.clock = clock
        self._lock = threading.Lock()
        self._db = sqlite3.connect(":memory:" if path is None else str(path), check_same_thread=False,
                                   isolation_level=None, timeout=10)
        if path is not None:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)

    def claim(self, key: str) -> Answer | str | None:
        """None: the key is new and now claimed (answer with `finish`, or `release` it). Otherwise the
        first Answer, or PENDING while the first request is still being handled."""
        now = self.clock()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute("DELETE FROM idempotency WHERE created < ?", (now - KEEP_SECONDS,))
                row = self._db.execute("SELECT status, body FROM idempotency WHERE key = ?",
                                       (digest(key),)).fetchone()
                if row is None:
                    self._db.execute("INSERT INTO idempotency VALUES (?, ?, NULL, NULL)", (digest(key), now))
                    self._db.execute("DELETE FROM idempotency WHERE key IN (SELECT key FROM idempotency"
                                     " ORDER BY created DESC LIMIT -1 OFFSET ?)", (MAX_KEYS,))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        if row is None:
            return None
        return PENDING if row[0] is None else Answer(int(row[0]), row[1])

    def finish(self, key: str, answer: Answer) -> None:
        with self._lock:
            self._db.execute("UPDATE idempotency SET status = ?, body = ? WHERE key = ?",
                             (answer.status, answer.body, digest(key)))

    def release(self, key: str) -> None:
        """Forgets a claim whose request was refused (a bad body) or failed: a retry is handled afresh."""
        with self._lock:
            self._db.execute("DELETE FROM idempotency WHERE key = ? AND status IS NULL", (digest(key),))

    def close(self) -> None:
        with self._lock:
            self._db.close()
