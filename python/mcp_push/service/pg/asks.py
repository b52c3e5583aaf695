"""Pending questions in PostgreSQL (asking/store.py's AskStore, issue 18) so that every replica sees them: a
question asked on replica A is answered through replica B's answer page, its notify_answer, or B's Telegram /
ntfy / Matrix receiver, and A's waiting notify_ask reads the answer from here (its watcher reads the store every
asking.service.POLL_SECONDS, as it does for several processes on one SQLite state folder). A short poll rather
than LISTEN/NOTIFY: it is one primary-key read per waiting question every 0.2 s, the same mechanism in both
backends, while LISTEN would need a connection of its own per replica and a poll anyway for the notifications
lost while that connection is down.

The same rules as the SQLite store: the first answer wins (a conditional UPDATE on the question's row, locked
for the transaction, so of two replicas answering at once exactly one is ACCEPTED); a token is used up by its
first use, kept only as its SHA-256 digest; an answer at or after the deadline times the question out;
finished questions are dropped KEEP_SECONDS after their deadline. Question texts arrive masked of channel
secrets (asking/service.py). The audit log is the table mcp_push_ask_audit, one row per line of the SQLite
store's ask-audit.jsonl, shared by the replicas.

`shared_receivers` (ask_receivers.py) lets one replica at a time poll a vendor for answers per credential.
"""

from __future__ import annotations

import contextlib
import hmac
import json
from collections.abc import Iterable, Iterator
from typing import Any

import psycopg

from ...asking import store as S
from ...asking.store import AnswerToken, Ask, Outcome, token_digest
from ..backend import BackendUnavailable
from .ask_receivers import PgSharedReceivers

