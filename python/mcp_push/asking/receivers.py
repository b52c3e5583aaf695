"""The answer receivers: one per channel that answers through itself (Telegram, ntfy, Matrix), each in
its own module. A receiver runs a thread while a question of its process that went to its channel is
pending, and stops by itself after."""

from __future__ import annotations

import logging
import threading
from typing import Any

from .store import Ask

log = logging.getLogger("mcp_push.ask")


class Receiver:
    """The thread's life: `add` a question (starting the thread if it is not running); `poll` once per
    turn while a question of this receiver is pending in the service; `finish` when the last one is."""

    name = "receiver"

    def __init__(self, service: Any):
        self.service = service
        self.asks: dict[str, Ask] = {}
        self._lock = threading.Lock()
        self._running = False
        self._stopped = threading.Event()

    def add(self, ask: Ask) -> None:
        with self._lock:
            self.asks[ask.id] = ask
            if self._running:
                return
            self._running = True
            self._stopped.clear()
        threading.Thread(target=self._run, name=f"mcp-push-{self.name}", daemon=True).start()

    def live(self) -> list[Ask]:
        """This receiver's questions still pending in the service, newest first."""
        live = set(self.service.live_asks())
        return sorted((a for a in self.asks.values() if a.id in live), key=lambda a: a.created, reverse=True)

    def _run(self) -> None:
        try:
            while True:
                with self._lock:
                    if self._stopped.is_set() or not self.live():
                        self._running = False
                        break
                try:
                    self.poll()
                except Exception:
                    log.warning("ask: %s receiver: a poll failed", self.name, exc_info=True)
                    self._stopped.wait(2.0)
        finally:
            try:
                self.finish()
            except Exception:
                log.debug("ask: %s receiver: finishing failed", self.name, exc_info=True)

    def poll(self) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        """After the last question: whatever the channel needs (Telegram confirms its last updates)."""

    def stop(self) -> None:
        self._stopped.set()


def receiver_for(channel: str, service: Any) -> Receiver | None:
    if channel == "telegram":
        from .telegram import TelegramReceiver

        return TelegramReceiver(service)
    if channel == "ntfy":
        from .ntfy import NtfyReceiver

        return NtfyReceiver(service)
    if channel == "matrix":
        from .matrix import MatrixReceiver

        return MatrixReceiver(service)
    return None
