"""One answer receiver per credential across replicas (asking/receivers.py's `shared` mode).

Telegram allows one getUpdates poller per bot (and its offset confirms what was read), a Matrix /sync token
belongs to one reader, an ntfy reply topic's stream would deliver each answer to every subscriber: so, per
credential (the bot, the Matrix account and room, the ntfy reply topic), one replica at a time holds a
PostgreSQL session advisory lock and polls; the others try again every few seconds and one of them takes over
when the holder dies (its connection closes, the lock goes with it). The position (Telegram's offset,
Matrix's next_batch, the ntfy message id) is kept in mcp_push_ask_cursors and written through the lock's own
connection after each handled update: a holder that lost its connection cannot write, and the next holder
starts where the last one stopped. An update handled but not yet written is handled again by the next holder:
harmless, as the question's first answer is already recorded and a replayed token is refused (USED).

Keys are digests of the database's lane salt and the credential: no secret is stored, and the advisory locks
of two schemas (or deployments) in one database do not meet.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from typing import Any

import psycopg

log = logging.getLogger("mcp_push.ask")


class PgSharedReceivers:
    """Locks and positions of the answer receivers, for asking/receivers.Receiver."""

    def __init__(self, state: Any):
        self.state = state
        self._lock = threading.Lock()
        self._conns: dict[str, psycopg.Connection] = {}  # key -> its lock's connection
        # key -> the receiver holding it: a session's advisory locks are reentrant, so two receivers of one
        # process on one credential must not both count as the holder.
        self._held: dict[str, int] = {}

    def key(self, channel: str, credential: str) -> str:
        raw = self.state.lane_salt + f"ask receiver\0{channel}\0{credential}".encode()
        return hashlib.sha256(raw).hexdigest()

    def _drop(self, key: str) -> None:
        self._held.pop(key, None)
        conn = self._conns.pop(key, None)
        if conn is not None:
            try:
                conn.close()
            except psycopg.Error:
                pass

    def hold(self, key: str, owner: object = None) -> bool:
        """True while `owner` (a receiver) holds `key`'s lock, taking it when it is free; False: another
        holds it (here or in another replica), or PostgreSQL cannot be reached."""
        with self._lock:
            conn = self._conns.get(key)
            try:
                if key in self._held:
                    if self._held[key] != id(owner):
                        return False
                    conn.execute("SELECT 1")  # still connected: still the holder
                    return True
                if conn is None or conn.closed:
                    conn = psycopg.connect(self.state.url, autocommit=True, connect_timeout=5)
                    self._conns[key] = conn
                got = bool(conn.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))",
                                        (key,)).fetchone()[0])
            except psycopg.Error:
                log.debug("ask: the receiver lock could not be checked", exc_info=True)
                self._drop(key)
                return False
            if got:
                self._held[key] = id(owner)
            return got

    def holds(self, key: str, owner: object = None) -> bool:
        """Whether `owner` took `key`'s lock (and has not seen it lost)."""
        with self._lock:
            return self._held.get(key) == id(owner)

    def cursor(self, key: str) -> str | None:
        """The receiver's position, as the last holder wrote it."""
        with self.state.connection() as conn:
            row = conn.execute("SELECT value FROM mcp_push_ask_cursors WHERE key = %s", (key,)).fetchone()
        return row[0] if row else None

    def set_cursor(self, key: str, value: str, owner: object = None) -> bool:
        """Writes the position through the lock's connection; False when `owner` does not hold it (any more)."""
        with self._lock:
            conn = self._conns.get(key)
            if conn is None or self._held.get(key) != id(owner):
                return False
            try:
                conn.execute("INSERT INTO mcp_push_ask_cursors VALUES (%s, %s) ON CONFLICT (key) "
                             "DO UPDATE SET value = EXCLUDED.value", (key, value))
            except psycopg.Error:
                log.warning("ask: the receiver lost its lock; another replica takes over")
                self._drop(key)
                return False
            return True

    def release(self, key: str, owner: object = None) -> None:
        with self._lock:
            if key in self._held and self._held[key] != id(owner):
                return  # another receiver's
            conn = self._conns.get(key)
            if conn is not None and key in self._held:
                try:
                    conn.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", (key,))
                except psycopg.Error:
                    pass
            self._drop(key)

    def close(self) -> None:
        with self._lock:
            for key in list(self._conns):
                self._drop(key)
