"""The durable outbox: deliveries the MCP server accepted and has not finished, in SQLite.

An MCP host kills its stdio server when a chat ends; what was still waiting for a rate limit or a retry
is kept here and sent by the next server to start, or by `mcp-push flush`. A row is deleted the moment
its delivery is final (delivered, refused, superseded), so a delivery that succeeded is never sent again.
A row whose request was on the wire when the process died cannot be known to have arrived: it is sent
again (at least once, never lost).

Credentials are not stored: a row names its channel, and the env is read again when it is sent. The file
is private to the user (0600, in a 0700 folder): message texts may be private too.

Rows belong to the process that accepted them (its owner id); a process adopts rows only from owners
that are gone, so two servers sharing a state folder never send the same row. An owner is gone when its
pid no longer runs on this host, or (another host, or no way to check a pid) when it has been silent for
STALE_BEATS of its heartbeats. A server checks at every heartbeat, so a SIGKILLed peer's rows go out
soon, not at the next start.

A file that is not a readable SQLite database (garbage, a bad copy) would stop the server: it is moved
aside, named in an error log line, and a fresh outbox takes its place.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import socket
import sqlite3
import sys
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..config import is_true, setting
from ..lanekey import folder_salt
from .delivery import Delivery, loaded_params

log = logging.getLogger("mcp_push")

STATE_DIR_VAR, OUTBOX_VAR = "MCP_PUSH_STATE_DIR", "MCP_PUSH_OUTBOX"
FILE_NAME = "outbox.sqlite3"
# An owner silent for this many of its heartbeats is gone (where its pid cannot be checked).
STALE_BEATS = 4
# Its heartbeat interval when it did not say (a server of an older version): MCP_PUSH_HEARTBEAT_SECONDS' default.
DEFAULT_BEAT_SECONDS = 30.0
HOST = socket.gethostname()

SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    owner TEXT NOT NULL,
    created REAL NOT NULL,
    lane TEXT NOT NULL,
    channel TEXT NOT NULL,
    kind TEXT NOT NULL,
    run_id TEXT,
    title TEXT NOT NULL,
    content TEXT NOT NULL,
    params TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sends (lane TEXT NOT NULL, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS sends_lane ON sends (lane, at);
CREATE TABLE IF NOT EXISTS refs (lane TEXT NOT NULL, run_id TEXT NOT NULL, ref TEXT NOT NULL,
                                 PRIMARY KEY (lane, run_id));
CREATE TABLE IF NOT EXISTS owners (owner TEXT PRIMARY KEY, pid INTEGER NOT NULL, seen REAL NOT NULL);
-- Where an owner runs and how often it beats; a table of its own so that older servers, which write
-- owners rows of three columns, keep working on the same file.
CREATE TABLE IF NOT EXISTS owner_hosts (owner TEXT PRIMARY KEY, host TEXT NOT NULL, beat REAL NOT NULL);
"""


# Columns added after the first release: (name, declaration); a file of an older version gets them on opening.
ADDED_COLUMNS = (("priority", "TEXT"),)  # routing's low / normal / high (NULL: the spec's default)


def _add_columns(db: sqlite3.Connection) -> None:
    have = {row[1] for row in db.execute("PRAGMA table_info(deliveries)")}
    for name, declaration in ADDED_COLUMNS:
        if name not in have:
            try:
                db.execute(f"ALTER TABLE deliveries ADD COLUMN {name} {declaration}")
            except sqlite3.OperationalError as exc:  # another process opening the file added it first
                if "duplicate column" not in str(exc):
                    raise


# Owner ids of the outboxes open in this process.
_LIVE_OWNERS: set[str] = set()


def default_state_dir() -> Path:
    """Where a user's state lives on this platform (XDG on Linux and BSDs)."""
    home = Path.home()
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA") or home / "AppData" / "Local") / "mcp-push"
    if sys.platform == "darwin":
        return home / "Library" / "Application Support" / "mcp-push"
    return Path(os.environ.get("XDG_STATE_HOME") or home / ".local" / "state") / "mcp-push"


def state_dir(source: Mapping[str, Any]) -> Path:
    return Path(setting(STATE_DIR_VAR, source) or default_state_dir())


def outbox_enabled(source: Mapping[str, Any]) -> bool:
    return is_true(setting(OUTBOX_VAR, source))


def _pid_alive(pid: int) -> bool | None:
    """True/False when it can be told (POSIX), None elsewhere (os.kill ends processes on Windows)."""
    if os.name != "posix":
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        # Linux: a killed process its parent has not reaped yet (a zombie) still has its pid.
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


