"""What the history says about a run, a message or recent deliveries, in one shape for every reader:
notify_status and the runs resources (status_tool.py), `mcp-push history` / `status` (history_cli.py)
and the status page (status_page.py). Every text in it was masked before it was written (history.py).
"""

from __future__ import annotations

import time
from typing import Any

from .history import DELIVERED, FAILED, PENDING, QUEUED, RETRYING, SKIPPED, HistoryBackend

DEFAULT_EVENTS = 50
MAX_LIMIT = 500
COUNTED = (DELIVERED, QUEUED, RETRYING, FAILED, SKIPPED)


def iso(at: float | None) -> str | None:
    """Unix time as RFC 3339 UTC to the second, e.g. 2026-12-01T19:40:00Z."""
    if at is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))


def _delivery(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"], "channel": row["channel"], "state": row["state"], "outcome": row["outcome"],
        "attempts": row["attempts"], "http_status": row["http_status"], "error": row["error"],
        "parts": row["parts"], "truncated": bool(row["truncated"]), "edited": bool(row["edited"]),
        "elapsed_ms": row["elapsed_ms"], "updated": iso(row["updated"]), "next_at": iso(row["next_at"]),
        "retried_by": row["retried_by"],
    }


def _channels(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per channel, in the order first seen: its latest delivery's state (and error, when it was not
    delivered), and how many of the run's deliveries are in each state."""
    channels: dict[str, dict[str, Any]] = {}
    for row in rows:  # oldest first: the last one seen is the channel's latest
        entry = channels.setdefault(row["channel"], {"channel": row["channel"], **{state: 0 for state in COUNTED}})
        entry[row["state"]] += 1
        entry.update(state=row["state"], error=row["error"] if row["state"] != DELIVERED else None,
                     http_status=row["http_status"], attempts=row["attempts"], updated=iso(row["updated"]),
                     next_at=iso(row["next_at"]) if row["state"] in PENDING else None)
    return list(channels.values())


def _run_state(last_kind: str | None, channels: list[dict[str, Any]]) -> str:
    """running (no end yet), ended, failed (the run's error event), or, for a message, sent."""
    if last_kind == "error":
        return "failed"
    if last_kind == "end":
        return "ended"
    if last_kind in ("start", "update"):
        return "running"
    return "sent"


def _summary(view: dict[str, Any]) -> str:
    who = f"run {view['run_id']}" if view["run_id"] else f"message {view['message_id']}"
    parts = []
    for c in view["channels"]:
        total = sum(c[state] for state in COUNTED)
        text = f"{c['channel']} {c['state']} (delivered {c['delivered']} of {total})"
        if c["state"] in (FAILED, RETRYING) and c["error"]:
            text += f": {c['error'][:200]}"
        parts.append(text)
    events = view["events_total"]
    head = f"{who}: {view['state']}, {events} event{'s' if events != 1 else ''}"
    return head + ("; " + "; ".join(parts) if parts else "; no channel")


def run_view(store: HistoryBackend, run_id: str | None = None, message_id: str | None = None,
             limit: int = DEFAULT_EVENTS) -> dict[str, Any] | None:
    """A run (by its id, or the run of a message) or a lone message: its events (the last `limit`, oldest
    first) with their deliveries, and each channel's state; None when the history has none of it."""
    limit = max(1, min(int(limit), MAX_LIMIT))
    if message_id is not None:
        found = store.query("SELECT run_id FROM messages WHERE message_id = ?", (message_id,))
        if not found:
            return None
        run_id = found[0]["run_id"]
    if run_id is not None:
        messages = store.query("SELECT * FROM messages WHERE run_id = ? ORDER BY created, rowid", (run_id,))
        rows = store.query("SELECT * FROM deliveries WHERE run_id = ? ORDER BY id", (run_id,))
    else:
        messages = store.query("SELECT * FROM messages WHERE message_id = ?", (message_id,))
        rows = store.query("SELECT * FROM deliveries WHERE message_id = ? ORDER BY id", (message_id,))
    if not messages:
        return None
    by_message: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_message.setdefault(row["message_id"], []).append(_delivery(row))
    events = [{
        "message_id": m["message_id"], "event": m["kind"], "at": iso(m["created"]), "title": m["title"],
        "message": m["note"], "step": m["step"], "progress": m["progress"],
        "deliveries": by_message.get(m["message_id"], []),
    } for m in messages]
    last = messages[-1]
    progress = next((m["progress"] for m in reversed(messages) if m["progress"] is not None), None)
    channels = _channels(rows)
    view = {
        "found": True, "run_id": run_id, "message_id": message_id,
        "state": _run_state(last["kind"] if run_id is not None else None, channels),
        "started": iso(messages[0]["created"]), "updated": iso(max(m["created"] for m in messages)),
        "events_total": len(messages), "last_event": last["kind"], "step": last["step"], "progress": progress,
        "channels": channels, "events": events[-limit:],
    }
    view["summary"] = _summary(view)
    return view


def recent_runs(store: HistoryBackend, limit: int = 20) -> list[dict[str, Any]]:
    """The most recently active runs, newest first, each as run_view without its events."""
    limit = max(1, min(int(limit), MAX_LIMIT))
    ids = store.query("SELECT run_id, MAX(created) AS last FROM messages WHERE run_id IS NOT NULL GROUP BY run_id"
                      " ORDER BY last DESC LIMIT ?", (limit,))
    runs = []
    for row in ids:
        view = run_view(store, run_id=row["run_id"], limit=1)
        if view is not None:
            view.pop("events")
            view.pop("message_id")
            view.pop("found")
            runs.append(view)
    return runs


def delivery_rows(store: HistoryBackend, run_id: str | None = None, failed: bool = False,
                  since: float | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """Recent deliveries, newest first, each with its message's title: the `mcp-push history` table."""
    where, args = [], []
    if run_id is not None:
        where.append("d.run_id = ?")
        args.append(run_id)
    if failed:
        where.append("d.state = 'failed'")
    if since is not None:
        where.append("d.created >= ?")
        args.append(since)
    # Only fixed clauses are joined; every value is a parameter.
    clauses = " WHERE " + " AND ".join(where) if where else ""
    sql = ("SELECT d.*, m.title AS title FROM deliveries d JOIN messages m ON m.message_id = d.message_id"  # noqa: S608
           f"{clauses} ORDER BY d.id DESC LIMIT ?")
    rows = store.query(sql, (*args, max(1, min(int(limit), 10_000))))
    return [{**_delivery(row), "message_id": row["message_id"], "run_id": row["run_id"], "event": row["kind"],
             "title": row["title"], "at": iso(row["created"])} for row in rows]


def pending_rows(store: HistoryBackend, limit: int = 50) -> list[dict[str, Any]]:
    """Deliveries still queued or retrying, oldest first (the status page's "waiting" list)."""
    rows = store.query("SELECT d.*, m.title AS title FROM deliveries d JOIN messages m ON m.message_id ="
                       " d.message_id WHERE d.state IN ('queued', 'retrying') ORDER BY d.id LIMIT ?", (limit,))
    return [{**_delivery(row), "message_id": row["message_id"], "run_id": row["run_id"], "event": row["kind"],
             "title": row["title"], "at": iso(row["created"])} for row in rows]
