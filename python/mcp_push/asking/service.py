"""Asking: a question sent through the delivery engine, answers gathered from every channel that can take
one, the first answer kept, the other copies told.

    service = AskService(source, engine)             # the engine its owner runs (lifecycle.running_engine)
    started = service.start("Deploy?", ["yes", "no"], timeout_s=120)
    ask = service.wait(started.ask.id)               # answered, or timed out

The question goes to each channel as that channel can show it (render.py) with engine.submit, one channel
at a time (its own content and params). While a question of this process is pending, the channels' answer
receivers run (Telegram long polling, the ntfy reply topic's stream, Matrix /sync); link answers arrive
through the HTTP server's /v1/answer page, possibly in another process on the same state folder, so the
watcher reads the store. When the question is settled, every other copy gets a follow-up ("answered 'yes'
by @alice via Telegram bot"), or the time-out's.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..config import agent_defaults, setting, strip_space
from ..events import schema_checker
from ..selection import channel_names, channels_error, configured_channels
from ..service.backend import BackendUnavailable
from ..specs import load_channels
from . import render as R
from .store import ACCEPTED, DONE, PENDING, TIMED_OUT, Ask, AskStore, Outcome, SqliteAskStore

log = logging.getLogger("mcp_push.ask")

PUBLIC_URL_VAR = "MCP_PUSH_PUBLIC_URL"
DEFAULT_TIMEOUT = 300.0
POLL_SECONDS = 0.2  # how often the watcher reads the store (answers from other processes)
SEND_WAIT_SECONDS = 10.0  # how long start() waits for the copies' delivery results (then: queued)

ASK_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "question": {"type": "string", "minLength": 1, "maxLength": 2000,
                     "description": "The question, e.g. 'Deploy build 142 to production?'"},
        "options": {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 64},
                    "minItems": 2, "maxItems": 5,
                    "description": "2 to 5 short answers, shown as buttons; omit for a free-text answer "
                                   "(Telegram, Matrix and answer links take one)"},
        "timeout_s": {"type": "number", "minimum": 1, "maximum": 86400, "default": DEFAULT_TIMEOUT,
                      "description": "Seconds to wait for an answer (default 300)"},
        "default": {"type": "string", "minLength": 1,
                    "description": "The option to return when nobody answers in time; omit to get timed_out"},
        "run_id": {"type": "string", "minLength": 1, "maxLength": 200,
                   "description": "The run this question belongs to (shown in the audit log)"},
        "channels": {"type": "array", "items": {"type": "string"}, "minItems": 1,
                     "description": "Only these configured channels; omit for all of them"},
        "wait": {"type": "boolean", "default": True,
                 "description": "Block until the answer or the timeout (progress is reported while "
                                "waiting); false returns an ask_id at once, for notify_answer"},
    },
    "required": ["question"],
}
_CHECK = schema_checker(ASK_SCHEMA)


class AskRefused(ValueError):
    """A question refused before anything was sent: '<field>: <rule>'."""


def ask_problem(arguments: Mapping[str, Any], source: Mapping[str, Any] | None = None) -> str | None:
    """The first '<field>: <rule>' problem of a question's arguments (the same words in MCP, Python and
    the CLI), or None. Nulls stand for omitted arguments."""
    given = {k: v for k, v in arguments.items() if v is not None}
    problems = _CHECK(given)
    if problems:
        name, rule = problems[0]
        return f"{name}: {rule}"
    options = given.get("options")
    if options is not None and len({o.strip().lower() for o in options}) != len(options):
        return "options: must differ from each other"
    if "default" in given and options is not None and given["default"] not in options:
        return "default: must be one of the options"
    if source is not None and "channels" in given:
        names = channel_names(given["channels"])
        problem = channels_error(source, names) if names else "must name at least one channel"
        if problem:
            return f"channels: {problem}"
    return None


@dataclass
class Sent:
    """One channel's copy of the question: the engine's delivery status, whether it can answer."""

    channel: str
    status: str
    answerable: bool
    note: str | None = None
    error: str | None = None


@dataclass
class Started:
    ask: Ask
    sent: list[Sent] = field(default_factory=list)

    @property
    def delivered(self) -> bool:
        return any(s.status in ("delivered", "queued", "retrying") for s in self.sent)


def result_of(ask: Ask) -> dict[str, Any]:
    """The answer as the tools and the CLI return it: {answer, by, channel, at} once answered, {timed_out:
    true} (with the default as `answer` when there is one), or {pending: true}."""
    at = _iso(ask.at) if ask.at is not None else None
    if ask.status == DONE:
        return {"ask_id": ask.id, "answer": ask.answer, "by": ask.by, "channel": ask.channel, "at": at}
    if ask.status == TIMED_OUT:
        out: dict[str, Any] = {"ask_id": ask.id, "timed_out": True}
        if ask.default is not None:
            out.update(answer=ask.default, by="default", channel=None, at=None)
        return out
    return {"ask_id": ask.id, "pending": True}


def _iso(at: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))


def display_name(channel: str) -> str:
    spec = load_channels().get(channel)
    return spec.display_name if spec else channel


def public_url(source: Mapping[str, Any]) -> str:
    return strip_space(setting(PUBLIC_URL_VAR, source)).rstrip("/")


def open_store(source: Mapping[str, Any], engine: Any = None) -> AskStore:
    """The store of the engine's backend when it has one (PostgreSQL: every replica's questions), else the
    one in the state folder (beside the outbox), or in memory with MCP_PUSH_OUTBOX=false."""
    from ..service.outbox import outbox_enabled, state_dir

    shared = getattr(getattr(engine, "outbox", None), "asks", None)  # backend.Backend's `asks` slot
    if shared is not None:
        return shared
    return SqliteAskStore(state_dir(source) if outbox_enabled(source) else None)


class AskService:
    """Questions of one process: sent through `engine`, answers gathered while they are pending."""

    def __init__(self, source: Mapping[str, Any], engine: Any, store: AskStore | None = None,
                 clock: Callable[[], float] = time.time):
        self.source = agent_defaults(source)
        self.engine = engine
        self.store = store if store is not None else open_store(self.source, engine)
        self.clock = clock
        self._lock = threading.Lock()
        self._live: dict[str, threading.Event] = {}  # this process's pending questions -> settled
        self._wake: dict[str, threading.Event] = {}
        self._receivers: dict[str, Any] = {}  # channel -> its running receiver
        self._withdrawn: set[str] = set()  # questions that reached nobody: no follow-up
        self.redactor: Any = None

    # --- asking ---

    def start(self, question: str, options: list[str] | None = None, timeout_s: float = DEFAULT_TIMEOUT,
              default: str | None = None, run_id: str | None = None,
              channels: Iterable[str] | None = None) -> Started:
        """Sends the question; AskRefused ('<field>: <rule>') before anything is sent when it cannot go."""
        arguments = {"question": question, "options": options, "timeout_s": timeout_s, "default": default,
                     "run_id": run_id, "channels": None if channels is None else list(channels)}
        source = self.source
        problem = ask_problem(arguments, source)
        if problem:
            raise AskRefused(problem)
        from ..service.outcome import SecretRedactor

        redactor = SecretRedactor(source)
        selected = [n.lower() for n in channel_names(channels)] if channels is not None else None
        targets = [spec.name for spec, _ in configured_channels(source, selected)]
        base = public_url(source)
        answering = [c for c in targets if c in R.BUTTON_CHANNELS or base]
        if not targets:
            raise AskRefused("channels: no channel is configured")
        if not answering:
            raise AskRefused("channels: none of them can take an answer: configure Telegram, ntfy or Matrix, "
                             f"or set {PUBLIC_URL_VAR} for answer links")
        now = self.clock()
        ask = Ask(id=secrets.token_hex(8), question=redactor.text(question), options=list(options or []),
                  created=now, expires=now + float(timeout_s), default=default, run_id=run_id,
                  channels=targets, reply_topic=("mcp-push-" + secrets.token_urlsafe(18)) if "ntfy" in targets else "")
        ntfy_base = _ntfy_base(source) if "ntfy" in targets else ""
        answer_on = [display_name(c) for c in targets if c in R.BUTTON_CHANNELS]
        if base:
            answer_on.append("the answer links")
        copies = [R.render(ask, channel, base, answer_on, ntfy_base) for channel in targets]
        try:
            self.store.create(ask, [t for copy in copies for t in copy.tokens])
            self.store.audit("asked", ask)
        except BackendUnavailable as exc:  # PostgreSQL away: nothing was asked ("database: …; try again")
            raise AskRefused(str(exc)) from None
        settled = threading.Event()
        with self._lock:
            self._live[ask.id] = settled
            self._wake[ask.id] = threading.Event()
        # Receivers first: an answer may come the moment the question arrives.
        self._start_receivers(ask)
        sent = []
        for copy in copies:
            ticket = self.engine.submit(R.title_of(ask), copy.content, kind="message", run_id=run_id,
                                        channels=[copy.channel], params=copy.params)
            sent.append((copy, ticket))
        started = Started(ask)
        deadline = time.monotonic() + SEND_WAIT_SECONDS
        for copy, ticket in sent:
            ticket.wait(max(deadline - time.monotonic(), 0))
            status, error = _first_result(ticket)
            started.sent.append(Sent(copy.channel, status, copy.answerable, copy.note,
                                     redactor.text(error) if error else None))
        threading.Thread(target=self._watch, args=(ask.id,), name=f"mcp-push-ask-{ask.code}", daemon=True).start()
        return started

    def withdraw(self, ask_id: str) -> None:
        """A question that reached no channel: closed now (timed out), not waited for."""
        self._withdrawn.add(ask_id)
        ask = self.store.expire(ask_id, self.clock())
        if ask is not None:
            self.store.audit("withdrawn", ask, reason="the question reached no channel")
        wake = self._wake.get(ask_id)
        if wake is not None:
            wake.set()

    # --- answers from the receivers and the answer page ---

    def record(self, ask_id: str, answer: str, by: str, channel: str, token: str | None = None) -> Outcome:
        """An answer from a channel; the first one wins. Audited whatever comes of it."""
        outcome = self.store.answer(ask_id, answer, by, channel, self.clock(), token)
        ask = outcome.ask
        if ask is not None:
            if outcome.status == ACCEPTED:
                self.store.audit("answered", ask, answer=answer, by=by, channel=channel)
            else:
                self.store.audit("refused", ask, answer=answer, by=by, channel=channel, reason=outcome.status)
        wake = self._wake.get(ask_id)
        if wake is not None:
            wake.set()
        return outcome

    # --- waiting ---

    def settled(self, ask_id: str) -> threading.Event | None:
        return self._live.get(ask_id)

    def wait(self, ask_id: str, timeout: float | None = None) -> Ask | None:
        """Blocks until the question is settled (answered or timed out) or `timeout` passes; the question."""
        event = self._live.get(ask_id)
        if event is not None:
            event.wait(timeout)
        return self.store.get(ask_id)

    def _watch(self, ask_id: str) -> None:
        """Until the question is settled: reads the store (answers from other processes), times it out at
        its deadline; then the follow-ups, and the receivers stop when nothing of theirs is pending."""
        wake = self._wake[ask_id]
        ask = self.store.get(ask_id)
        try:
            while ask is not None and ask.status == PENDING:
                left = ask.expires - self.clock()
                if left <= 0:
                    ask = self.store.expire(ask_id, self.clock())
                    if ask is not None and ask.status == TIMED_OUT:
                        self.store.audit("timed_out", ask, default=ask.default)
                    break
                wake.wait(min(POLL_SECONDS, left))
                wake.clear()
                ask = self.store.get(ask_id)
            if ask is not None:
                self._follow_up(ask)
        except Exception:
            log.exception("ask: watching question %s failed", ask_id)
        finally:
            with self._lock:
                event = self._live.pop(ask_id, None)
                self._wake.pop(ask_id, None)
            if event is not None:
                event.set()

    def _follow_up(self, ask: Ask) -> None:
        if ask.id in self._withdrawn:
            return
        if ask.status == DONE:
            # Telegram's own copy was edited to show the answer; every other copy is told.
            others = [c for c in ask.channels if not (c == "telegram" and ask.channel == "telegram")]
            text = (f"Answered '{ask.answer}' by {ask.by} via {display_name(ask.channel or '')}.\n\n"
                    f"{ask.question}")
            title = f"Answered #{ask.code}"
        elif ask.status == TIMED_OUT:
            others = list(ask.channels)
            used = f" '{ask.default}' was used." if ask.default is not None else ""
            text, title = f"No answer in time.{used}\n\n{ask.question}", f"Timed out #{ask.code}"
        else:
            return
        if others:
            try:
                self.engine.submit(title, text, run_id=ask.run_id, channels=others)
            except Exception:
                log.exception("ask: the follow-up of question %s was not sent", ask.id)

    # --- receivers ---

    def live_asks(self) -> list[str]:
        with self._lock:
            return list(self._live)

    def _start_receivers(self, ask: Ask) -> None:
        from .receivers import receiver_for

        for channel in ask.channels:
            with self._lock:
                receiver = self._receivers.get(channel)
                if receiver is None:
                    receiver = receiver_for(channel, self)
                    if receiver is None:
                        continue
                    self._receivers[channel] = receiver
            receiver.add(ask)

    def redactor_text(self, text: str) -> str:
        from ..service.outcome import SecretRedactor

        if self.redactor is None:
            self.redactor = SecretRedactor(self.source)
        return self.redactor.text(text)

    def display(self, channel: str | None) -> str:
        return display_name(channel or "")

    def audit_stranger(self, channel: str, by: str, where: str) -> None:
        """An answer from someone who may not answer: ignored, and written down."""
        self.store.audit("ignored", None, channel=channel, by=by, where=where, reason="not an allowed sender")

    def close(self) -> None:
        for receiver in list(self._receivers.values()):
            receiver.stop()


def _ntfy_base(source: Mapping[str, Any]) -> str:
    from ..config import channel_env

    spec = load_channels()["ntfy"]
    return channel_env(spec, source).get("NTFY_URL", "").rstrip("/")


def _first_result(ticket: Any) -> tuple[str, str | None]:
    """The engine's status of a one-channel ticket now (queued while its lane still has it)."""
    channels = list(ticket.result())
    if not channels:
        return "skipped", ticket.skipped
    return channels[0].status, channels[0].error
