"""The one interface between the delivery engine and where its state lives: the embedded SQLite of the state
folder (outbox.Outbox, the zero-setup default) or PostgreSQL (service/pg, with MCP_PUSH_DATABASE_URL).

What differs between the two backends, and only that:

- accepting: `add` stores an accepted delivery, committed before it returns (accepted means committed), and
  forgets in the same transaction the waiting ones it supersedes; `finish` makes deliveries final.
- the lane lock: who may send with a credential. SQLite: the one lane thread of the process owning the
  rows (the outbox's owners; a dead owner's rows are adopted). PostgreSQL: a procrastinate `lock` per lane,
  so whichever worker holds it is the only sender on that lane. The lock is the scheduler's business; the
  backend only names it (`lane_salt` makes the same credential the same lane key in every process).
- the quota state: `record_sends` / `recent_sends`, every request made with a rate-limited credential.
- edit references: `get_ref` / `set_ref`, the vendor's id of a run's message, to edit it in place.
- idempotency keys: `idempotency()`, the store of the REST endpoint's keys (idempotency.IdempotencyStore's
  methods: claim, finish, release, close).
- history and pending questions: `history` (service/history.py, issue 17) and `asks` (the asks store,
  issue 18) are slots each backend fills once those stores exist; None until then.

The delivery itself (planning, sending, retries, editing a run's message) is one function for both:
engine.Engine.deliver. Only scheduling differs: the engine's lane threads over SQLite, procrastinate's
workers over PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol, runtime_checkable

from ..config import setting, strip_space

DATABASE_URL_VAR = "MCP_PUSH_DATABASE_URL"
# How a refusal because the database is away begins (BackendUnavailable's message): REST answers it with 503.
UNAVAILABLE_PREFIX = "database: "


@runtime_checkable
class Backend(Protocol):
    """What the engine keeps, and where (see the module's docstring)."""

    durable: bool
    lane_salt: bytes
    # Slots for the stores other features add (None until they exist): issue 17's history, issue 18's asks.
    history: Any
    asks: Any

    def add(self, lane: str, channel: str, kind: str, run_id: str | None, title: str, content: str,
            params: Mapping[str, Any], finished: Iterable[int] = (), priority: str | None = None) -> int: ...

    def finish(self, row_ids: Iterable[int]) -> None: ...

    def record_sends(self, lane: str, at: float, count: int, window: float) -> None: ...

    def recent_sends(self, lane: str, since: float) -> list[float]: ...

    def get_ref(self, lane: str, run_id: str) -> str | None: ...

    def set_ref(self, lane: str, run_id: str, ref: str | None) -> None: ...

    def idempotency(self) -> Any: ...

    def close(self) -> None: ...


def database_url(source: Mapping[str, Any]) -> str:
    """MCP_PUSH_DATABASE_URL, or "" for the embedded SQLite default."""
    return strip_space(setting(DATABASE_URL_VAR, source))


def uses_postgres(source: Mapping[str, Any]) -> bool:
    return database_url(source) != ""


class BackendUnavailable(Exception):
    """The backend's database cannot be reached: the call is refused (HTTP 503), nothing was accepted."""
