"""`mcp-push run -- COMMAND ...`: runs a command and reports it as one run (docs/INTEGRATIONS.md, "mcp-push
run"): `start`, optional progress updates from its output, then `end` with the duration or `error` with the
exit code and the last lines of its stderr (channel secrets masked). The command's output passes through
unchanged; our exit code is the command's own (128 + N when signal N killed it, 127 when it cannot be found,
126 when it cannot be run). A notification that fails is one line on stderr and never changes the exit code."""

from __future__ import annotations

import collections
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, BinaryIO

from ..events import format_elapsed

TAIL_LINES, TAIL_CHARS = 20, 2000  # the stderr an error event carries
LINE_CHARS = 500  # a progress line's message
# Passed on to the command (SIGHUP exists on POSIX only).
FORWARDED = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))
NOT_FOUND, NOT_RUNNABLE = 127, 126  # as a shell says it


# --- progress --------------------------------------------------------------------------------------


def progress_of(pattern: re.Pattern[str], line: str) -> float | None:
    """The fraction done a matching line tells, or None. The group named `percent` is a percentage, the one
    named `fraction` a fraction; else the first group: "45%" and a number above 1 are percentages, "3/10" a
    ratio, a number up to 1 a fraction. Clamped to 0..1."""
    match = pattern.search(line)
    if not match:
        return None
    groups = match.groupdict()
    if groups.get("percent") is not None:
        text, scale = groups["percent"].rstrip("% "), 100.0
    elif groups.get("fraction") is not None:
        text, scale = groups["fraction"], 1.0
    elif match.re.groups:
        text, scale = (match.group(1) or "").strip(), None
    else:
        return None
    try:
        if scale is None and "/" in text:
            done, total = (float(part) for part in text.split("/", 1))
            value = done / total
        elif scale is None:
            value = float(text.rstrip("%"))
            value = value / 100 if text.endswith("%") or value > 1 else value
        else:
            value = float(text) / scale
    except (ValueError, ZeroDivisionError):
        return None
    return min(max(value, 0.0), 1.0) if value == value else None  # NaN tells nothing


def compile_progress(text: str) -> re.Pattern[str]:
    try:
        pattern = re.compile(text)
    except re.error as exc:
        raise ValueError(f"--progress-regex: not a regular expression: {exc}") from None
    if not pattern.groups:
        raise ValueError("--progress-regex: needs a group that captures the progress, such as '(\\d+)%'")
    return pattern


# --- the sender: events in order, progress updates throttled -------------------------------------


class Reporter:
    """Sends a run's events in a thread of their own, in order, so a slow vendor never holds up the command
    or its output. Updates are throttled to one per `every` seconds: a newer update replaces one that waits;
    one still waiting when the run ends is dropped (the end says more)."""

    def __init__(self, deliver: Callable[[dict[str, Any]], None], every: float,
                 clock: Callable[[], float] = time.monotonic):
        self._deliver, self._every, self._clock = deliver, every, clock
        self._cond = threading.Condition()
        self._queue: collections.deque[dict[str, Any]] = collections.deque()
        self._pending: dict[str, Any] | None = None
        self._last_update = -float("inf")
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="mcp-push-run-events", daemon=True)
        self._thread.start()

    def event(self, envelope: dict[str, Any]) -> None:
        with self._cond:
            self._queue.append(envelope)
            self._cond.notify()

    def update(self, envelope: dict[str, Any]) -> None:
        with self._cond:
            self._pending = envelope
            self._cond.notify()

    def finish(self, envelope: dict[str, Any] | None) -> None:
        """Queues the last event and waits until everything queued is sent."""
        with self._cond:
            if self._pending is not None and self._due():
                self._queue.append(self._take_pending())
            self._pending = None
            if envelope is not None:
                self._queue.append(envelope)
            self._closed = True
            self._cond.notify()
        self._thread.join()

    def _due(self) -> bool:
        return self._clock() >= self._last_update + self._every

    def _take_pending(self) -> dict[str, Any]:
        pending, self._pending = self._pending, None
        self._last_update = self._clock()
        assert pending is not None
        return pending

    def _next(self) -> dict[str, Any] | None:
        with self._cond:
            while True:
                if self._queue:
                    return self._queue.popleft()
                if self._pending is not None and self._due():
                    return self._take_pending()
                if self._closed:
                    return None
                wait = None if self._pending is None else max(self._last_update + self._every - self._clock(), 0)
                self._cond.wait(wait)

    def _loop(self) -> None:
        while (envelope := self._next()) is not None:
            self._deliver(envelope)


# --- the child ---------------------------------------------------------------------------------------


class Tail:
    """The last lines of a stream, bounded in lines and characters."""

    def __init__(self, lines: int = TAIL_LINES, chars: int = TAIL_CHARS):
        self._lines: collections.deque[str] = collections.deque(maxlen=lines)
        self._chars = chars

    def add(self, line: str) -> None:
        self._lines.append(line.rstrip("\r\n")[-self._chars:])

    def text(self) -> str:
        text = "\n".join(self._lines).strip("\n")
        return text if len(text) <= self._chars else "…" + text[-(self._chars - 1):]


