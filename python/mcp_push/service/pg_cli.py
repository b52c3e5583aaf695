"""`mcp-push worker` and `mcp-push db migrate`: the commands of the PostgreSQL backend (service/pg).

Both need MCP_PUSH_DATABASE_URL and the postgres extra; without them, a usage error says so. The URL's
password never appears in what they print.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Mapping
from typing import Any

from .backend import DATABASE_URL_VAR, database_url

OK, FAILED = 0, 1


class DatabaseCommandError(ValueError):
    """One line for people: what is missing or unreachable."""


def add_commands(sub: Any) -> None:
    worker = sub.add_parser("worker", help="deliver what replicas accepted (with MCP_PUSH_DATABASE_URL)",
                            description="Runs procrastinate jobs: sends the deliveries that `mcp-push serve` "
                            f"replicas accepted into the PostgreSQL database at {DATABASE_URL_VAR}, one lane "
                            "(channel credential) at a time per lock, until interrupted.")
    worker.add_argument("--concurrency", type=int, default=8,
                        help="deliveries sent at once, each on its own lane (default 8)")
    worker.add_argument("-v", "--verbose", action="store_true", help="log each delivery on stderr")
    db = sub.add_parser("db", help="the PostgreSQL database's schema (with MCP_PUSH_DATABASE_URL)",
                        description=f"`mcp-push db migrate` applies procrastinate's schema and mcp-push's to the "
                        f"database at {DATABASE_URL_VAR}; running it again changes nothing.")
    db.add_argument("action", choices=["migrate"], help="migrate: create or update the tables")
    db.add_argument("-v", "--verbose", action="store_true", help="log what it does on stderr")


def _url(env: Mapping[str, Any]) -> str:
    url = database_url(env)
    if not url:
        raise DatabaseCommandError(f"{DATABASE_URL_VAR}: must be set to a PostgreSQL URL "
                                   "(postgresql://user:password@host/db) for this command")
    from .pg import require

    try:
        require()
    except ImportError as exc:
        raise DatabaseCommandError(str(exc)) from None
    return url


def db_command(args: argparse.Namespace, env: Mapping[str, Any]) -> int:
    url = _url(env)
    import psycopg

    from .pg.schema import migrate
    from .pg.url import masked, scrub

    try:
        done = migrate(url)
    except psycopg.Error as exc:
        raise DatabaseCommandError(f"database: cannot migrate {masked(url)}: {scrub(str(exc), url).strip()}") \
            from None
    for line in done:
        print(f"{masked(url)}: {line}")
    return OK


def worker_command(args: argparse.Namespace, env: Mapping[str, Any]) -> int:
    import asyncio

    _url(env)
    if args.concurrency < 1:
        raise DatabaseCommandError("--concurrency: must be at least 1")
    logging.getLogger("mcp_push").setLevel(logging.INFO)
    from .pg.open import open_pg_engine
    from .pg.worker import serve_jobs_forever

    engine = open_pg_engine(env, DatabaseCommandError)
    logging.getLogger("mcp_push").info("worker: delivering from %s (%d at once)", engine.state.shown,
                                       args.concurrency)
    try:
        asyncio.run(serve_jobs_forever(engine, args.concurrency))
    except KeyboardInterrupt:
        pass
    finally:
        engine.close()
    return OK


def flush_command(args: argparse.Namespace, env: Mapping[str, Any], report: Any) -> int:
    """`mcp-push flush` with MCP_PUSH_DATABASE_URL: what is pending in PostgreSQL, sent now (pg/flush.py);
    `report` is cli.py's, so the output is the SQLite flush's."""
    import sys

    from ..result import SendResult

    _url(env)
    from .pg.flush import flush_results

    shown, results = flush_results(env, args.timeout, DatabaseCommandError)
    if not results:
        print(f"Nothing to flush in {shown}.", file=sys.stderr)
        return OK
    return report(SendResult(results), args.json, env)


HANDLERS = {"worker": worker_command, "db": db_command}
