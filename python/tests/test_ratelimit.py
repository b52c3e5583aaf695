"""The rate limiter keeps a safety margin: a vendor that counts requests when they arrive never sees
count + 1 of them in its window, even when the first of a window arrived late (a TLS handshake)."""

from __future__ import annotations

import random

import pytest

from mcp_push.service.ratelimit import RateLimiter, headroom, margin
from mcp_push.specs import load_channels


def burst(limiter: RateLimiter, messages: list[tuple[float, int, bool]]) -> list[float]:
    """Sends (arrival time, cost, terminal) messages in order on a fake clock as the lane does: each
    waits until the limiter has room; returns every request's time."""
    now, sent = 0.0, []
    for arrives, cost, terminal in messages:
        now = max(now, arrives)
        now += limiter.wait(now, cost, terminal)
        assert limiter.wait(now, cost, terminal) == 0
        limiter.record(now, cost)
        sent += [now] * cost
    return sent


def most_in_any_window(times: list[float], window: float) -> int:
    return max(sum(1 for other in times[index:] if other < at + window) for index, at in enumerate(times))


def test_dingtalk_never_gets_21_requests_within_60_s_plus_the_2_s_margin():
    limiter = RateLimiter(20, 60)
    assert limiter.window == 62.0
    # 100 messages at once, the last ten of them ends (which may use the headroom).
    times = burst(limiter, [(0.0, 1, index >= 90) for index in range(100)])
    assert most_in_any_window(times, 62.0) == 20
    # The 21st request goes 62 s after the first, not 60.
    assert times[20] - times[0] >= 62.0


@pytest.mark.parametrize("name", sorted(n for n, s in load_channels().items() if s.limits.get("rate")))
def test_no_rate_limited_channel_gets_count_plus_one_in_window_plus_margin(name):
    rate = load_channels()[name].limits["rate"]
    limiter = RateLimiter.for_limits(rate)
    count, per = int(rate["count"]), float(rate["per_seconds"])
    shuffled = random.Random(name)
    # A burst: messages of 1-3 requests (a split message; never more than a window holds), a few of them
    # ends, arriving faster than the limit allows.
    messages, at = [], 0.0
    for _ in range(min(3 * count, 300)):
        at += shuffled.random() * per / count / 4
        cost = min(shuffled.choice([1, 1, 1, 2, 3]), limiter.capacity(False))
        messages.append((at, cost, shuffled.random() < 0.1))
    times = burst(limiter, messages)
    assert most_in_any_window(times, per + margin(per)) <= count
    interval = float(rate.get("min_interval_seconds", 0))
    if interval:
        gaps = [b - a for a, b in zip(times, times[1:], strict=False) if b != a]
        assert min(gaps) >= interval + margin(interval) - 1e-9


def test_the_margin_is_two_seconds_or_a_tenth_of_a_short_window():
    assert margin(60) == 2.0 and margin(86400) == 2.0
    assert margin(1) == pytest.approx(0.1) and margin(0.2) == pytest.approx(0.02)
    paced = RateLimiter(20, 60, 1.0)
    paced.record(100.0, 1)
    assert paced.wait(100.25, 1, terminal=True) == pytest.approx(0.85)  # 1 s + 0.1 s margin


def test_headroom_still_lets_an_end_through_at_once():
    limiter = RateLimiter(20, 60)
    for second in range(20 - headroom(20)):
        limiter.record(float(second), 1)
    assert limiter.wait(18.0, 1, terminal=False) == pytest.approx(62.0 - 18.0)
    assert limiter.wait(18.0, 1, terminal=True) == 0