def _is_corrupt(exc: sqlite3.DatabaseError) -> bool:
    """Not a database, or a damaged one; a locked or unopenable file (OperationalError) is not corrupt."""
    return not isinstance(exc, sqlite3.OperationalError)


def _move_aside(path: Path) -> Path:
    """Renames a corrupt outbox (and its WAL files) to outbox.sqlite3.corrupt-<time>; returns the new path."""
    aside = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
    if aside.exists():
        aside = aside.with_name(f"{aside.name}-{os.getpid()}")
    for suffix in ("-wal", "-shm"):
        companion = path.with_name(path.name + suffix)
        if companion.exists():
            companion.replace(aside.with_name(aside.name + suffix))
    path.replace(aside)
    return aside


class Outbox:
    """SQLite-backed; every method is safe to call from any thread. The embedded backend (backend.Backend)."""

    # backend.Backend's slots for issue 17's history and issue 18's asks store.
    history: Any = None
    asks: Any = None

    def __init__(self, path: Path | None, clock=time.time):
        self.path = path
        self.clock = clock
        self.owner = uuid.uuid4().hex
        self.beat = DEFAULT_BEAT_SECONDS
        self._lock = threading.Lock()
        if path is None:
            self._db = self._open(":memory:")
        else:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._db = self._open_file(path)
        self._register()
        _LIVE_OWNERS.add(self.owner)

    @staticmethod
    def _open(target: str) -> sqlite3.Connection:
        # isolation_level=None: autocommit, with explicit BEGIN IMMEDIATE where rows change hands.
        db = sqlite3.connect(target, check_same_thread=False, isolation_level=None, timeout=10)
        try:
            if target != ":memory:":
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(SCHEMA)
            _add_columns(db)
        except BaseException:
            db.close()
            raise
        return db

    def _open_file(self, path: Path) -> sqlite3.Connection:
        """Opens the outbox file; one that is not a readable database is moved aside for a fresh one."""
        for _ in range(3):
            path.touch(mode=0o600, exist_ok=True)
            try:
                return self._open(str(path))
            except sqlite3.DatabaseError as exc:
                if not _is_corrupt(exc):
                    raise
                try:
                    aside = _move_aside(path)
                except FileNotFoundError:
                    continue  # another server starting on this folder moved it first
                # An error, not a warning: what it held will not be sent (and `mcp-push flush` shows errors only).
                log.error("outbox: %s is not a readable outbox (%s); moved it to %s and starting with an "
                          "empty one", path, exc, aside)
        return self._open(str(path))

    def _register(self) -> None:
        self._db.execute("INSERT OR REPLACE INTO owners VALUES (?, ?, ?)", (self.owner, os.getpid(), self.clock()))
        self._db.execute("INSERT OR REPLACE INTO owner_hosts VALUES (?, ?, ?)", (self.owner, HOST, self.beat))

    @classmethod
    def for_source(cls, source: Mapping[str, Any]) -> Outbox:
        """The user's outbox, or one in memory (nothing survives the process) with MCP_PUSH_OUTBOX=false."""
        if not outbox_enabled(source):
            return cls(None)
        return cls(state_dir(source) / FILE_NAME)

    def idempotency(self) -> Any:
        """The REST endpoint's idempotency keys, in this outbox's file (in memory when it is)."""
        from .idempotency import IdempotencyStore

        return IdempotencyStore(self.path, self.clock)

    @property
    def durable(self) -> bool:
        return self.path is not None

    @functools.cached_property
    def lane_salt(self) -> bytes:
        """The salt of this state folder's lane keys (lanekey.py): the same for every process using it."""
        return folder_salt(self.path.parent if self.path is not None else None)

    def close(self) -> None:
        """Gives up ownership: rows still unfinished become orphans, for the next process to adopt. The
        connection stays open for a delivery still on the wire to record its end."""
        with self._lock:
            _LIVE_OWNERS.discard(self.owner)
            self._db.execute("DELETE FROM owners WHERE owner = ?", (self.owner,))
            self._db.execute("DELETE FROM owner_hosts WHERE owner = ?", (self.owner,))

    def add(self, lane: str, channel: str, kind: str, run_id: str | None, title: str, content: str,
            params: Mapping[str, Any], finished: Iterable[int] = (), priority: str | None = None) -> int:
        """Stores a new delivery, committed before it returns; the `finished` rows (those it supersedes)
        are deleted in the same transaction, so one commit does both. `priority`: as routing decided (kept,
        so that a delivery resumed after a crash goes out at it)."""
        row = (self.owner, self.clock(), lane, channel, kind, run_id, title, content,
               json.dumps(dict(params), ensure_ascii=False), priority)
        done = [(i,) for i in finished]
        with self._lock:
            if not done:
                return int(self._db.execute(self._INSERT, row).lastrowid)
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row_id = int(self._db.execute(self._INSERT, row).lastrowid)
                self._db.executemany("DELETE FROM deliveries WHERE id = ?", done)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            return row_id

    _INSERT = ("INSERT INTO deliveries (owner, created, lane, channel, kind, run_id, title, content, params,"
               " priority) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")

    def finish(self, row_ids: Iterable[int]) -> None:
        """Final (delivered, refused or superseded): never to be sent again."""
        ids = [(i,) for i in row_ids]
        if not ids:
            return
        with self._lock:
            if len(ids) == 1:  # a lane's one delivery: execute is the cheaper call
                self._db.execute("DELETE FROM deliveries WHERE id = ?", ids[0])
            else:
                self._db.executemany("DELETE FROM deliveries WHERE id = ?", ids)

    def pending(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM deliveries").fetchone()[0])

    def heartbeat(self, beat: float | None = None) -> None:
        """Says this owner is alive, beating every `beat` seconds from now on (where its pid cannot be
        checked, silence for STALE_BEATS beats means it is gone); re-registers it if another process
        took it for gone."""
        with self._lock:
            if beat is not None:
                self.beat = beat
            if self.owner in _LIVE_OWNERS:
                self._register()

    def adopt(self) -> list[Delivery]:
        """Takes over the rows of owners that are gone (killed, or ended before finishing), oldest first."""
        now = self.clock()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                gone = []
                peers = self._db.execute(
                    "SELECT owners.owner, pid, seen, host, beat FROM owners LEFT JOIN owner_hosts"
                    " ON owners.owner = owner_hosts.owner WHERE owners.owner != ?", (self.owner,)).fetchall()
                for owner, pid, seen, host, beat in peers:
                    alive: bool | None
                    if host is not None and host != HOST:
                        alive = None  # a pid on another host (or container) says nothing here
                    elif pid == os.getpid():
                        # This process's pid: alive only if one of its outboxes (tests open several) owns it;
                        # otherwise an earlier process had the same pid (a container restarted).
                        alive = owner in _LIVE_OWNERS
                    else:
                        alive = _pid_alive(pid)
                    if alive is False or (alive is None and now - seen > STALE_BEATS * (beat or DEFAULT_BEAT_SECONDS)):
                        gone.append(owner)
                known = {o for (o,) in self._db.execute("SELECT owner FROM owners").fetchall()}
                orphans = {o for (o,) in self._db.execute("SELECT DISTINCT owner FROM deliveries").fetchall()}
                gone.extend(orphans - known)
                rows = []
                for owner in gone:
                    # Only the rows taken over now: this outbox's own are already queued in its engine.
                    rows += self._db.execute(
                        "SELECT id, created, lane, channel, kind, run_id, title, content, params, priority"
                        " FROM deliveries WHERE owner = ?", (owner,)).fetchall()
                    self._db.execute("UPDATE deliveries SET owner = ? WHERE owner = ?", (self.owner, owner))
                    self._db.execute("DELETE FROM owners WHERE owner = ?", (owner,))
                    self._db.execute("DELETE FROM owner_hosts WHERE owner = ?", (owner,))
                rows.sort(key=lambda row: row[0])
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return [Delivery(row_id, lane, channel, kind, run_id, title, content, loaded[0], created, format=loaded[1],
                         priority=priority)
                for row_id, created, lane, channel, kind, run_id, title, content, params, priority in rows
                for loaded in [loaded_params(json.loads(params))]]

    # --- rate-limit history and edit refs ---------------------------------------------------------------

    def record_sends(self, lane: str, at: float, count: int, window: float) -> None:
        """Requests made with a rate-limited credential; those older than its window are forgotten."""
        with self._lock:
            self._db.execute("DELETE FROM sends WHERE lane = ? AND at < ?", (lane, at - window))
            self._db.executemany("INSERT INTO sends VALUES (?, ?)", [(lane, at)] * count)

    def recent_sends(self, lane: str, since: float) -> list[float]:
        with self._lock:
            return [at for (at,) in self._db.execute("SELECT at FROM sends WHERE lane = ? AND at > ? ORDER BY at",
                                                     (lane, since))]

    def get_ref(self, lane: str, run_id: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT ref FROM refs WHERE lane = ? AND run_id = ?", (lane, run_id)).fetchone()
        return row[0] if row else None

    def set_ref(self, lane: str, run_id: str, ref: str | None) -> None:
        with self._lock:
            if ref is None:
                self._db.execute("DELETE FROM refs WHERE lane = ? AND run_id = ?", (lane, run_id))
            else:
                self._db.execute("INSERT OR REPLACE INTO refs VALUES (?, ?, ?)", (lane, run_id, ref))
