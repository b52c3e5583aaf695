"""mcp-push's tables in PostgreSQL, next to procrastinate's; `mcp-push db migrate` applies both, idempotently.

deliveries  every accepted delivery: waiting, sending (a worker has it on the wire), or final (with its
            result, kept a day for callers that wait and for `get_delivery`). Rows are the truth; a
            procrastinate job only says when a lane should look at them. `due`: a run's update parked
            without a job until the quota has room then (jobs.Requeue). `priority`: routing's low / normal /
            high (NULL: the spec's default). `tries`: the tries made before its job was rescheduled, and
            `first_try` when the first was (the engine's clock), so that the next run goes on with them:
            MCP_PUSH_RETRY_ATTEMPTS bounds the total, the backoff and the retry deadline go on.
sends       the requests made with each rate-limited credential (the quota window every worker reads).
refs        the vendor's id of a run's message, per lane and run (edit it in place from any replica).
idempotency the REST endpoint's keys (SHA-256 digests) and their first answers.
asks, ask_tokens, ask_audit, ask_cursors  pending questions and their answer tokens, the audit log, the
            answer receivers' positions (asks.py, ask_receivers.py).
meta        the lane-key salt: one for the whole database, so every replica names a credential's lane alike.
history_*   the delivery history (pg/history.py: messages and deliveries, as history.py keeps them in SQLite).
routing_*   routing's state and held messages, shared by the replicas (pg/routing.py).

And a trigger on procrastinate's jobs: a job of a lane (its `lock`) that leaves `doing` wakes the workers as
procrastinate's own NOTIFY of a new job does (its channel and payload), for procrastinate wakes them for new jobs
only: the next job of a busy lane waited for a worker's poll (worker.POLL_SECONDS), a few deliveries a second.
"""

from __future__ import annotations

import secrets

import psycopg

from .asks import SCHEMA as ASKS_SCHEMA
from .history import SCHEMA as HISTORY_SCHEMA
from .routing import SCHEMA as ROUTING_SCHEMA

SCHEMA = """
CREATE TABLE IF NOT EXISTS mcp_push_deliveries (
    id BIGSERIAL PRIMARY KEY,
    created DOUBLE PRECISION NOT NULL,
    lane TEXT NOT NULL,
    channel TEXT NOT NULL,
    kind TEXT NOT NULL,
    run_id TEXT,
    gen BIGINT NOT NULL DEFAULT 0,
    title TEXT NOT NULL,
    content TEXT NOT NULL,
    params TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'waiting',
    result TEXT,
    finished DOUBLE PRECISION,
    due DOUBLE PRECISION
);
ALTER TABLE mcp_push_deliveries ADD COLUMN IF NOT EXISTS due DOUBLE PRECISION;
ALTER TABLE mcp_push_deliveries ADD COLUMN IF NOT EXISTS priority TEXT;
ALTER TABLE mcp_push_deliveries ADD COLUMN IF NOT EXISTS tries INTEGER NOT NULL DEFAULT 0;
ALTER TABLE mcp_push_deliveries ADD COLUMN IF NOT EXISTS first_try DOUBLE PRECISION;
CREATE INDEX IF NOT EXISTS mcp_push_deliveries_run ON mcp_push_deliveries (lane, run_id, kind, state);
CREATE INDEX IF NOT EXISTS mcp_push_deliveries_waiting ON mcp_push_deliveries (lane) WHERE state <> 'final';
CREATE INDEX IF NOT EXISTS mcp_push_deliveries_finished ON mcp_push_deliveries (finished);
CREATE TABLE IF NOT EXISTS mcp_push_sends (lane TEXT NOT NULL, at DOUBLE PRECISION NOT NULL);
CREATE INDEX IF NOT EXISTS mcp_push_sends_lane ON mcp_push_sends (lane, at);
CREATE TABLE IF NOT EXISTS mcp_push_refs (lane TEXT NOT NULL, run_id TEXT NOT NULL, ref TEXT NOT NULL,
                                          PRIMARY KEY (lane, run_id));
CREATE TABLE IF NOT EXISTS mcp_push_idempotency (key TEXT PRIMARY KEY, created DOUBLE PRECISION NOT NULL,
                                                 status INTEGER, body TEXT);
CREATE INDEX IF NOT EXISTS mcp_push_idempotency_created ON mcp_push_idempotency (created);
CREATE TABLE IF NOT EXISTS mcp_push_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
-- A job with a lock (a lane's) leaving `doing` wakes the workers of its queue: procrastinate's channel and payload
-- for a new job (procrastinate_notify_queue_job_inserted_v1), so that they fetch the lane's next job.
CREATE OR REPLACE FUNCTION mcp_push_notify_lock_free() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('procrastinate_queue_v1#' || OLD.queue_name,
                      json_build_object('type', 'job_inserted', 'job_id', OLD.id)::text);
    RETURN NULL;
END;
$$;
DROP TRIGGER IF EXISTS mcp_push_lock_free_deleted ON procrastinate_jobs;
CREATE TRIGGER mcp_push_lock_free_deleted AFTER DELETE ON procrastinate_jobs FOR EACH ROW
    WHEN (OLD.status = 'doing' AND OLD.lock IS NOT NULL)
    EXECUTE FUNCTION mcp_push_notify_lock_free();
DROP TRIGGER IF EXISTS mcp_push_lock_free_finished ON procrastinate_jobs;
CREATE TRIGGER mcp_push_lock_free_finished AFTER UPDATE OF status ON procrastinate_jobs FOR EACH ROW
    WHEN (OLD.status = 'doing' AND NEW.status <> 'doing' AND OLD.lock IS NOT NULL)
    EXECUTE FUNCTION mcp_push_notify_lock_free();
"""

# One migration at a time, whichever replica runs it (pg_advisory_xact_lock's key).
MIGRATE_LOCK = 0x6D63_7075_7368  # "mcpush"


def migrate(url: str) -> list[str]:
    """Applies procrastinate's schema (when it is not there yet) and mcp-push's; returns what it did.
    Safe to run again and from several processes at once."""
    from procrastinate import App, SyncPsycopgConnector

    done = []
    with psycopg.connect(url, autocommit=False) as conn:
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATE_LOCK,))
        have_jobs = conn.execute("SELECT to_regclass('procrastinate_jobs') IS NOT NULL").fetchone()[0]
        if not have_jobs:
            # procrastinate's own schema, as its `procrastinate schema --apply` writes it.
            conn.execute(App(connector=SyncPsycopgConnector()).schema_manager.get_schema())
            done.append("procrastinate schema applied")
        else:
            done.append("procrastinate schema present")
        conn.execute(SCHEMA)
        conn.execute(HISTORY_SCHEMA)  # the shared delivery history (pg/history.py)
        conn.execute(ROUTING_SCHEMA)  # routing's state and held messages (pg/routing.py)
        conn.execute(ASKS_SCHEMA)  # pending questions (asks.py)
        conn.execute("INSERT INTO mcp_push_meta VALUES ('lane_salt', %s) ON CONFLICT (name) DO NOTHING",
                     (secrets.token_hex(32),))
        done.append("mcp-push schema up to date")
        conn.commit()
    return done


def is_migrated(conn: psycopg.Connection) -> bool:
    row = conn.execute("SELECT to_regclass('procrastinate_jobs') IS NOT NULL AND "
                       "to_regclass('mcp_push_meta') IS NOT NULL").fetchone()
    return bool(row and row[0])
