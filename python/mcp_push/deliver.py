"""Sends one channel's plan (`send_plan`) and reads the outcome from the vendor's replies: retries, the
token fetch and its substitution into the planned requests. The plan is never changed: what happened is
the Outcome. js/src/deliver.js is the same."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import result as R
from . import retry
from .config import request_variables
from .paths import resolve_path
from .planner import ChannelPlan, PlannedRequest, with_token
from .retry import Pace, RetryPolicy, next_delay
from .specs import load_settings
from .success import evaluate, parse_json, rule_holds, vendor_message
from .tokens import TOKENS
from .transports import Reply, TransportError, on_the_wire
from .wire import seconds_text

log = logging.getLogger("mcp_push")

# Longest error text in a result; cut only after secrets are masked.
MAX_ERROR_CHARS = 300
# How the transports begin the error of a request they could not even send (then naming the library's
# exception, which _blame replaces with the variables to check).
CANNOT_SEND = "the request cannot be sent as configured"


@dataclass(frozen=True)
class Outcome:
    """What sending one plan came to: the channel's result, and the bodies of the vendor's successful
    replies to the plan's send steps, in order (the first post's reply names the message to edit)."""

    plan: ChannelPlan
    result: R.ChannelResult
    replies: tuple[str, ...] = ()

    @property
    def attempts(self) -> int:
        return self.result.attempts


class Progress:
    """Requests made and parts started so far, counted as they happen: what a caller that stops waiting
    for a hung send still reports. `on_wire`, when given, is called each time a request of the send is
    written (a transport that tells: transports.on_the_wire)."""

    def __init__(self, on_wire: Callable[[], None] | None = None) -> None:
        self.attempts = 0
        self.parts = 0
        self.on_wire = on_wire


class _Failed(Exception):
    def __init__(
        self, status: str, error: str, http_status: int | None = None, reply_text: str | None = None,
        retryable: bool = False, reply: Reply | None = None,
    ):
        super().__init__(error)
        self.status, self.error, self.http_status = status, error, http_status
        self.reply_text = reply_text
        self.retryable, self.reply = retryable, reply


def _error_paths(plan: ChannelPlan) -> tuple[str, ...]:
    return plan.spec.error_paths or tuple(load_settings()["error_paths"])


def _blame(plan: ChannelPlan, exc: TransportError) -> str:
    """A request the transport could not even send is the configuration's fault: name the variables it
    was built from (config.request_variables), never the library's exception."""
    if exc.kind != R.CONFIG_ERROR or not str(exc).startswith(CANNOT_SEND):
        return str(exc)
    names = request_variables(plan.spec, plan.env)
    return f"{CANNOT_SEND}: check {', '.join(names)}" if names else CANNOT_SEND