def pump(source: BinaryIO, sink: BinaryIO, on_line: Callable[[str], None]) -> None:
    """Copies the child's stream to ours byte for byte as it comes (a prompt without a newline shows at
    once), and hands each complete line, decoded, to `on_line`."""
    pending = b""
    fd = source.fileno()
    while chunk := os.read(fd, 65536):
        try:
            sink.write(chunk)
            sink.flush()
        except (OSError, ValueError):
            pass  # our reader left (`| head`): keep draining so the child is not blocked
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            on_line(line.decode("utf-8", "replace"))
    if pending:
        on_line(pending.decode("utf-8", "replace"))


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def default_run_id(command: Sequence[str], now: float) -> str:
    """The command's name and the start time (UTC), such as `backup.sh-20261201T021500Z`."""
    stamp = datetime.fromtimestamp(now, tz=timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return f"{os.path.basename(command[0]) or command[0]}-{stamp}"[-200:]


def shorten(text: str, limit: int) -> str:
    """One line (white space folded: a `sh -c` script has line breaks) of at most `limit` characters."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _from_terminal(number: int) -> bool:
    """A Ctrl-C in the terminal sends SIGINT to the whole foreground process group, the child included:
    passing it on as well would be a second Ctrl-C, which many programs take as 'quit now'."""
    if number != signal.SIGINT:
        return False
    try:
        return os.isatty(0) and os.tcgetpgrp(0) == os.getpgrp()
    except (OSError, AttributeError):  # no terminal; no process groups (Windows)
        return False


def run(command: Sequence[str], env: Mapping[str, Any], *, run_id: str | None = None, title: str | None = None,
        only_errors: bool = False, progress: re.Pattern[str] | None = None, every: float = 5.0,
        channels: Sequence[str] | None = None, send: Callable[..., str | None] | None = None) -> int:
    """Runs the command and reports it; returns the exit code to exit with."""
    from ..integrations import send as default_send
    from .outcome import SecretRedactor

    send = default_send if send is None else send
    redactor = SecretRedactor(env)
    started_wall, started = time.time(), time.monotonic()
    run_id = run_id or default_run_id(command, started_wall)
    name = shorten(title or shlex.join(command), 200)
    command_text = redactor.text(shorten(shlex.join(command), LINE_CHARS))

    def deliver(envelope: dict[str, Any]) -> None:
        problem = send(envelope, env, channels)
        if problem:
            print(f"mcp-push run: the {envelope['event']} event was not delivered: {problem}", file=sys.stderr)

    def envelope(event: str, message: str, **data: Any) -> dict[str, Any]:
        # The command line is a field of its own only when --title names the run otherwise.
        fields = {"command": command_text, **data} if title else data
        # Every message is masked as a whole: the stderr tail, a progress line, the command line.
        message = redactor.text(message)
        return {"run_id": run_id, "event": event, "message": message, **({"data": fields} if fields else {})}

    reporter = Reporter(deliver, every)
    tail = Tail()

    def on_line(line: str) -> None:
        if progress is None:
            return
        value = progress_of(progress, line)
        if value is not None and not only_errors:
            text = shorten(line.strip(), LINE_CHARS) or name
            reporter.update(envelope("update", text, progress=value))

    def on_stderr(line: str) -> None:
        tail.add(line)
        on_line(line)

    # The handlers are in place before the child exists: a signal that comes meanwhile is passed on once
    # it does, so no SIGTERM is lost between the two.
    forwarded: list[int] = []
    holder: list[subprocess.Popen[bytes]] = []

    def forward(number: int, _frame: Any) -> None:
        if not holder:  # no child yet: _supervise passes it on once the child is there
            forwarded.append(number)
        elif not _from_terminal(number) and holder[0].poll() is None:
            holder[0].send_signal(number)

    previous = {number: signal.signal(number, forward) for number in FORWARDED}
    try:
        return _supervise(command, holder, forwarded, reporter, tail, envelope, name, started, only_errors,
                          progress is not None, on_line, on_stderr)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _supervise(command: Sequence[str], holder: list[subprocess.Popen[bytes]], forwarded: list[int],
               reporter: Reporter, tail: Tail, envelope: Callable[..., dict[str, Any]], name: str, started: float,
               only_errors: bool, pipe_stdout: bool, on_line: Callable[[str], None],
               on_stderr: Callable[[str], None]) -> int:
    """Starts the child, copies its output, waits for it, and queues the run's last event."""
    try:
        child = subprocess.Popen(list(command), stdout=subprocess.PIPE if pipe_stdout else None,  # noqa: S603
                                 stderr=subprocess.PIPE)
    except OSError as exc:
        code = NOT_FOUND if isinstance(exc, FileNotFoundError) else NOT_RUNNABLE
        why = "command not found" if code == NOT_FOUND else f"cannot run the command ({exc.strerror})"
        print(f"mcp-push run: {command[0]}: {why}", file=sys.stderr)
        reporter.finish(envelope("error", f"{name}: {why}", error_code=code))
        return code
    # Signals that came before the child, kept by the handler: passed on once the child is published (one
    # that comes after the append goes to the child from the handler itself; before, a copy of the list was
    # taken first, and a SIGINT sent between the copy and the append was lost: the child ran on).
    holder.append(child)
    for number in forwarded:
        if not _from_terminal(number):
            child.send_signal(number)
    if not only_errors:
        reporter.event(envelope("start", f"{name}: started"))
    pumps = [threading.Thread(target=pump, args=(child.stderr, sys.stderr.buffer, on_stderr), daemon=True)]
    if child.stdout is not None:
        pumps.append(threading.Thread(target=pump, args=(child.stdout, sys.stdout.buffer, on_line), daemon=True))
    for thread in pumps:
        thread.start()
    code = child.wait()
    for thread in pumps:
        thread.join()
    took = format_elapsed(int((time.monotonic() - started) * 1000))
    if code == 0:
        reporter.finish(None if only_errors else envelope("end", f"{name}: finished in {took}"))
        return 0
    if code < 0:
        why, code, error_code = f"killed by {signal_name(-code)}", 128 - code, signal_name(-code)
    else:
        why, error_code = f"exit code {code}", code
    message = f"{name}: {why} after {took}"
    stderr = tail.text()
    if stderr:
        message += f"\n\nLast lines of stderr:\n{stderr}"
    reporter.finish(envelope("error", message, error_code=error_code))
    return code
