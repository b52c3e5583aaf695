"""`mcp-push history` and `mcp-push status RUN`: the delivery history (history.py) as tables for people or
JSON (--json), masked again with the current env's secrets on the way out."""

from __future__ import annotations

import argparse
import calendar
import json
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any

DURATION = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*([smhdw]?)")
UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
NOT_FOUND = 1


def duration(text: str) -> float:
    """'90s', '30m', '1h', '2d', '1w' (or plain seconds) as seconds."""
    match = DURATION.fullmatch(text.strip().lower())
    if not match:
        raise argparse.ArgumentTypeError(f"must be a duration such as 30m, 1h or 2d, got '{text}'")
    return float(match.group(1)) * UNITS[match.group(2)]


def add_commands(sub: Any) -> None:
    """The two subcommands, on cli._parser's subparsers."""
    history = sub.add_parser("history", help="recent deliveries from the delivery history, newest first",
                             description="Deliveries the MCP server, the CLI and the library recorded in "
                             "MCP_PUSH_STATE_DIR (history.sqlite3), newest first; secrets are masked.")
    history.add_argument("--run", metavar="RUN", help="only this run's deliveries")
    history.add_argument("--failed", action="store_true", help="only failed deliveries")
    history.add_argument("--since", type=duration, metavar="AGE", help="only the last AGE: 30m, 1h, 2d")
    history.add_argument("--limit", type=int, default=100, help="most deliveries to show (default 100)")
    history.add_argument("--json", action="store_true", help="print them as JSON")
    status = sub.add_parser("status", help="one run's events and each channel's state",
                            description="A run (or a message, by its message_id) from the delivery history: "
                            "each channel's state (delivered, queued, retrying, failed) and the run's events.")
    status.add_argument("run", metavar="RUN", help="a run_id, or a message_id from a result")
    status.add_argument("--limit", type=int, default=50, help="most events to show (default 50)")
    status.add_argument("--json", action="store_true", help="print it as JSON")


def _store(env: Mapping[str, Any]) -> Any:
    from .cli import UsageError
    from .history import history_enabled, store_for

    if not history_enabled(env):
        raise UsageError("the delivery history is off (MCP_PUSH_HISTORY=false)")
    store = store_for(env)
    if store is None:
        from .backend import DATABASE_URL_VAR, uses_postgres
        from .outbox import state_dir

        if uses_postgres(env):
            from .backend import database_url
            from .pg.history import FAILURES

            why = FAILURES.get(database_url(env), "the postgres extra is missing")
            raise UsageError(f"cannot read the delivery history in PostgreSQL ({DATABASE_URL_VAR}): {why}")
        raise UsageError(f"cannot read the delivery history in {state_dir(env)} (MCP_PUSH_STATE_DIR)")
    return store


def _clock(at: str | None) -> str:
    """RFC 3339 UTC as local 'YYYY-MM-DD HH:MM:SS' for the tables."""
    if not at:
        return ""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(calendar.timegm(time.strptime(at, "%Y-%m-%dT%H:%M:%SZ"))))


def history_command(args: argparse.Namespace, env: Mapping[str, Any]) -> int:
    from .cli import OK, _table
    from .outcome import SecretRedactor
    from .run_status import delivery_rows

    since = time.time() - args.since if args.since is not None else None
    rows = SecretRedactor(env).tree(delivery_rows(_store(env), args.run, args.failed, since, args.limit))
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return OK
    if not rows:
        print("No deliveries recorded" + (" that match" if args.run or args.failed or since else "") + ".")
        return OK
    _table(("time", "run", "event", "channel", "state", "tries", "http", "detail"),
           [(_clock(r["at"]), r["run_id"] or "-", r["event"], r["channel"], _state(r), str(r["attempts"]),
             str(r["http_status"] or ""), _detail(r)) for r in rows])
    return OK


def _state(row: Mapping[str, Any]) -> str:
    same = row["outcome"] in (row["state"], "queued", "retrying")
    return row["state"] if same else f"{row['state']} ({row['outcome']})"


def _detail(row: Mapping[str, Any]) -> str:
    """The error, or when a waiting one is due, or the title; one line, cut to fit a terminal."""
    if row.get("error") and row["state"] != "delivered":
        text = row["error"]
    elif row.get("next_at"):
        text = f"due {_clock(row['next_at'])}"
    else:
        text = row.get("title") or ""
    text = " ".join(text.split())
    return text if len(text) <= 100 else text[:99] + "…"


def status_command(args: argparse.Namespace, env: Mapping[str, Any]) -> int:
    from .cli import OK, _fail, _table
    from .outcome import SecretRedactor
    from .run_status import run_view

    store = _store(env)
    view = run_view(store, run_id=args.run, limit=args.limit) or run_view(store, message_id=args.run, limit=args.limit)
    if view is None:
        return _fail(f"no run or message '{args.run}' in the delivery history (never sent here, or pruned)", NOT_FOUND)
    view = SecretRedactor(env).tree(view)
    if args.json:
        print(json.dumps(view, ensure_ascii=False, indent=2))
        return OK
    who = f"run {view['run_id']}" if view["run_id"] else f"message {view['message_id']}"
    progress = f", progress {round(view['progress'] * 100)}%" if view["progress"] is not None else ""
    print(f"{who}: {view['state']}, {view['events_total']} events{progress}, started {_clock(view['started'])}, "
          f"last {_clock(view['updated'])}")
    _table(("channel", "state", "delivered", "failed", "waiting", "detail"),
           [(c["channel"], c["state"], str(c["delivered"]), str(c["failed"]), str(c["queued"] + c["retrying"]),
             _detail({**c, "title": ""})) for c in view["channels"]])
    print()
    _table(("time", "event", "step", "progress", "channels"),
           [(_clock(e["at"]), e["event"], e["step"] or "", _percent(e["progress"]), _channels(e["deliveries"]))
            for e in view["events"]])
    return OK


def _percent(progress: float | None) -> str:
    return "" if progress is None else f"{round(progress * 100)}%"


def _channels(deliveries: Sequence[Mapping[str, Any]]) -> str:
    return ", ".join(f"{d['channel']} {d['state']}" for d in deliveries)