class _Sending:
    """One send of a plan: its tries, the token it fetched, the replies it had."""

    def __init__(self, plan: ChannelPlan, timeout: float, pace: Pace | None, progress: Progress,
                 attempts: int | None = None):
        self.plan = plan
        self.timeout = timeout
        self.policy = RetryPolicy.for_spec(plan.spec, attempts)
        self.pace = pace or retry.PACE
        self.progress = progress
        # The plan's redactor, and the token once fetched (the plan's own is shared and left as it is).
        self.redactor = plan.redactor
        self.token: str | None = None
        self.replies: list[str] = []
        self.counting = threading.Lock()
        # A send the MCP server rescheduled and now goes on with (service/pg: a long retry wait is a job's
        # reschedule, not a sleep) resumes its tries and its deadline, as if it had slept the wait through.
        resumed = getattr(self.pace, "resumed", None)
        self.carried, self.resumed_seconds = resumed() if resumed is not None else (0, 0.0)
        progress.attempts += self.carried
        # The retry deadline covers the whole send, every target and part, not each request.
        self.started = self.pace.monotonic() - self.resumed_seconds

    def try_once(self, request: PlannedRequest, success: dict) -> Reply:
        with self.counting:  # targets go out from several threads at once
            self.progress.attempts += 1
        try:
            if self.progress.on_wire is None:
                reply = self.plan.transport.send(request, self.timeout)
            else:
                with on_the_wire(self.progress.on_wire):
                    reply = self.plan.transport.send(request, self.timeout)
        except TransportError as exc:
            # A reply lost after the request was written is retried only under an idempotency key.
            retryable = exc.retryable or (exc.maybe_delivered and self.policy.idempotent)
            raise _Failed(exc.kind, _blame(self.plan, exc), retryable=retryable) from exc
        ok, why = evaluate(success, reply.status, reply.text)
        if not ok:
            said = vendor_message(reply.text, _error_paths(self.plan))
            retryable = self.plan.transport.retryable(reply.status)
            raise _Failed(
                R.REJECTED, f"{why}: {said}" if said else why, reply.status, reply.text, retryable, reply
            )
        return reply

    def call(self, request: PlannedRequest, success: dict, resumes: bool = True) -> Reply:
        """One request, tried again on failures that say "later", within the policy's bounds. `resumes`: a
        resumed send's tries are this request's (the message's, not a token's fetch: the next run of a
        rescheduled job fetches one again where no token is cached, another replica's)."""
        policy, pace = self.policy, self.pace
        tries = 0
        if resumes:
            tries, self.carried = self.carried, 0
        while True:
            tries += 1
            try:
                return self.try_once(request, success)
            except _Failed as failed:
                if not failed.retryable or tries >= policy.attempts:
                    if failed.retryable:
                        failed.error += f" (after {tries} tries)"
                    raise
                delay = next_delay(policy, tries, failed.reply, pace)
                if pace.monotonic() - self.started + delay > policy.deadline_seconds:
                    failed.error += (
                        f" (not retried: waiting {seconds_text(delay)} s"
                        f" would pass the {seconds_text(policy.deadline_seconds)} s deadline)"
                    )
                    raise
                log.info(
                    "%s: %s; trying again in %s s",
                    self.plan.spec.display_name, self.redactor.text(failed.error)[:200], seconds_text(delay),
                )
                noted = getattr(pace, "retrying", None)
                if noted is not None:  # the MCP server's engine reports `retrying` with this error meanwhile
                    noted(self.redactor.text(failed.error))
                pace.sleep(delay)

    def fetch_token(self, refresh: bool = False) -> str:
        spec, cache_key = self.plan.spec, self.plan.token_key or ""
        if refresh:
            TOKENS.drop(cache_key)
        token = TOKENS.get(cache_key)
        if not token:
            reply = self.call(self.plan.token_request, spec.token["success"], resumes=False)
            data = parse_json(reply.text)
            try:
                token = str(resolve_path(data, spec.token["value"]))
            except (KeyError, TypeError) as exc:
                raise _Failed(R.REJECTED, f"token reply has no {spec.token['value']}", reply.status) from exc
            ttl = spec.token.get("default_ttl", 3600)
            if spec.token.get("expires_in"):
                try:
                    ttl = float(resolve_path(data, spec.token["expires_in"]))
                except (KeyError, TypeError, ValueError):
                    pass
            TOKENS.put(cache_key, token, ttl)
        self.redactor = self.redactor.extended([token])
        self.token = token
        return token

    def send_one(self, request: PlannedRequest) -> Reply:
        """One planned request, with the token put in; a token the vendor calls stale is fetched anew and
        the request tried once more (the requests after it get the new one)."""
        refresh_rule = (self.plan.spec.token or {}).get("refresh_on")
        try:
            return self.call(self._ready(request), self.plan.success)
        except _Failed as failed:
            stale = (
                refresh_rule is not None
                and failed.reply_text is not None
                and rule_holds(parse_json(failed.reply_text), refresh_rule)
            )
            if not stale:
                raise
            # The cached token was revoked early: fetch a fresh one and try this request once more.
            self.fetch_token(refresh=True)
            return self.call(self._ready(request), self.plan.success)

    def _ready(self, request: PlannedRequest) -> PlannedRequest:
        return request if self.token is None else with_token(request, self.token)

    def run(self) -> int | None:
        if self.plan.spec.token:
            self.fetch_token()
        requests = self.plan.requests
        parts = self.plan.parts
        done: list[Reply | _Failed | None] = [None] * len(requests)
        # Every target and part gets its message even when an earlier one failed (Chronocat's several QQ
        # ids). Parts go in order; the targets of one part at once (_send_targets).
        start = 0
        while start < len(requests):
            part = self.plan.request_parts[start]
            end = start
            while end < len(requests) and self.plan.request_parts[end] == part:
                end += 1
            self.progress.parts = max(self.progress.parts, part + 1)
            self._send_targets(range(start, end), done)
            start = end
        # Read in planned order, whatever order the replies came in: the same result as one at a time.
        failures = [(self.plan.request_parts[i], d) for i, d in enumerate(done) if isinstance(d, _Failed)]
        replies = [d for d, r in zip(done, requests, strict=True) if isinstance(d, Reply) and r.step == "send"]
        self.replies.extend(reply.text for reply in replies)
        if failures:
            part, first = failures[0]
            failed_of = f"{len(failures)} of {len(requests)}"
            if parts > 1:
                first.error = f"{failed_of} requests failed; first, part {part + 1}/{parts}: {first.error}"
            elif len(requests) > 1:
                first.error = f"{failed_of} targets failed; first: {first.error}"
            raise first
        sent = [d for d in done if isinstance(d, Reply)]
        return sent[-1].status if sent else None

    def _send_targets(self, indices: range, done: list[Any]) -> None:
        """Sends the requests `indices` (the targets of one part), up to the pace's `at_once` of them at a
        time, started in planned order and within the spec's `limits.rate` (_Starts). Each has its own
        timeout, so a target that never answers holds one place only. A spec with a token sends one at a
        time: a token the vendor calls stale is fetched anew for the requests after it."""
        rate = (self.plan.spec.limits or {}).get("rate")
        width = min(len(indices), getattr(self.pace, "at_once", 1), rate["count"] if rate else len(indices))
        if width <= 1 or self.plan.spec.token:
            for index in indices:
                done[index] = self._outcome_of(index)
            return
        todo, turn, starts = iter(indices), threading.Lock(), _Starts(rate)
        bugs: dict[int, BaseException] = {}

        def work() -> None:
            while True:
                with turn:  # one start at a time, in planned order, each waiting its turn under the rate
                    index = next(todo, None)
                    if index is None:
                        return
                    starts.wait()
                try:
                    done[index] = self._outcome_of(index)
                except Exception as exc:  # a bug: raised in the caller's thread below, as one at a time would
                    bugs[index] = exc

        threads = [threading.Thread(target=work, name="mcp-push-target", daemon=True) for _ in range(width)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if bugs:
            raise bugs[min(bugs)]

    def _outcome_of(self, index: int) -> Reply | _Failed:
        try:
            return self.send_one(self.plan.requests[index])
        except _Failed as failed:
            return failed


class _Starts:
    """The starts of one send's concurrent requests, held to the spec's `limits.rate`: at most `count` in
    any `per_seconds` window and `min_interval_seconds` apart, with the margin the MCP server's lanes
    count (spec/README.md, "Rate limits": S + min(2, S / 10)). Only the library's own concurrency is
    paced here: requests one after another are sent as they always were."""

    def __init__(self, rate: dict | None):
        self.rate = rate
        self.times: list[float] = []

    def wait(self) -> None:
        if self.rate:
            delay = next_start(self.times, time.monotonic(), self.rate)
            if delay > 0:
                time.sleep(delay)
            self.times.append(time.monotonic())


def _margin(seconds: float) -> float:
    return seconds + min(2.0, seconds / 10)


def next_start(starts: list[float], now: float, rate: dict) -> float:
    """Seconds from `now` until one more request may start, given the earlier `starts` (oldest first)."""
    waits = [0.0]
    if starts and rate.get("min_interval_seconds"):
        waits.append(starts[-1] + _margin(rate["min_interval_seconds"]) - now)
    if len(starts) >= rate["count"]:
        waits.append(starts[-rate["count"]] + _margin(rate["per_seconds"]) - now)
    return max(waits)


def shape_note(result: R.ChannelResult) -> str:
    """', 3 parts', ', truncated' or both, for the log line of a long message."""
    note = f", {result.parts} parts" if result.parts > 1 else ""
    return note + (", truncated" if result.truncated else "")


def send_plan(
    plan: ChannelPlan, timeout: float, pace: Pace | None = None, progress: Progress | None = None,
    attempts: int | None = None,
) -> Outcome:
    """Sends one channel's plan to completion; every failure becomes a result, never an exception.
    `progress` (the caller's) counts requests and parts as they happen; `attempts` is
    MCP_PUSH_RETRY_ATTEMPTS (retry.attempts_override), None for the policy as written."""
    name = plan.spec.name
    progress = progress or Progress()
    sending = _Sending(plan, timeout, pace, progress, attempts)
    started = time.monotonic() - sending.resumed_seconds

    def redact(text: str) -> str:
        masked = sending.redactor.text(text)
        return masked if len(masked) <= MAX_ERROR_CHARS else masked[: MAX_ERROR_CHARS - 1] + "…"

    try:
        if plan.error:
            raise _Failed(plan.error_status, plan.error)
        http_status = sending.run()
        result = R.ChannelResult(name, True, R.DELIVERED, None, progress.attempts, 0, http_status)
    except _Failed as failed:
        result = R.ChannelResult(
            name, False, failed.status, redact(failed.error), progress.attempts, 0, failed.http_status
        )
    except Exception as exc:  # a bug in a hook or spec must not take other channels down
        log.debug("channel %s raised", name, exc_info=False)
        result = R.ChannelResult(
            name, False, R.INTERNAL_ERROR, redact(f"{type(exc).__name__}: {exc}"), progress.attempts
        )
    result.parts, result.truncated = progress.parts, plan.truncated
    result.elapsed_ms = round((time.monotonic() - started) * 1000)
    if result.ok:
        log.info("%s: delivered (%d ms%s)", plan.spec.display_name, result.elapsed_ms, shape_note(result))
    else:
        log.warning("%s: %s: %s", plan.spec.display_name, result.status, result.error)
    return Outcome(plan, result, tuple(sending.replies))
