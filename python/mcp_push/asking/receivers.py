"""The answer receivers: one per channel that answers through itself (Telegram, ntfy, Matrix), each in
its own module. A receiver runs a thread while a question of its process that went to its channel is
pending, and stops by itself after.

Replicas on one database (PostgreSQL: the store has `shared_receivers`, service/pg/ask_receivers.py): a
receiver serves every replica's pending questions of its channel, and only the replica holding the lock of its
credential polls the vendor, from the position kept in the database; the others wait their turn and take over
when the holder goes away. Without it (SQLite) a receiver serves its own process's questions, as before."""

from __future__ import annotations

import logging
import threading
from typing import Any

from .store import Ask

log = logging.getLogger("mcp_push.ask")

TAKEOVER_SECONDS = 1.0  # how often a replica waiting for a receiver's lock tries it again


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
        self.shared = getattr(service.store, "shared_receivers", None)  # replicas on one database

    def add(self, ask: Ask) -> None:
        with self._lock:
            self.asks[ask.id] = ask
            if self._running:
                return
            self._running = True
            self._stopped.clear()
        threading.Thread(target=self._run, name=f"mcp-push-{self.name}", daemon=True).start()

    def credential(self) -> str:
        """What names the vendor's reader this receiver is (a bot, an account): one holder per credential."""
        return ""

    def lock_key(self) -> str | None:
        """The shared lock's key (None: this process alone, or a receiver that locks per question)."""
        return self.shared.key(self.name, self.credential()) if self.shared is not None else None

    def live(self) -> list[Ask]:
        """This receiver's questions still pending in the service, newest first; shared: every replica's
        pending questions of this channel before their deadline (known from then on to this receiver)."""
        if self.shared is not None:
            now = self.service.clock()
            pending = [a for a in self.service.store.pending(self.name) if a.expires > now]
            for ask in pending:
                self.asks.setdefault(ask.id, ask)
            return pending
        live = set(self.service.live_asks())
        return sorted((a for a in self.asks.values() if a.id in live), key=lambda a: a.created, reverse=True)

    def _run(self) -> None:
        key = None
        try:
            while True:
                with self._lock:
                    try:
                        stop = self._stopped.is_set() or not self.live()
                    except Exception:  # the shared store away for a moment: try again
                        log.warning("ask: %s receiver: reading the pending questions failed", self.name)
                        stop = False
                    if stop:
                        self._running = False
                        break
                key = self.lock_key()
                if key is not None and not self.shared.hold(key, self):
                    self._stopped.wait(TAKEOVER_SECONDS)  # another replica polls; its turn ends with it
                    continue
                try:
                    self.poll()
                except Exception:
                    log.warning("ask: %s receiver: a poll failed", self.name, exc_info=True)
                    self._stopped.wait(2.0)
        finally:
            try:
                if key is None or self.shared.holds(key, self):
                    self.finish()
            except Exception:
                log.debug("ask: %s receiver: finishing failed", self.name, exc_info=True)
            if key is not None:
                self.shared.release(key, self)

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
