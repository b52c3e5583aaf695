"""ntfy answers: each question's buttons POST their option's token to a private reply topic on the same
server (a random, unguessable name per question); this reads the topic's JSON stream (`/<topic>/json`).
A message on the topic is only an answer when its body is one of the question's tokens."""

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
from .receivers import Receiver
from .store import Ask

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
        if ask.reply_topic and ask.id not in self.streams:
            self.streams.add(ask.id)
            threading.Thread(target=self._stream, args=(ask,), name="mcp-push-ntfy", daemon=True).start()

    def _headers(self, env: dict[str, str]) -> dict[str, str]:
        auth = ntfy_auth(HookInput(env=env, title="", content="", now=0)).get("authorization")
        return {"Authorization": auth} if auth else {}

    def _stream(self, ask: Ask) -> None:
        env = channel_env(load_channels()["ntfy"], self.service.source)
        url = f"{env['NTFY_URL'].rstrip('/')}/{ask.reply_topic}/json"
        since = "all"  # the topic is this question's alone: whatever it holds is for it
        while ask.id in self.service.live_asks():
            try:
                with requests.get(url, params={"since": since}, headers=self._headers(env), stream=True,
                                  timeout=(10, READ_TIMEOUT)) as reply:
                    reply.raise_for_status()
                    for line in reply.iter_lines():
                        if ask.id not in self.service.live_asks():
                            return
                        if not line:
                            continue
                        event = json.loads(line)
                        if event.get("event") != "message":
                            continue
                        since = str(event.get("id") or since)
                        self.on_message(ask, str(event.get("message") or "").strip())
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

    def poll(self) -> None:  # the streams do the work
        self._stopped.wait(1.0)
