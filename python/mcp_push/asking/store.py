"""The question store: pending questions, their answer tokens, first answer wins; and the audit log.

A question is answered once: the first answer to reach the store wins (one conditional UPDATE), every
later one is refused and told who answered. An answer token (a link, a Telegram button, an ntfy action)
carries 128 random bits (`secrets`), is used once, dies with its question, and is kept only as its
SHA-256 digest, compared in constant time: a copy of the database answers nothing.

`AskStore` is the interface a backend implements (SQLite here, in the state folder next to the outbox;
PostgreSQL for a shared deployment). Every process on one state folder sees the same questions: the HTTP
server records a link's answer, the process that asked sees it.

The audit log (ask-audit.jsonl in the state folder, 0600) has one JSON line per question, answer,
refusal and timeout: who, channel, when, what. Question texts are masked of channel secrets before they
are stored or sent (service.py); tokens never go to the log.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

FILE_NAME = "asks.sqlite3"
AUDIT_NAME = "ask-audit.jsonl"
TOKEN_BYTES = 16  # 128 bits

# What an answer attempt came to.
ACCEPTED = "accepted"  # this answer is the question's answer
ANSWERED = "answered"  # someone answered first (the question's answer is in the outcome)
EXPIRED = "expired"  # the question timed out (or its deadline passed)
USED = "used"  # the token was used already (a replay)
UNKNOWN = "unknown"  # no such token or question

PENDING, DONE, TIMED_OUT = "pending", "answered", "timed_out"


def new_token() -> str:
    """128 random bits, URL-safe (22 characters): fits a Telegram callback_data and an ntfy topic name."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass
class Ask:
    """One question. `options` empty: a free-text answer. `channels`: where it was sent. `reply_topic`:
    the private ntfy topic its ntfy buttons publish to (empty when not sent to ntfy)."""

    id: str
    question: str
    options: list[str]
    created: float
    expires: float
    default: str | None = None
    run_id: str | None = None
    channels: list[str] = field(default_factory=list)
    reply_topic: str = ""
    status: str = PENDING
    answer: str | None = None
    by: str | None = None
    channel: str | None = None
    at: float | None = None

    @property
    def code(self) -> str:
        """The short mark shown in messages, so a reply can name its question."""
        return self.id[:6]


@dataclass(frozen=True)
class AnswerToken:
    """A token for one channel: `option` the option it answers (its index), None for a token whose
    page offers every option or a text field."""

    token: str
    ask_id: str
    channel: str
    option: int | None = None


@dataclass(frozen=True)
class Outcome:
    """What an answer attempt came to (ACCEPTED, ANSWERED, EXPIRED, USED, UNKNOWN) and the question as it
    stands after it (None for UNKNOWN)."""

    status: str
    ask: Ask | None = None


class AskStore(Protocol):
    """What a backend provides. Every method is safe from any thread; `answer` is atomic: of two answers
    to one question exactly one is ACCEPTED."""

    def create(self, ask: Ask, tokens: Iterable[AnswerToken]) -> None: ...

    def add_tokens(self, tokens: Iterable[AnswerToken]) -> None: ...

    def set_channels(self, ask_id: str, channels: list[str]) -> None: ...

    def get(self, ask_id: str) -> Ask | None: ...

    def lookup(self, token: str) -> tuple[Ask, AnswerToken] | None:
        """The token's question and what it answers, whether or not it can still answer; None: unknown."""
        ...

    def answer(self, ask_id: str, answer: str, by: str, channel: str, now: float,
               token: str | None = None) -> Outcome:
        """Records `answer` if the question is pending and not past its deadline (and the token, when
        given, belongs to it and is unused: it is used up either way)."""
        ...

    def expire(self, ask_id: str, now: float) -> Ask | None:
        """Marks a pending question timed out; the question as it stands (answered, maybe, just before)."""
        ...

    def pending(self, channel: str) -> list[Ask]:
        """Pending questions sent to `channel`, newest first."""
        ...

    def audit(self, event: str, ask: Ask | None, **fields: Any) -> None:
        """One line of the audit log: `event` (asked, answered, refused, timed_out, ignored), the question's
        id and `fields` (answer, by, channel …)."""
        ...

    def close(self) -> None: ...


