"""Routing's memory in the state folder (docs/ROUTING.md): the state routing.decide reads and returns
(runs' last outcomes, throttle slots, digest windows) and the messages held for later (quiet hours,
throttle, digests), in `routing.sqlite3` next to the outbox (outbox.state_dir), private to the user
(0600 in a 0700 folder: message texts may be private). One transaction per decision, so the MCP server
and the CLI on one state folder never decide from a stale state.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .outbox import state_dir

FILE_NAME = "routing.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS state (id INTEGER PRIMARY KEY CHECK (id = 1), value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS held (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    instance TEXT NOT NULL,
    due REAL NOT NULL,
    slot TEXT,                 -- a throttled update's run: a newer one replaces it (the last one wins)
    digest TEXT,               -- a digest window's key: its messages go out as one summary
    kind TEXT NOT NULL,
    run_id TEXT,
    title TEXT NOT NULL,
    content TEXT NOT NULL,
    priority TEXT NOT NULL,
    created REAL NOT NULL,
    taken REAL                 -- when a routing service took it to submit; deleted once submitted
);
CREATE INDEX IF NOT EXISTS held_due ON held (due);
"""

# A held message taken to be submitted is deleted once the engine has it (`done`). One taken longer ago than
# this (its process died, or the engine refused to accept while its database was away) is due again: at least
# once, never lost between the take and the submit.
RETAKE_SECONDS = 60.0


@dataclass(frozen=True)
class Held:
    row: int
    instance: str
    due: float
    slot: str | None
    digest: str | None
    kind: str
    run_id: str | None
    title: str
    content: str
    priority: str
    created: float


class RoutingStore:
    """The routing state and the held messages of one state folder (or of memory: path None)."""

    def __init__(self, path: Path | None):
        self.path = path
        target = ":memory:"
        if path is not None:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            if not path.exists():
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
            target = str(path)
        self._db = sqlite3.connect(target, check_same_thread=False, isolation_level=None, timeout=10)
        self._db.executescript(_SCHEMA)
        if "taken" not in {row[1] for row in self._db.execute("PRAGMA table_info(held)")}:
            self._db.execute("ALTER TABLE held ADD COLUMN taken REAL")  # a file from before `taken`
        self._lock = threading.Lock()

    @classmethod
    def for_source(cls, source: Mapping[str, Any]) -> RoutingStore:
        return cls(state_dir(source) / FILE_NAME)

    def update(self, change: Callable[[dict[str, Any]], dict[str, Any]]) -> dict[str, Any]:
        """change(state) -> {decisions, state}, in one transaction; the new state is kept."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = self._db.execute("SELECT value FROM state WHERE id = 1").fetchone()
                result = change(json.loads(row[0]) if row else {})
                self._db.execute("INSERT OR REPLACE INTO state (id, value) VALUES (1, ?)",
                                 (json.dumps(result["state"] or {}),))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return result

    def state(self) -> dict[str, Any]:
        with self._lock:
            row = self._db.execute("SELECT value FROM state WHERE id = 1").fetchone()
        return json.loads(row[0]) if row else {}

    def hold(self, instance: str, due: float, kind: str, run_id: str | None, title: str, content: str,
             priority: str, created: float, slot: str | None = None, digest: str | None = None) -> None:
        """Keeps a message for `instance` until `due`; one with a `slot` replaces the one held there."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            if slot is not None:
                self._db.execute("DELETE FROM held WHERE instance = ? AND slot = ?", (instance, slot))
            self._db.execute(
                "INSERT INTO held (instance, due, slot, digest, kind, run_id, title, content, priority, created) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (instance, due, slot, digest, kind, run_id, title, content, priority, created))
            self._db.execute("COMMIT")

    def flush_digest(self, digest: str, instance: str) -> None:
        """Makes a digest window due at once (its max was reached)."""
        with self._lock:
            self._db.execute("UPDATE held SET due = 0 WHERE digest = ? AND instance = ?", (digest, instance))

    def take_due(self, now: float) -> list[Held]:
        """Takes what is due, oldest first (a digest's messages all go with its window): marked taken, not
        deleted, until `done` says the engine has them; what was taken RETAKE_SECONDS ago is due again."""
        stale = now - RETAKE_SECONDS
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            due_digests = self._db.execute(
                "SELECT DISTINCT digest, instance FROM held "
                "WHERE digest IS NOT NULL AND due <= ? AND (taken IS NULL OR taken <= ?)", (now, stale)).fetchall()
            rows = self._db.execute(
                "SELECT id, instance, due, slot, digest, kind, run_id, title, content, priority, created FROM held "
                "WHERE digest IS NULL AND due <= ? AND (taken IS NULL OR taken <= ?) ORDER BY id",
                (now, stale)).fetchall()
            for digest, instance in due_digests:
                rows += self._db.execute(
                    "SELECT id, instance, due, slot, digest, kind, run_id, title, content, priority, created "
                    "FROM held WHERE digest = ? AND instance = ? AND (taken IS NULL OR taken <= ?) ORDER BY id",
                    (digest, instance, stale)).fetchall()
            self._db.executemany("UPDATE held SET taken = ? WHERE id = ?", [(now, row[0]) for row in rows])
            self._db.execute("COMMIT")
        return [Held(*row) for row in rows]

    def done(self, rows: list[int]) -> None:
        """Forgets held messages the engine has accepted (take_due took them)."""
        with self._lock:
            self._db.executemany("DELETE FROM held WHERE id = ?", [(row,) for row in rows])

    def next_due(self) -> float | None:
        with self._lock:
            row = self._db.execute("SELECT MIN(COALESCE(taken + ?, due)) FROM held", (RETAKE_SECONDS,)).fetchone()
        return row[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()
