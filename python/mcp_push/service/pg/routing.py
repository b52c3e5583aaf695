"""Routing's memory in PostgreSQL (docs/ROUTING.md, docs/DEPLOYMENT.md): the state routing.decide reads and
returns (runs' last outcomes, throttle slots, digest windows) and the messages held for later (quiet hours,
throttle, digests), shared by every replica. Same methods and meaning as service/routing_state.RoutingStore,
the state folder's SQLite.

Why shared: `only: recoveries` must see the error a run reported through another replica, a throttle slot
must hold across replicas, and a message held for the end of the quiet hours must outlive the replica that
held it (in memory it would be lost with it) and go out once, from whichever replica finds it due.

Every decision and every take of due messages runs under one transaction-scoped advisory lock, so two
replicas never decide from the same stale state and never both take a held message.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ..routing_state import RETAKE_SECONDS, Held

SCHEMA = """
CREATE TABLE IF NOT EXISTS mcp_push_routing_state (id INTEGER PRIMARY KEY CHECK (id = 1), value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS mcp_push_routing_held (
    id BIGSERIAL PRIMARY KEY,
    instance TEXT NOT NULL,
    due DOUBLE PRECISION NOT NULL,
    slot TEXT,
    digest TEXT,
    kind TEXT NOT NULL,
    run_id TEXT,
    title TEXT NOT NULL,
    content TEXT NOT NULL,
    priority TEXT NOT NULL,
    created DOUBLE PRECISION NOT NULL
);
ALTER TABLE mcp_push_routing_held ADD COLUMN IF NOT EXISTS taken DOUBLE PRECISION;
CREATE INDEX IF NOT EXISTS mcp_push_routing_held_due ON mcp_push_routing_held (due);
"""

# pg_advisory_xact_lock's key for routing's state and held messages ("mcprte").
ROUTING_LOCK = 0x6D63_7072_7465


class PgRoutingStore:
    """routing_state.RoutingStore's methods over the PostgreSQL backend's pool (pg/state.PgState)."""

    def __init__(self, state: Any):
        self._state = state

    def update(self, change: Callable[[dict[str, Any]], dict[str, Any]]) -> dict[str, Any]:
        """change(state) -> {decisions, state}, in one transaction under the routing lock; the new state is kept."""
        with self._state.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (ROUTING_LOCK,))
            row = conn.execute("SELECT value FROM mcp_push_routing_state WHERE id = 1").fetchone()
            result = change(json.loads(row[0]) if row else {})
            conn.execute("INSERT INTO mcp_push_routing_state (id, value) VALUES (1, %s) "
                         "ON CONFLICT (id) DO UPDATE SET value = EXCLUDED.value", (json.dumps(result["state"] or {}),))
        return result

    def state(self) -> dict[str, Any]:
        with self._state.connection() as conn:
            row = conn.execute("SELECT value FROM mcp_push_routing_state WHERE id = 1").fetchone()
        return json.loads(row[0]) if row else {}

    def hold(self, instance: str, due: float, kind: str, run_id: str | None, title: str, content: str,
             priority: str, created: float, slot: str | None = None, digest: str | None = None) -> None:
        """Keeps a message for `instance` until `due`; one with a `slot` replaces the one held there."""
        with self._state.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (ROUTING_LOCK,))
            if slot is not None:
                conn.execute("DELETE FROM mcp_push_routing_held WHERE instance = %s AND slot = %s", (instance, slot))
            conn.execute(
                "INSERT INTO mcp_push_routing_held (instance, due, slot, digest, kind, run_id, title, content, "
                "priority, created) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (instance, due, slot, digest, kind, run_id, title, content, priority, created))

    def flush_digest(self, digest: str, instance: str) -> None:
        """Makes a digest window due at once (its max was reached)."""
        with self._state.connection() as conn:
            conn.execute("UPDATE mcp_push_routing_held SET due = 0 WHERE digest = %s AND instance = %s",
                         (digest, instance))

    def take_due(self, now: float) -> list[Held]:
        """Takes what is due, oldest first (a digest's messages all go with its window): marked taken until
        `done`, and due again RETAKE_SECONDS later if never done (routing_state.RoutingStore.take_due). Under
        the routing lock: of two replicas looking at once, one takes them and the other finds nothing."""
        stale = now - RETAKE_SECONDS
        with self._state.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (ROUTING_LOCK,))
            singles = conn.execute(
                "UPDATE mcp_push_routing_held SET taken = %s "
                "WHERE digest IS NULL AND due <= %s AND (taken IS NULL OR taken <= %s) "
                "RETURNING id, instance, due, slot, digest, kind, run_id, title, content, priority, created",
                (now, now, stale)).fetchall()
            windows = conn.execute(
                "SELECT DISTINCT digest, instance FROM mcp_push_routing_held "
                "WHERE digest IS NOT NULL AND due <= %s AND (taken IS NULL OR taken <= %s)", (now, stale)).fetchall()
            digests = []
            for digest, instance in windows:
                digests += conn.execute(
                    "UPDATE mcp_push_routing_held SET taken = %s "
                    "WHERE digest = %s AND instance = %s AND (taken IS NULL OR taken <= %s) "
                    "RETURNING id, instance, due, slot, digest, kind, run_id, title, content, priority, created",
                    (now, digest, instance, stale)).fetchall()
        return [Held(*row) for row in sorted(singles)] + [Held(*row) for row in sorted(digests)]

    def done(self, rows: list[int]) -> None:
        """Forgets held messages the engine has accepted (take_due took them)."""
        with self._state.connection() as conn:
            conn.execute("DELETE FROM mcp_push_routing_held WHERE id = ANY(%s)", (list(rows),))

    def next_due(self) -> float | None:
        with self._state.connection() as conn:
            row = conn.execute("SELECT MIN(COALESCE(taken + %s, due)) FROM mcp_push_routing_held",
                               (RETAKE_SECONDS,)).fetchone()
        return row[0]

    def close(self) -> None:
        """Nothing of its own to close: the connections are the backend's pool's."""
