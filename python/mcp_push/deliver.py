"""Sends one channel's plan (`send_plan`) and reads the outcome from the vendor's replies: retries, the
token fetch and its substitution into the planned requests. The plan is never changed: what happened is
the Outcome. js/src/deliver.js is the same."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from . import result as R
from . import retry
from .config import request_variables
from .paths import resolve_path
from .planner import ChannelPlan, PlannedRequest, with_token
from .retry import Pace, RetryPolicy, next_delay
from .specs import load_settings
from .success import evaluate, parse_json, rule_holds, vendor_message
from .tokens import TOKENS
from .transports import Reply, TransportError
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
    for a hung send still reports."""

    def __init__(self) -> None:
        self.attempts = 0
        self.parts = 0


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
        # The retry deadline covers the whole send, every target and part, not each request.
        self.started = self.pace.monotonic()

    def try_once(self, request: PlannedRequest, success: dict) -> Reply:
        self.progress.attempts += 1
        try:
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
        if request.step == "send":
            self.replies.append(reply.text)
        return reply

    def call(self, request: PlannedRequest, success: dict) -> Reply:
        """One request, tried again on failures that say "later", within the policy's bounds."""
        policy, pace = self.policy, self.pace
        tries = 0
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
            reply = self.call(self.plan.token_request, spec.token["success"])
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

    def send_one(self, request: PlannedRequest) -> int:
        """One planned request, with the token put in; a token the vendor calls stale is fetched anew and
        the request tried once more (the requests after it get the new one)."""
        refresh_rule = (self.plan.spec.token or {}).get("refresh_on")
        try:
            return self.call(self._ready(request), self.plan.success).status
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
            return self.call(self._ready(request), self.plan.success).status

    def _ready(self, request: PlannedRequest) -> PlannedRequest:
        return request if self.token is None else with_token(request, self.token)

    def run(self) -> int | None:
        if self.plan.spec.token:
            self.fetch_token()
        requests = self.plan.requests
        last_status, failures = None, []
        parts = self.plan.parts
        # Every target and part gets its message even when an earlier one failed (Chronocat's several QQ ids).
        for index, request in enumerate(requests):
            part = self.plan.request_parts[index]
            self.progress.parts = max(self.progress.parts, part + 1)
            try:
                last_status = self.send_one(request)
            except _Failed as failed:
                failures.append((part, failed))
        if failures:
            part, first = failures[0]
            failed_of = f"{len(failures)} of {len(requests)}"
            if parts > 1:
                first.error = f"{failed_of} requests failed; first, part {part + 1}/{parts}: {first.error}"
            elif len(requests) > 1:
                first.error = f"{failed_of} targets failed; first: {first.error}"
            raise first
        return last_status


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
    started = time.monotonic()
    name = plan.spec.name
    progress = progress or Progress()
    sending = _Sending(plan, timeout, pace, progress, attempts)

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
