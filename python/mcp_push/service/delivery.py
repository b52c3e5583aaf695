"""A delivery: one message to one channel, as the outbox stores it and the engine schedules it.

One type for both (the outbox's rows were a second one): the outbox keeps the message fields until it is
final, the engine adds the plan, the waiters and the result.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .. import result as R
from ..planner import ChannelPlan

log = logging.getLogger("mcp_push")

TERMINAL = ("end", "error")


# Where the outbox keeps a delivery's format among its params: no vendor parameter can be named so.
FORMAT_KEY = "$format"


def stored_params(params: Mapping[str, Any], format: str) -> dict[str, Any]:  # noqa: A002
    """The params as the outbox stores them: a Markdown message's format under FORMAT_KEY."""
    return dict(params) if format == "text" else {**params, FORMAT_KEY: format}


def loaded_params(params: Mapping[str, Any]) -> tuple[dict[str, Any], str]:
    """The params the outbox stored, and the format kept among them."""
    params = dict(params)
    return params, str(params.pop(FORMAT_KEY, "text"))


@dataclass(eq=False)
class Delivery:
    """One message to one channel: the outbox's row (`row` its id; Outbox.adopt gives these back) and,
    while the engine has it, its plan, its waiters and its result."""

    row: int
    lane: str
    channel: str
    kind: str
    run_id: str | None
    title: str
    content: str
    params: dict[str, Any] = field(default_factory=dict)
    created: float = 0.0  # Unix time the outbox stored it (shown when an adopted one is dropped)
    format: str = "text"  # the content's format: text, or markdown (converted per channel when planned)
    # The message as planned: at acceptance on a rate-limited lane (its cost), else None until it goes (also
    # None when a setting it needs cannot work); an edit of the run's message is planned when it goes
    # (edits.post_or_edit), this post being its fallback.
    plan: ChannelPlan | None = field(default=None, repr=False)
    result: R.ChannelResult | None = None
    done: threading.Event = field(default_factory=threading.Event, repr=False)
    # Set while every try so far failed and another is due: what the last one said (redacted).
    retry_error: str | None = None
    priority: str | None = None  # low, normal or high, as routing decided (kept in the outbox's row)
    # Tries already made before a reschedule (PostgreSQL), and when (the engine's clock) its send first tried: the
    # next run goes on with them (MCP_PUSH_RETRY_ATTEMPTS bounds the total, the backoff and deadline go on).
    tries: int = 0
    first_try: float | None = None
    # The accepted message it belongs to (history.py; None for one adopted from the outbox after a restart),
    # and whether it edited its run's message in place rather than posting.
    message_id: str | None = None
    edited: bool = False
    next_at: float | None = None  # when a rate limit lets it go, once the engine has told its observers
    _callbacks: list[Callable[[Delivery], None]] = field(default_factory=list, repr=False)
    _callbacks_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def cost(self) -> int:
        """Requests it will make (parts of a long message, targets): what the limiter must find room for."""
        return max(len(self.plan.requests), 1) if self.plan is not None else 1

    @property
    def is_update(self) -> bool:
        return self.kind == "update"

    @property
    def is_terminal(self) -> bool:
        return self.kind in TERMINAL

    def settle(self, result: R.ChannelResult) -> None:
        self.result = result
        with self._callbacks_lock:
            self.done.set()
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            _call_safely(callback, self)

    def when_done(self, callback: Callable[[Delivery], None]) -> None:
        """Calls `callback(delivery)` once it is final (at once if it is), from the thread that settles
        it: an asyncio caller awaits it without holding a thread (call_soon_threadsafe)."""
        with self._callbacks_lock:
            if not self.done.is_set():
                self._callbacks.append(callback)
                return
        _call_safely(callback, self)


def _call_safely(callback: Callable[[Delivery], None], delivery: Delivery) -> None:
    try:
        callback(delivery)
    except Exception:  # a waiter that went away (a closed event loop) must not stop the lane
        log.debug("engine: a completion callback failed", exc_info=True)
