"""ntfy answers: each question's buttons POST their option's token to a private reply topic on the same
server (a random, unguessable name per question); this reads the topic's JSON stream (`/<topic>/json`).
A message on the topic is only an answer when its body is one of the question's tokens.

Replicas on PostgreSQL (receivers.py): every replica's receiver looks for pending ntfy questions in the
database and streams each one's topic while it holds that topic's lock, from the last message id kept there;
so one replica reads a topic at a time, and another takes over when it goes away."""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

import requests

from ..config import channel_env
from ..hooks import HookInput
from ..hooks.ntfy_auth import ntfy_auth
from ..specs import load_channels
from .receivers import TAKEOVER_SECONDS, Receiver
from .store import PENDING, Ask

log = logging.getLogger("mcp_push.ask")

READ_TIMEOUT = 60.0  # ntfy sends a keepalive event every 45 s by default


class NtfyReceiver(Receiver):
    """A stream per question (each has its own topic); the base thread only keeps the receiver's life."""

    name = "ntfy"

    def __init__(self, service: Any):
        super().__init__(service)
        self.streams: set[str] = set()

    def add(self, ask: Ask) -> None:
        self.asks[ask.id] = ask
        if self.shared is not None:
            super().add(ask)  # the base thread finds every replica's questions (poll) and starts their streams
            return
        self._start_stream(ask)

    def _start_stream(self, ask: Ask) -> None:
        with self._lock:
            if not ask.reply_topic or ask.id in self.streams:
                return
            self.streams.add(ask.id)
        threading.Thread(target=self._stream, args=(ask,), name="mcp-push-ntfy", daemon=True).start()

    def lock_key(self) -> str | None:
        return None  # a lock per reply topic (_topic_key), taken by each stream

    def _topic_key(self, ask: Ask) -> str | None:
        if self.shared is None:
            return None
        return self.shared.key(self.name, f"{self._env()['NTFY_URL'].rstrip('/')}/{ask.reply_topic}")

    def _env(self) -> dict[str, str]:
        return channel_env(load_channels()["ntfy"], self.service.source)

    def _is_live(self, ask: Ask) -> bool:
        if self.shared is None:
            return ask.id in self.service.live_asks()
        now = self.service.clock()
        current = self.service.store.get(ask.id)
        return current is not None and current.status == PENDING and current.expires > now

    def _headers(self, env: dict[str, str]) -> dict[str, str]:
        auth = ntfy_auth(HookInput(env=env, title="", content="", now=0)).get("authorization")
        return {"Authorization": auth} if auth else {}

    def _stream(self, ask: Ask) -> None:
        key = self._topic_key(ask)
        try:
            self._read_topic(ask, key)
        except Exception:
            log.warning("ask: ntfy: the reply topic's reader failed", exc_info=True)
        finally:
            if key is not None:
                self.shared.release(key, self)
            with self._lock:
                self.streams.discard(ask.id)

    def _read_topic(self, ask: Ask, key: str | None) -> None:
        env = self._env()
        url = f"{env['NTFY_URL'].rstrip('/')}/{ask.reply_topic}/json"
        since = "all"  # the topic is this question's alone: whatever it holds is for it
        while self._is_live(ask):
            if key is not None:
                if not self.shared.hold(key, self):
                    self._stopped.wait(TAKEOVER_SECONDS)  # another replica reads this topic
                    continue
                since = self.shared.cursor(key) or since  # where the last reader stopped
            try:
                with requests.get(url, params={"since": since}, headers=self._headers(env), stream=True,
                                  timeout=(10, READ_TIMEOUT)) as reply:
                    reply.raise_for_status()
                    for line in reply.iter_lines():
                        if not self._is_live(ask):
                            return
                        if not line:
                            continue
                        event = json.loads(line)
                        if event.get("event") != "message":
                            continue
                        since = str(event.get("id") or since)
                        self.on_message(ask, str(event.get("message") or "").strip())
                        if key is not None and not self.shared.set_cursor(key, since, self):
                            break  # the lock is lost: the next holder reads on from the stored id
            except (requests.RequestException, ValueError) as exc:
                log.warning("ask: ntfy: the reply topic's stream failed: %s", self.service.redactor_text(str(exc)))
                self._stopped.wait(2.0)

    def on_message(self, ask: Ask, token: str) -> None:
        found = self.service.store.lookup(token) if token else None
        if found is None or found[0].id != ask.id or found[1].option is None:
            log.warning("ask: ntfy: ignored a message on the reply topic that is no answer token")
            self.service.audit_stranger("ntfy", "ntfy", "the reply topic")
            return
        option = ask.options[found[1].option]
        self.service.record(ask.id, option, "ntfy", "ntfy", token)

    def poll(self) -> None:
        """Shared: a stream for each pending ntfy question of any replica (each waits for its topic's lock)."""
        for ask in self.live():
            self._start_stream(ask)
        self._stopped.wait(1.0)
