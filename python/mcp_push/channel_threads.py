"""The threads a send runs its channels on, kept between sends: a warm process hands each channel to an
idle worker instead of starting a thread (Thread.start waits until the new thread runs, one GIL hand-off
per channel: 34 channels' starts delayed the last request by milliseconds, more on a busy machine).

Not concurrent.futures: its workers are joined when the interpreter exits, so a channel stuck past every
timeout would keep a script alive. These are daemon threads, as api.dispatch's were; a stuck one stays
out of the idle list and a new worker takes the next task. At most MAX_IDLE wait for work; more finish.
A forked child starts with none (the parent's threads are not in it).
"""

from __future__ import annotations

import os
import queue
import sys
import threading
from collections.abc import Callable

MAX_IDLE = 64

_lock = threading.Lock()
_idle: list[queue.SimpleQueue] = []


def start(task: Callable[[], None], name: str) -> None:
    """Runs `task` on an idle worker, or on a new daemon thread named `name`."""
    with _lock:
        inbox = _idle.pop() if _idle else None
    if inbox is not None:
        inbox.put((task, name))
        return
    thread = threading.Thread(target=_work, args=(queue.SimpleQueue(), task), name=name, daemon=True)
    thread.start()


def idle_count() -> int:
    return len(_idle)


def _work(inbox: queue.SimpleQueue, task: Callable[[], None]) -> None:
    while True:
        try:
            task()
        except Exception:  # as an uncaught error in a thread of its own: reported, and the worker goes on
            threading.excepthook(threading.ExceptHookArgs((*sys.exc_info(), threading.current_thread())))
        with _lock:
            if len(_idle) >= MAX_IDLE:
                return
            _idle.append(inbox)
        task, name = inbox.get()
        threading.current_thread().name = name


def _forget() -> None:
    global _lock
    _lock = threading.Lock()  # another thread may have held it at the fork
    _idle.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget)
