"""When a failed request is tried again, and after how long (spec/README.md, "Retries").

The policy is settings.yaml's `retry`, overridden by a channel spec's own `retry` block. Only failures
that cannot have delivered the message (a connection refused before any byte was written) and answers
that say "later" (HTTP 429 and 5xx, SMTP 4xx) are retried; a vendor's no (4xx, 200 with an error code)
never is. A request written whose reply was lost is retried only when the spec says `idempotent: true`
(its request carries a key the vendor deduplicates on, as Matrix's txnId).
"""

from __future__ import annotations

import functools
import math
import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from .config import setting, strip_space
from .paths import resolve_path
from .specs import ChannelSpec, load_settings
from .success import parse_json
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
    def for_spec(cls, spec: ChannelSpec, attempts: int | None = None) -> RetryPolicy:
        """settings.yaml's policy, the spec's `retry` over it, and MCP_PUSH_RETRY_ATTEMPTS (`attempts`,
        from attempts_override) over the policy's attempts."""
        merged = {**load_settings()["retry"], **(spec.retry or {})}
        if attempts is not None:
            merged["attempts"] = attempts
        return cls(**merged)

    def backoff(self, tries: int, r: float) -> float:
        """Seconds before try number tries+1: backoff doubled per try, capped, then jittered down."""
        base = min(self.backoff_seconds * 2 ** (tries - 1), self.max_backoff_seconds)
        return base * (1 - self.jitter * r)


ATTEMPTS_VAR = "MCP_PUSH_RETRY_ATTEMPTS"


def attempts_override(source: Mapping[str, Any]) -> int | None:
    """MCP_PUSH_RETRY_ATTEMPTS: tries per request for every channel (an integer of at least 1, a
    ConfigError naming it otherwise), or None when unset: the policy as written."""
    text = strip_space(setting(ATTEMPTS_VAR, source))
    return int(text) if text else None


class Pace:
    """The clock, sleep and randomness retries use; conformance runners and tests swap in fakes. A plain
    slotted class, not a dataclass: one is made at import, and a dataclass is compiled from source."""

    __slots__ = ("sleep", "monotonic", "random", "wall", "at_once")

    def __init__(self, sleep: Callable[[float], None] = time.sleep, monotonic: Callable[[], float] = time.monotonic,
                 random: Callable[[], float] = random.random, wall: Callable[[], float] = time.time,
                 at_once: int = 8) -> None:
        self.sleep = sleep
        self.monotonic = monotonic
        self.random = random
        # Wall-clock Unix seconds, what a Retry-After date is measured from.
        self.wall = wall
        # How many targets of one channel are sent at once (deliver.py). A fake clock is one thread's: a
        # replay's scripted replies answer in order, so the fakes send one at a time.
        self.at_once = at_once


PACE = Pace()


# Retry-After (spec/README.md, "Retries"): RFC 9110 delta-seconds, or an IMF-fixdate exactly; anything
# else (the obsolete RFC 850 and asctime forms, a sign, a fraction, another zone) says nothing.
_DELTA_SECONDS = re.compile(r"[0-9]+")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@functools.cache
def imf_fixdate() -> re.Pattern[str]:
    """The IMF-fixdate pattern, compiled when a Retry-After first holds something other than seconds
    (about half a millisecond, which a process whose vendors never send a date need not spend)."""
    return re.compile(rf"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), ([0-9]{{2}}) ({'|'.join(_MONTHS)}) ([0-9]{{4}})"
                      r" ([0-9]{2}):([0-9]{2}):([0-9]{2}) GMT")


# A larger delta-seconds is read as 2**31, as RFC 9111 reads one that overflows: every wait is finite.
MAX_DELTA_SECONDS = 2**31


def header_wait(header: str, now: float) -> float | None:
    """Seconds a Retry-After value asks to wait (a date in the past: 0), or None when it is neither form."""
    value = strip_space(header)
    if _DELTA_SECONDS.fullmatch(value):
        return min(float(value), MAX_DELTA_SECONDS)
    match = imf_fixdate().fullmatch(value)
    if match is None:
        return None
    day, month, year, hour, minute, second = match.groups()
    try:  # a day no calendar has (31 Feb, hour 24, second 60) is no date
        when = datetime(int(year), _MONTHS.index(month) + 1, int(day), int(hour), int(minute), int(second),
                        tzinfo=timezone.utc)
    except ValueError:
        return None
    return max(when.timestamp() - now, 0.0)


def retry_after(reply: Reply, policy: RetryPolicy, now: Callable[[], float] = time.time) -> float | None:
    """Seconds the vendor asked to wait: the Retry-After header, else the spec's `after_json` path in the
    body (Telegram's parameters.retry_after). None when it said nothing."""
    header = reply.headers.get("retry-after", "")
    asked = header_wait(header, now()) if header else None
    if asked is not None:
        return asked
    if policy.after_json:
        data = parse_json(reply.text)
        try:
            value = resolve_path(data, policy.after_json)
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
    asked = retry_after(reply, policy, pace.wall) if reply is not None else None
    return asked if asked is not None else policy.backoff(tries, pace.random())