def _private_file(path: Path) -> None:
    try:
        os.chmod(path, 0o600)
    except OSError:
        pass


SCHEMA = """
CREATE TABLE IF NOT EXISTS asks (
    id TEXT PRIMARY KEY, question TEXT NOT NULL, options TEXT NOT NULL, created REAL NOT NULL,
    expires REAL NOT NULL, "default" TEXT, run_id TEXT, channels TEXT NOT NULL, reply_topic TEXT NOT NULL,
    status TEXT NOT NULL, answer TEXT, answered_by TEXT, channel TEXT, at REAL
);
CREATE TABLE IF NOT EXISTS tokens (
    digest TEXT PRIMARY KEY, ask_id TEXT NOT NULL, channel TEXT NOT NULL, option INTEGER, used INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS tokens_ask ON tokens (ask_id);
"""
_COLUMNS = ("id, question, options, created, expires, \"default\", run_id, channels, reply_topic, status, answer, "
            "answered_by, channel, at")
# Finished questions (and their tokens) are dropped this long after their deadline.
KEEP_SECONDS = 7 * 24 * 3600.0


class SqliteAskStore:
    """AskStore in SQLite: `folder`/asks.sqlite3 and the audit log beside it; None keeps both in memory
    (tests, MCP_PUSH_OUTBOX=false)."""

    def __init__(self, folder: Path | None):
        self.folder = folder
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            path = str(folder / FILE_NAME)
        else:
            path = ":memory:"
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=10.0)
        if folder is not None:
            _private_file(folder / FILE_NAME)
            self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)
        self.memory_audit: list[dict[str, Any]] = []
        self._drop_old(time.time())

    # --- rows ---

    @staticmethod
    def _ask(row: tuple[Any, ...]) -> Ask:
        return Ask(id=row[0], question=row[1], options=json.loads(row[2]), created=row[3], expires=row[4],
                   default=row[5], run_id=row[6], channels=json.loads(row[7]), reply_topic=row[8], status=row[9],
                   answer=row[10], by=row[11], channel=row[12], at=row[13])

    def _get(self, ask_id: str) -> Ask | None:
        # The columns are a constant: no caller's text is ever part of the SQL.
        row = self._db.execute(f"SELECT {_COLUMNS} FROM asks WHERE id = ?", (ask_id,)).fetchone()  # noqa: S608
        return self._ask(row) if row else None

    def _insert_tokens(self, tokens: Iterable[AnswerToken]) -> None:
        self._db.executemany("INSERT INTO tokens (digest, ask_id, channel, option, used) VALUES (?, ?, ?, ?, 0)",
                             [(token_digest(t.token), t.ask_id, t.channel, t.option) for t in tokens])

    def _drop_old(self, now: float) -> None:
        with self._lock:
            old = [r[0] for r in self._db.execute("SELECT id FROM asks WHERE expires < ?", (now - KEEP_SECONDS,))]
            for ask_id in old:
                self._db.execute("DELETE FROM tokens WHERE ask_id = ?", (ask_id,))
                self._db.execute("DELETE FROM asks WHERE id = ?", (ask_id,))

    # --- the interface ---

    def create(self, ask: Ask, tokens: Iterable[AnswerToken]) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(
                    f"INSERT INTO asks ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, NULL, NULL)",  # noqa: S608
                    (ask.id, ask.question, json.dumps(ask.options), ask.created, ask.expires, ask.default,
                     ask.run_id, json.dumps(ask.channels), ask.reply_topic, PENDING))
                self._insert_tokens(tokens)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def add_tokens(self, tokens: Iterable[AnswerToken]) -> None:
        with self._lock:
            self._insert_tokens(tokens)

    def set_channels(self, ask_id: str, channels: list[str]) -> None:
        with self._lock:
            self._db.execute("UPDATE asks SET channels = ? WHERE id = ?", (json.dumps(channels), ask_id))

    def get(self, ask_id: str) -> Ask | None:
        with self._lock:
            return self._get(ask_id)

    def lookup(self, token: str) -> tuple[Ask, AnswerToken] | None:
        digest = token_digest(token)
        with self._lock:
            row = self._db.execute("SELECT digest, ask_id, channel, option FROM tokens WHERE digest = ?",
                                   (digest,)).fetchone()
            # The index found it by its digest; the constant-time comparison is the check.
            if row is None or not hmac.compare_digest(row[0], digest):
                return None
            ask = self._get(row[1])
        return (ask, AnswerToken(token, row[1], row[2], row[3])) if ask else None

    def answer(self, ask_id: str, answer: str, by: str, channel: str, now: float,
               token: str | None = None) -> Outcome:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                outcome = self._answer(ask_id, answer, by, channel, now, token)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return outcome

    def _answer(self, ask_id: str, answer: str, by: str, channel: str, now: float, token: str | None) -> Outcome:
        if token is not None:
            row = self._db.execute("SELECT digest, ask_id, used FROM tokens WHERE digest = ?",
                                   (token_digest(token),)).fetchone()
            if row is None or not hmac.compare_digest(row[0], token_digest(token)) or row[1] != ask_id:
                return Outcome(UNKNOWN)
            # Used up whatever comes of it: a token answers at most once, even a refused one.
            self._db.execute("UPDATE tokens SET used = 1 WHERE digest = ?", (row[0],))
            if row[2]:
                return Outcome(USED, self._get(ask_id))
        ask = self._get(ask_id)
        if ask is None:
            return Outcome(UNKNOWN)
        if ask.status == PENDING and now >= ask.expires:
            self._db.execute("UPDATE asks SET status = ? WHERE id = ? AND status = ?", (TIMED_OUT, ask_id, PENDING))
            ask.status = TIMED_OUT
        if ask.status == TIMED_OUT:
            return Outcome(EXPIRED, ask)
        if ask.status == DONE:
            return Outcome(ANSWERED, ask)
        won = self._db.execute(
            "UPDATE asks SET status = ?, answer = ?, answered_by = ?, channel = ?, at = ? WHERE id = ? AND status = ?",
            (DONE, answer, by, channel, now, ask_id, PENDING)).rowcount
        if token is not None:  # the question is settled: none of its tokens answers any more
            self._db.execute("UPDATE tokens SET used = 1 WHERE ask_id = ?", (ask_id,))
        return Outcome(ACCEPTED if won else ANSWERED, self._get(ask_id))

    def expire(self, ask_id: str, now: float) -> Ask | None:
        with self._lock:
            self._db.execute("UPDATE asks SET status = ? WHERE id = ? AND status = ?", (TIMED_OUT, ask_id, PENDING))
            return self._get(ask_id)

    def pending(self, channel: str) -> list[Ask]:
        with self._lock:
            rows = self._db.execute(f"SELECT {_COLUMNS} FROM asks WHERE status = ? ORDER BY created DESC",  # noqa: S608
                                    (PENDING,)).fetchall()
        return [ask for ask in map(self._ask, rows) if channel in ask.channels]

    def audit(self, event: str, ask: Ask | None, **fields: Any) -> None:
        record = {"at": round(time.time(), 3), "event": event, "ask_id": ask.id if ask else None, **fields}
        if event == "asked" and ask is not None:
            record.update(question=ask.question, options=ask.options, channels=ask.channels,
                          expires=round(ask.expires, 3), run_id=ask.run_id)
        if self.folder is None:
            self.memory_audit.append(record)
            return
        path = self.folder / AUDIT_NAME
        line = json.dumps(record, ensure_ascii=False) + "\n"
        with self._lock:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line.encode("utf-8"))
            finally:
                os.close(fd)

    def read_audit(self) -> list[dict[str, Any]]:
        if self.folder is None:
            return list(self.memory_audit)
        path = self.folder / AUDIT_NAME
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line]

    def close(self) -> None:
        with self._lock:
            self._db.close()


def ask_dict(ask: Ask) -> Mapping[str, Any]:
    return asdict(ask)
