"""Celery tasks as runs (docs/INTEGRATIONS.md, "Celery"): `connect(app)` maps a task's signals to the events
of one run per task: task_prerun -> start (opt-in), task_retry -> update, task_success -> end (with the
duration), task_failure -> error (the exception's type and message). Events are sent by a thread of each
worker process, in order, so a slow or hung vendor never holds up a task. Needs `pip install mcp-push[celery]`."""

from __future__ import annotations

import fnmatch
import logging
import os
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from celery import signals

from ..events import format_elapsed

log = logging.getLogger("mcp_push")
MESSAGE_CHARS = 2000  # an exception's message in the error event
STARTS_KEPT = 10000  # start times remembered; a task that never ends (revoked, lost) is forgotten first


def task_filter(tasks: str | Iterable[str] | Callable[[str], bool]) -> Callable[[str], bool]:
    """A task name test: a callable as it is, else glob patterns (`"billing.*"`, or a list of them)."""
    if callable(tasks):
        return tasks
    patterns = [tasks] if isinstance(tasks, str) else list(tasks)
    return lambda name: any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


class Connection:
    """What `connect` set up; `disconnect()` undoes it, `flush()` waits until the events so far are sent."""

    def __init__(self, app: Any, wanted: Callable[[str], bool], on_start: bool, channels: list[str] | None,
                 env: Mapping[str, Any] | None, send: Callable[..., str | None] | None):
        from . import send as default_send

        self.app, self.wanted, self.on_start, self.channels = app, wanted, on_start, channels
        self.env, self._send = env, default_send if send is None else send
        self._starts: OrderedDict[str, float] = OrderedDict()
        self._queue: queue.Queue[dict[str, Any]] = queue.Queue()
        self._lock = threading.Lock()
        self._pid = 0  # the process whose sender thread runs (a prefork child starts its own)
        self._handlers = {signals.task_prerun: self._prerun, signals.task_retry: self._retry,
                          signals.task_success: self._success, signals.task_failure: self._failure}
        for signal, handler in self._handlers.items():
            signal.connect(handler, weak=False)

    def disconnect(self) -> None:
        for signal, handler in self._handlers.items():
            signal.disconnect(handler)

    def flush(self, timeout: float | None = None) -> bool:
        """Waits until every event queued so far is sent; False when `timeout` passed first."""
        done = threading.Event()
        threading.Thread(target=lambda: (self._queue.join(), done.set()), daemon=True).start()
        return done.wait(timeout)

    # --- signals --------------------------------------------------------------------------------------

    def _ours(self, task: Any) -> bool:
        return task is not None and getattr(task, "app", None) is self.app and self.wanted(task.name)

    def _run_id(self, task: Any, task_id: str | None) -> str:
        return f"{task.name}-{task_id}"[:200]

    def _prerun(self, sender: Any = None, task_id: str | None = None, task: Any = None, **_: Any) -> None:
        task = task or sender
        if not self._ours(task):
            return
        first = not getattr(task.request, "retries", 0)
        self._starts.setdefault(str(task_id), time.monotonic())
        while len(self._starts) > STARTS_KEPT:
            self._starts.popitem(last=False)
        if self.on_start and first:
            self._put(task, task_id, "start", f"{task.name} started")

    def _retry(self, sender: Any = None, request: Any = None, reason: Any = None, **_: Any) -> None:
        if not self._ours(sender):
            return
        task_id = getattr(request, "id", None)
        attempt = (getattr(request, "retries", 0) or 0) + 2  # the one about to run, the first counted as 1
        cause = getattr(reason, "exc", None) or reason  # a Retry carries the exception that caused it
        why = f"{type(cause).__name__}: {_text(cause)}" if isinstance(cause, BaseException) else _text(cause)
        self._put(sender, task_id, "update", f"{sender.name} retrying (attempt {attempt}): {why}")

    def _success(self, sender: Any = None, **_: Any) -> None:
        if not self._ours(sender):
            return
        task_id = sender.request.id
        took = self._took(task_id)
        self._put(sender, task_id, "end", f"{sender.name} finished" + (f" in {took}" if took else ""))

    def _failure(self, sender: Any = None, task_id: str | None = None, exception: BaseException | None = None,
                 **_: Any) -> None:
        if not self._ours(sender):
            return
        took = self._took(task_id)
        kind = type(exception).__name__ if exception is not None else "Error"
        message = f"{sender.name} failed" + (f" after {took}" if took else "") + f": {kind}: {_text(exception)}"
        self._put(sender, task_id, "error", message, error_code=kind)

    def _took(self, task_id: str | None) -> str:
        started = self._starts.pop(str(task_id), None)
        return "" if started is None else format_elapsed(int((time.monotonic() - started) * 1000))

    # --- sending -------------------------------------------------------------------------------------

    def _put(self, task: Any, task_id: str | None, event: str, message: str, **data: Any) -> None:
        envelope = {"run_id": self._run_id(task, task_id), "event": event, "message": message,
                    "data": {"task": task.name, "task_id": str(task_id), **data}}
        with self._lock:
            if self._pid != os.getpid():  # first event of this process: a forked child has no sender thread
                self._pid = os.getpid()
                self._queue = queue.Queue()
                threading.Thread(target=self._loop, args=(self._queue,), name="mcp-push-celery", daemon=True).start()
            self._queue.put(envelope)

    def _loop(self, events: queue.Queue[dict[str, Any]]) -> None:
        while True:
            envelope = events.get()
            try:
                from ..service.outcome import SecretRedactor

                env = os.environ if self.env is None else self.env
                # An exception's message may quote a URL or a header: the channels' secrets are masked.
                envelope["message"] = SecretRedactor(env).text(envelope["message"])
                problem = self._send(envelope, env, self.channels)
                if problem:
                    log.error("mcp-push: the %s event of %s was not delivered: %s", envelope["event"],
                              envelope["run_id"], problem)
            finally:
                events.task_done()


def _text(value: Any) -> str:
    text = " ".join(str(value).split()) or "(no message)"
    return text if len(text) <= MESSAGE_CHARS else text[: MESSAGE_CHARS - 1] + "…"


def connect(app: Any, *, tasks: str | Iterable[str] | Callable[[str], bool] = "*", on_start: bool = False,
            channels: Iterable[str] | None = None, env: Mapping[str, Any] | None = None,
            send: Callable[..., str | None] | None = None) -> Connection:
    """Reports the app's tasks whose name `tasks` admits (glob patterns or a callable) as runs; `on_start`
    also sends each task's start. Channels and MCP_PUSH_URL come from `env` (default: the process
    environment, read at each send)."""
    from ..selection import channel_names

    return Connection(app, task_filter(tasks), on_start, channel_names(channels), env, send)
