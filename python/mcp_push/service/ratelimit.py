"""A vendor's rate limit for one credential (spec `limits.rate`): at most `count` requests in any
`per_seconds` window, and `min_interval_seconds` between two. Sends wait for room instead of being
refused (DingTalk and WeCom robots block for 10 minutes after the 21st message in a minute).

Both are counted with a safety margin (`margin()`): a request's time is taken when it starts, but the
vendor counts it when it arrives, and a first request that waits for a TLS handshake arrives later than
the ones after it on a kept-alive connection (DingTalk saw 21 requests in 59.92 s from a limiter that
allowed 20 in exactly 60).

Headroom is kept for a run's end or error: everything else (updates, starts, plain messages) may fill
only `count - headroom` of a window, so an end or error always finds room without waiting for the
window to pass.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

# A window or interval of S seconds is counted as S + min(MARGIN_SECONDS, S * MARGIN_SHARE): two
# seconds on a minute, a tenth on a one-second limit (where two seconds would triple the wait).
MARGIN_SECONDS = 2.0
MARGIN_SHARE = 0.1


def margin(seconds: float) -> float:
    """The safety margin added to a window or an interval of `seconds`."""
    return min(MARGIN_SECONDS, seconds * MARGIN_SHARE)


def headroom(count: int) -> int:
    """Slots of a window kept for non-update messages: a tenth, at least one (none when count is 1)."""
    return min(max(1, count // 10), count - 1)


class RateLimiter:
    """A sliding log of recent request times (seconds on one clock). Not thread-safe: its lane's lock guards it."""

    def __init__(self, count: int, per_seconds: float, min_interval: float = 0.0):
        self.count, self.per_seconds, self.min_interval = count, per_seconds, min_interval
        # What is enforced: the vendor's numbers plus the margin.
        self.window = per_seconds + margin(per_seconds)
        self.interval = min_interval + margin(min_interval)
        self.sent: deque[float] = deque(maxlen=count)

    @classmethod
    def for_limits(cls, rate: Mapping[str, Any] | None) -> RateLimiter | None:
        if not rate:
            return None
        return cls(int(rate["count"]), float(rate["per_seconds"]), float(rate.get("min_interval_seconds", 0)))

    def seed(self, times: Iterable[float]) -> None:
        """The requests made so far (this process's and others', from the outbox) replace what it knew."""
        self.sent = deque(sorted(times)[-self.count:], maxlen=self.count)

    def capacity(self, terminal: bool) -> int:
        return self.count if terminal else self.count - headroom(self.count)

    def wait(self, now: float, cost: int, terminal: bool) -> float:
        """Seconds from `now` until `cost` requests may go (0 when they may go now); only a run's end or
        error (`terminal`) may use the headroom."""
        allowed = self.capacity(terminal)
        cost = min(max(cost, 1), allowed)
        recent = [at for at in self.sent if at > now - self.window]
        ready = now
        excess = len(recent) + cost - allowed
        if excess > 0:
            # The oldest `excess` requests must leave the window first.
            ready = max(ready, recent[excess - 1] + self.window)
        if self.interval and self.sent:
            ready = max(ready, self.sent[-1] + self.interval)
        return max(ready - now, 0.0)

    def record(self, now: float, cost: int) -> None:
        for _ in range(max(cost, 1)):
            self.sent.append(now)
