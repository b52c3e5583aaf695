"""When a failed request is tried again, and after how long (spec/README.md, "Retries").

The policy is settings.yaml's `retry`, overridden by a channel spec's own `retry` block. Only failures
that cannot have delivered the message (a connection refused before any byte was written) and answers
that say "later" (HTTP 429 and 5xx, SMTP 4xx) are retried; a vendor's no (4xx, 200 with an error code)
never is. A request written whose reply was lost is retried only when the spec says `idempotent: true`
(its request carries a key the vendor deduplicates on, as Matrix's txnId).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from .specs import ChannelSpec, load_settings
from .success import parse_json
from .templates import lookup
from .transports import Reply


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int
    backoff_seconds: float
    max_backoff_seconds: float
    jitter: float
    deadline_seconds: float
    after_json: str | None = None
    # The request carries an idempotency key: a lost reply may be retried without posting twice.
    idempotent: bool = False

    @classmethod
    def for_spec(cls, spec: ChannelSpec) -> RetryPolicy:
        merged = {**load_settings()["retry"], **(spec.retry or {})}
        return cls(**merged)

    def backoff(self, tries: int, r: float) -> float:
        """Seconds before try number tries+1: backoff doubled per try, capped, then jittered down."""
        base = min(self.backoff_seconds * 2 ** (tries - 1), self.max_backoff_seconds)
        return base * (1 - self.jitter * r)


@dataclass
class Pace:
    """The clock, sleep and randomness retries use; conformance runners and tests swap in fakes."""

    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic
    random: Callable[[], float] = random.random


PACE = Pace()


def retry_after(reply: Reply, policy: RetryPolicy, now: Callable[[], float] = time.time) -> float | None:
    """Seconds the vendor asked to wait: the Retry-After header (seconds or an HTTP date), else the
    spec's `after_json` path in the body (Telegram's parameters.retry_after). None when it said nothing."""
    header = reply.headers.get("retry-after", "").strip()
    if header:
        if header.isascii() and header.isdigit():
            return float(header)
        import email.utils  # only for the rare HTTP-date form

        try:
            when = email.utils.parsedate_to_datetime(header)
        except (TypeError, ValueError):
            when = None
        if when is not None and when.tzinfo is not None:
            return max(when.timestamp() - now(), 0.0)
    if policy.after_json:
        data = parse_json(reply.text)
        try:
            value = lookup(data, policy.after_json)
        except (KeyError, TypeError):
            value = None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            try:
                seconds = float(value)
            except OverflowError:  # an integer beyond any float: as JavaScript reads it, Infinity
                return None
            if math.isfinite(seconds) and seconds >= 0:
                return seconds
    return None


def next_delay(policy: RetryPolicy, tries: int, reply: Reply | None, pace: Pace) -> float:
    """The wait before the next try: what the vendor asked for, or the jittered backoff."""
    asked = retry_after(reply, policy) if reply is not None else None
    return asked if asked is not None else policy.backoff(tries, pace.random())

