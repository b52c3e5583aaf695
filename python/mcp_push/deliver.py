"""Delivers one channel's planned requests and reads the outcome from the vendor's replies."""

from __future__ import annotations

import logging
import time

from . import result as R
from . import retry
from .config import request_variables
from .paths import resolve_path
from .planner import ChannelPlan, PlannedRequest, render_request
from .retry import Pace, RetryPolicy, next_delay, retryable_status
from .specs import load_settings
from .success import evaluate, parse_json, rule_holds, vendor_message
from .templates import render
from .tokens import TOKENS
from .transports import Reply, TransportError, transport_for
from .wire import seconds_text

log = logging.getLogger("mcp_push")

# Longest error text in a result; cut only after secrets are masked.
MAX_ERROR_CHARS = 300
# How the transports begin the error of a request they could not even send (then naming the library's
# exception, which _blame replaces with the variables to check).
CANNOT_SEND = "the request cannot be sent as configured"


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
    names = request_variables(plan.spec, plan.context.get("env", {}))
    return f"{CANNOT_SEND}: check {', '.join(names)}" if names else CANNOT_SEND


class _Delivery:
    def __init__(self, plan: ChannelPlan, timeout: float, pace: Pace | None = None):
        self.plan = plan
        self.timeout = timeout
        self.send = transport_for(plan.spec.transport)
        self.policy = RetryPolicy.for_spec(plan.spec)
        self.pace = pace or retry.PACE
        # The retry deadline covers the whole send, every target and part, not each request.
        self.started = self.pace.monotonic()

    @property
    def attempts(self) -> int:
        return self.plan.attempts

    def try_once(self, request: PlannedRequest, success: dict) -> Reply:
        self.plan.attempts += 1
        try:
            reply = self.send(request, self.timeout)
        except TransportError as exc:
            # A reply lost after the request was written is retried only under an idempotency key.
            retryable = exc.retryable or (exc.maybe_delivered and self.policy.idempotent)
            raise _Failed(exc.kind, _blame(self.plan, exc), retryable=retryable) from exc
        ok, why = evaluate(success, reply.status, reply.text)
        if not ok:
            said = vendor_message(reply.text, _error_paths(self.plan))
            retryable = retryable_status(self.plan.spec.transport, reply.status)
            raise _Failed(
                R.REJECTED, f"{why}: {said}" if said else why, reply.status, reply.text, retryable, reply
            )
        if request.step == "send":
            self.plan.reply_texts.append(reply.text)
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
                    self.plan.spec.display_name, self.plan.redactor.text(failed.error)[:200], seconds_text(delay),
                )
                noted = getattr(pace, "retrying", None)
                if noted is not None:  # the MCP server's engine reports `retrying` with this error meanwhile
                    noted(self.plan.redactor.text(failed.error))
                pace.sleep(delay)

    def fetch_token(self, refresh: bool = False) -> str:
        spec, context = self.plan.spec, self.plan.context
        cache_key = render(spec.token["cache_key"], context)
        if refresh:
            TOKENS.drop(cache_key)
        token = TOKENS.get(cache_key)
        if token:
            return token
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
        self.plan.redactor.add([token])
        TOKENS.put(cache_key, token, ttl)
        return token

    def requests_with(self, token: str | None) -> list[PlannedRequest]:
        if token is None:
            return self.plan.requests
        return [
            request
            for context in self.plan.part_contexts
            for request in render_request(
                self.plan.spec, self.plan.request_template or self.plan.spec.request, {**context, "token": token}
            )
        ]

    def send_one(self, index: int, request: PlannedRequest, token: str | None) -> int:
        spec = self.plan.spec
        refresh_rule = (spec.token or {}).get("refresh_on")
        try:
            return self.call(request, self.plan.success or spec.success).status
        except _Failed as failed:
            stale = (
                refresh_rule is not None
                and failed.reply_text is not None
                and rule_holds(parse_json(failed.reply_text), refresh_rule)
            )
            if not stale:
                raise
            # The cached token was revoked early: fetch a fresh one and try this request once more.
            token = self.fetch_token(refresh=True)
            return self.call(self.requests_with(token)[index], self.plan.success or spec.success).status

    def run(self) -> int | None:
        token = self.fetch_token() if self.plan.spec.token else None
        requests = self.requests_with(token)
        last_status, failures = None, []
        parts = len(self.plan.part_contexts)
        # Every target and part gets its message even when an earlier one failed (Chronocat's several QQ ids).
        for index, request in enumerate(requests):
            part = self.plan.request_parts[index] if index < len(self.plan.request_parts) else 0
            self.plan.parts_sent = max(self.plan.parts_sent, part + 1)
            try:
                last_status = self.send_one(index, request, token)
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


def deliver(plan: ChannelPlan, timeout: float, pace: Pace | None = None) -> R.ChannelResult:
    """Runs one channel to completion; every failure becomes a result, never an exception."""
    started = time.monotonic()
    name = plan.spec.name
    def redact(text: str) -> str:
        masked = plan.redactor.text(text)
        return masked if len(masked) <= MAX_ERROR_CHARS else masked[: MAX_ERROR_CHARS - 1] + "…"

    delivery = _Delivery(plan, timeout, pace)
    try:
        if plan.error:
            raise _Failed(plan.error_status, plan.error)
        http_status = delivery.run()
        result = R.ChannelResult(name, True, R.DELIVERED, None, delivery.attempts, 0, http_status)
    except _Failed as failed:
        result = R.ChannelResult(
            name, False, failed.status, redact(failed.error), delivery.attempts, 0, failed.http_status
        )
    except Exception as exc:  # a bug in a hook or spec must not take other channels down
        log.debug("channel %s raised", name, exc_info=False)
        result = R.ChannelResult(
            name, False, R.INTERNAL_ERROR, redact(f"{type(exc).__name__}: {exc}"), delivery.attempts
        )
    result.parts, result.truncated = plan.parts_sent, plan.truncated
    result.elapsed_ms = round((time.monotonic() - started) * 1000)
    if result.ok:
        log.info("%s: delivered (%d ms%s)", plan.spec.display_name, result.elapsed_ms, shape_note(result))
    else:
        log.warning("%s: %s: %s", plan.spec.display_name, result.status, result.error)
    return result