# Applied by schema.migrate after mcp-push's other tables (idempotent).
SCHEMA = """
CREATE TABLE IF NOT EXISTS mcp_push_asks (
    id TEXT PRIMARY KEY, question TEXT NOT NULL, options TEXT NOT NULL, created DOUBLE PRECISION NOT NULL,
    expires DOUBLE PRECISION NOT NULL, "default" TEXT, run_id TEXT, channels TEXT[] NOT NULL,
    reply_topic TEXT NOT NULL, status TEXT NOT NULL, answer TEXT, answered_by TEXT, channel TEXT,
    at DOUBLE PRECISION
);
CREATE INDEX IF NOT EXISTS mcp_push_asks_pending ON mcp_push_asks (created) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS mcp_push_asks_expires ON mcp_push_asks (expires);
CREATE TABLE IF NOT EXISTS mcp_push_ask_tokens (
    digest TEXT PRIMARY KEY, ask_id TEXT NOT NULL, channel TEXT NOT NULL, option INTEGER,
    used BOOLEAN NOT NULL DEFAULT false
);
CREATE INDEX IF NOT EXISTS mcp_push_ask_tokens_ask ON mcp_push_ask_tokens (ask_id);
CREATE TABLE IF NOT EXISTS mcp_push_ask_audit (id BIGSERIAL PRIMARY KEY, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS mcp_push_ask_cursors (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

_COLUMNS = ('id, question, options, created, expires, "default", run_id, channels, reply_topic, status, answer, '
            'answered_by, channel, at')


def _ask(row: tuple[Any, ...]) -> Ask:
    return Ask(id=row[0], question=row[1], options=json.loads(row[2]), created=row[3], expires=row[4],
               default=row[5], run_id=row[6], channels=list(row[7]), reply_topic=row[8], status=row[9],
               answer=row[10], by=row[11], channel=row[12], at=row[13])


class PgAskStore:
    """AskStore on the PostgreSQL backend's pool (state.PgState); safe from any thread."""

    def __init__(self, state: Any):
        self.state = state
        self.shared_receivers = PgSharedReceivers(state)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[psycopg.Connection]:
        try:
            with self.state.connection() as conn, conn.transaction():
                yield conn
        except psycopg.errors.UndefinedTable:
            raise BackendUnavailable(f"database: {self.state.shown} has no tables for questions yet: "
                                     "run `mcp-push db migrate`") from None

    @staticmethod
    def _get(conn: psycopg.Connection, ask_id: str, lock: bool = False) -> Ask | None:
        # The columns are a constant: no caller's text is ever part of the SQL.
        row = conn.execute(f"SELECT {_COLUMNS} FROM mcp_push_asks WHERE id = %s"  # noqa: S608
                           + (" FOR UPDATE" if lock else ""), (ask_id,)).fetchone()
        return _ask(row) if row else None

    @staticmethod
    def _insert_tokens(conn: psycopg.Connection, tokens: Iterable[AnswerToken]) -> None:
        rows = [(token_digest(t.token), t.ask_id, t.channel, t.option) for t in tokens]
        if rows:
            with conn.cursor() as cur:
                cur.executemany("INSERT INTO mcp_push_ask_tokens (digest, ask_id, channel, option) "
                                "VALUES (%s, %s, %s, %s)", rows)

    # --- the interface ---

    def create(self, ask: Ask, tokens: Iterable[AnswerToken]) -> None:
        with self._transaction() as conn:
            # Finished questions past their keeping time go first (their tokens with them).
            old = self.state.clock() - S.KEEP_SECONDS
            conn.execute("DELETE FROM mcp_push_ask_tokens WHERE ask_id IN "
                         "(SELECT id FROM mcp_push_asks WHERE expires < %s)", (old,))
            conn.execute("DELETE FROM mcp_push_asks WHERE expires < %s", (old,))
            conn.execute(f"INSERT INTO mcp_push_asks ({_COLUMNS}) VALUES "  # noqa: S608
                         "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, NULL, NULL, NULL, NULL)",
                         (ask.id, ask.question, json.dumps(ask.options), ask.created, ask.expires, ask.default,
                          ask.run_id, list(ask.channels), ask.reply_topic, S.PENDING))
            self._insert_tokens(conn, tokens)

    def add_tokens(self, tokens: Iterable[AnswerToken]) -> None:
        with self._transaction() as conn:
            self._insert_tokens(conn, tokens)

    def set_channels(self, ask_id: str, channels: list[str]) -> None:
        with self._transaction() as conn:
            conn.execute("UPDATE mcp_push_asks SET channels = %s WHERE id = %s", (list(channels), ask_id))

    def get(self, ask_id: str) -> Ask | None:
        with self._transaction() as conn:
            return self._get(conn, ask_id)

    def lookup(self, token: str) -> tuple[Ask, AnswerToken] | None:
        digest = token_digest(token)
        with self._transaction() as conn:
            row = conn.execute("SELECT digest, ask_id, channel, option FROM mcp_push_ask_tokens WHERE digest = %s",
                               (digest,)).fetchone()
            # The index found it by its digest; the constant-time comparison is the check.
            if row is None or not hmac.compare_digest(row[0], digest):
                return None
            ask = self._get(conn, row[1])
        return (ask, AnswerToken(token, row[1], row[2], row[3])) if ask else None

    def answer(self, ask_id: str, answer: str, by: str, channel: str, now: float,
               token: str | None = None) -> Outcome:
        with self._transaction() as conn:
            return self._answer(conn, ask_id, answer, by, channel, now, token)

    def _answer(self, conn: psycopg.Connection, ask_id: str, answer: str, by: str, channel: str, now: float,
                token: str | None) -> Outcome:
        # The question's row is locked until the end of the transaction: the answers of all replicas queue here,
        # before any token's row is locked. An answer uses up the question's other tokens under this lock, so a
        # token locked first would deadlock with another token's answer of the same question.
        ask = self._get(conn, ask_id, lock=True)
        if token is not None:
            digest = token_digest(token)
            # FOR UPDATE: two uses of one token on two replicas take turns; the second sees it used.
            row = conn.execute("SELECT digest, ask_id, used FROM mcp_push_ask_tokens WHERE digest = %s FOR UPDATE",
                               (digest,)).fetchone()
            if row is None or not hmac.compare_digest(row[0], digest) or row[1] != ask_id:
                return Outcome(S.UNKNOWN)
            # Used up whatever comes of it: a token answers at most once, even a refused one.
            conn.execute("UPDATE mcp_push_ask_tokens SET used = true WHERE digest = %s", (digest,))
            if row[2]:
                return Outcome(S.USED, self._get(conn, ask_id))
        if ask is None:
            return Outcome(S.UNKNOWN)
        if ask.status == S.PENDING and now >= ask.expires:
            conn.execute("UPDATE mcp_push_asks SET status = %s WHERE id = %s AND status = %s",
                         (S.TIMED_OUT, ask_id, S.PENDING))
            ask.status = S.TIMED_OUT
        if ask.status == S.TIMED_OUT:
            return Outcome(S.EXPIRED, ask)
        if ask.status == S.DONE:
            return Outcome(S.ANSWERED, ask)
        won = conn.execute("UPDATE mcp_push_asks SET status = %s, answer = %s, answered_by = %s, channel = %s, "
                           "at = %s WHERE id = %s AND status = %s",
                           (S.DONE, answer, by, channel, now, ask_id, S.PENDING)).rowcount
        if token is not None:  # the question is settled: none of its tokens answers any more
            conn.execute("UPDATE mcp_push_ask_tokens SET used = true WHERE ask_id = %s", (ask_id,))
        return Outcome(S.ACCEPTED if won else S.ANSWERED, self._get(conn, ask_id))

    def expire(self, ask_id: str, now: float) -> Ask | None:
        with self._transaction() as conn:
            conn.execute("UPDATE mcp_push_asks SET status = %s WHERE id = %s AND status = %s",
                         (S.TIMED_OUT, ask_id, S.PENDING))
            return self._get(conn, ask_id)

    def pending(self, channel: str) -> list[Ask]:
        with self._transaction() as conn:
            rows = conn.execute(f"SELECT {_COLUMNS} FROM mcp_push_asks WHERE status = %s AND %s = ANY(channels) "  # noqa: S608
                                "ORDER BY created DESC", (S.PENDING, channel)).fetchall()
        return [_ask(row) for row in rows]

    def audit(self, event: str, ask: Ask | None, **fields: Any) -> None:
        record = {"at": round(self.state.clock(), 3), "event": event, "ask_id": ask.id if ask else None, **fields}
        if event == "asked" and ask is not None:
            record.update(question=ask.question, options=ask.options, channels=ask.channels,
                          expires=round(ask.expires, 3), run_id=ask.run_id)
        with self._transaction() as conn:
            conn.execute("INSERT INTO mcp_push_ask_audit (record) VALUES (%s)",
                         (json.dumps(record, ensure_ascii=False),))

    def read_audit(self) -> list[dict[str, Any]]:
        with self._transaction() as conn:
            return [json.loads(record) for (record,) in conn.execute("SELECT record FROM mcp_push_ask_audit "
                                                                     "ORDER BY id")]

    def close(self) -> None:
        self.shared_receivers.close()  # the pool is the state's
