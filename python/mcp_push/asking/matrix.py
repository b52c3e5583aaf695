"""Matrix answers: the room's new messages from `/sync` (long polling). A message answers the newest
pending question of the room (or the one it replies to): a number of one of the numbered options, or
the option itself; any text for a free-text question. Only MATRIX_ALLOWED_USERS answer (default: the
room's members other than the sending account); anyone else is ignored and logged. A later answer is
refused politely in the room, through the delivery engine. Replicas on PostgreSQL sync one at a time per
account and room, the sync token kept in the database (receivers.py).
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any
from urllib.parse import quote

import requests

from ..config import channel_env
from ..specs import load_channels
from .receivers import Receiver
from .store import ACCEPTED, Ask

log = logging.getLogger("mcp_push.ask")

LONG_POLL_MS = 20000
IDLE_SECONDS = 0.2
CODE = re.compile(r"#([0-9a-f]{6})\b")


def answer_text(body: str) -> str:
    """The reply's own text: the quoted fallback of the message it replies to (`> ` lines) removed."""
    lines = body.splitlines()
    while lines and lines[0].startswith(">"):
        lines.pop(0)
    return "\n".join(lines).strip()


def choose(ask: Ask, text: str) -> str | None:
    """The answer `text` gives to `ask`: an option by number or by name (any case); free text as it is."""
    if not ask.options:
        return text or None
    if text.isdigit() and 1 <= int(text) <= len(ask.options):
        return ask.options[int(text) - 1]
    return next((o for o in ask.options if o.casefold() == text.casefold()), None)


class MatrixReceiver(Receiver):
    name = "matrix"

    def __init__(self, service: Any):
        super().__init__(service)
        self.since: str | None = None
        self.me: str | None = None
        self.members: set[str] | None = None
        self.session = requests.Session()

    def _env(self) -> dict[str, str]:
        return channel_env(load_channels()["matrix"], self.service.source)

    def _get(self, path: str, params: dict[str, Any] | None = None, timeout: float = 15.0) -> Any:
        env = self._env()
        url = env["MATRIX_HOMESERVER"].rstrip("/") + path
        try:
            reply = self.session.get(url, params=params, timeout=timeout,
                                     headers={"Authorization": f"Bearer {env['MATRIX_ACCESS_TOKEN']}"})
            data = reply.json()
        except (requests.RequestException, ValueError) as exc:
            log.warning("ask: matrix %s failed: %s", path.split("?")[0], self.service.redactor_text(str(exc)))
            return None
        if reply.status_code != 200:
            log.warning("ask: matrix %s: HTTP %s %s", path.split("?")[0], reply.status_code,
                        self.service.redactor_text(str(data.get("error"))))
            return None
        return data

    def _room(self) -> str:
        return quote(self._env()["MATRIX_ROOM_ID"], safe="")

    def _allowed(self, sender: str) -> bool:
        listed = [u.strip() for u in self._env().get("MATRIX_ALLOWED_USERS", "").split(",") if u.strip()]
        if listed:
            return sender in listed
        if self.members is None:
            joined = self._get(f"/_matrix/client/v3/rooms/{self._room()}/joined_members") or {}
            self.members = set(joined.get("joined") or {})
        return sender in self.members and sender != self.me

    def credential(self) -> str:
        env = self._env()
        return f"{env['MATRIX_HOMESERVER'].rstrip('/')}\0{env['MATRIX_ACCESS_TOKEN']}\0{env['MATRIX_ROOM_ID']}"

    def poll(self) -> None:
        key = self.lock_key()
        if key is not None:  # where the last holder stopped
            self.since = self.shared.cursor(key) or self.since
        if self.me is None:
            whoami = self._get("/_matrix/client/v3/account/whoami")
            if whoami is None:
                self._stopped.wait(2.0)
                return
            self.me = whoami.get("user_id")
        room = self._env()["MATRIX_ROOM_ID"]
        sync_filter = {"room": {"rooms": [room], "timeline": {"limit": 50, "types": ["m.room.message"]},
                                "state": {"types": []}, "ephemeral": {"types": []}, "account_data": {"types": []}},
                       "presence": {"types": []}, "account_data": {"types": []}}
        params: dict[str, Any] = {"filter": json.dumps(sync_filter), "timeout": LONG_POLL_MS if self.since else 0}
        if self.since:
            params["since"] = self.since
        first = self.since is None
        data = self._get("/_matrix/client/v3/sync", params, timeout=LONG_POLL_MS / 1000 + 10)
        if data is None:
            self._stopped.wait(2.0)
            return
        self.since = data.get("next_batch") or self.since
        events = (((data.get("rooms") or {}).get("join") or {}).get(room) or {}).get("timeline", {}).get("events", [])
        oldest = min((a.created for a in self.live()), default=0.0)
        for event in events:
            # The first sync returns the room's recent history: only what came after the questions counts.
            if first and event.get("origin_server_ts", 0) / 1000 < oldest - 1:
                continue
            try:
                self.on_event(event)
            except Exception:
                log.warning("ask: matrix: an event could not be handled", exc_info=True)
        if key is not None and self.since:
            self.shared.set_cursor(key, self.since, self)  # False: another replica holds it and syncs on from here
        if not events:
            self._stopped.wait(IDLE_SECONDS)

    def _target(self, content: dict[str, Any]) -> Ask | None:
        """The question a message answers: the one it replies to (by the #code in the quoted question),
        else the room's newest pending one, else the newest one (to refuse a late answer)."""
        quoted = content.get("body") or ""
        reply_to = ((content.get("m.relates_to") or {}).get("m.in_reply_to") or {}).get("event_id")
        if reply_to and not CODE.search(quoted):
            original = self._get(f"/_matrix/client/v3/rooms/{self._room()}/event/{quote(reply_to, safe='')}") or {}
            quoted = str((original.get("content") or {}).get("body") or "")
        codes = set(CODE.findall(quoted)) if reply_to else set()
        asks = sorted(self.asks.values(), key=lambda a: a.created, reverse=True)
        if codes:
            return next((a for a in asks if a.code in codes), None)
        live = self.live()
        return live[0] if live else (asks[0] if asks else None)

    def on_event(self, event: dict[str, Any]) -> None:
        sender = str(event.get("sender") or "")
        content = event.get("content") or {}
        if event.get("type") != "m.room.message" or sender == self.me or not isinstance(content.get("body"), str):
            return
        ask = self._target(content)
        if ask is None:
            return
        answer = choose(ask, answer_text(content["body"]))
        if answer is None:
            return
        if not self._allowed(sender):
            log.warning("ask: matrix: ignored an answer from %s: not an allowed user (MATRIX_ALLOWED_USERS, "
                        "default the room's members)", sender)
            self.service.audit_stranger("matrix", sender, "the room")
            return
        outcome = self.service.record(ask.id, answer, sender, "matrix")
        settled = outcome.ask or ask
        if outcome.status != ACCEPTED:
            if settled.answer is not None and settled.status == "answered":
                text = (f"Already answered '{settled.answer}' by {settled.by} via "
                        f"{self.service.display(settled.channel)}; {sender}'s '{answer}' was not recorded.")
            else:
                text = f"This question timed out; {sender}'s '{answer}' was not recorded."
            self.service.engine.submit(f"Question #{settled.code}", text, channels=["matrix"])
