"""Telegram answers: getUpdates long polling (no public URL needed) for the inline keyboard's
callback_query, acknowledged with answerCallbackQuery, the message edited (editMessageText, keyboard
gone) to show the answer; a free-text answer is a reply to the question's message. Only the configured
chat (TG_USER_ID) answers: anything from another chat is ignored and logged.

Telegram allows one getUpdates poller per bot: a bot with a webhook set, or polled by another program at
the same time, cannot answer here (409 Conflict, logged). Replicas on PostgreSQL poll one at a time per bot,
the offset kept in the database (receivers.py).
"""

from __future__ import annotations

import logging
from typing import Any

import requests

from ..config import channel_env
from ..specs import load_channels
from .receivers import Receiver
from .render import CALLBACK_PREFIX
from .store import ACCEPTED, ANSWERED, EXPIRED, USED, Ask

log = logging.getLogger("mcp_push.ask")

LONG_POLL_SECONDS = 20
IDLE_SECONDS = 0.2  # between polls that returned at once with nothing (a server that does not hold)


def who(user: dict[str, Any]) -> str:
    if user.get("username"):
        return "@" + str(user["username"])
    name = " ".join(str(user[k]) for k in ("first_name", "last_name") if user.get(k))
    return name or str(user.get("id", "someone"))


class TelegramReceiver(Receiver):
    name = "telegram"

    def __init__(self, service: Any):
        super().__init__(service)
        self.offset: int | None = None
        self.unconfirmed = False
        self.session = requests.Session()

    # --- the Bot API ---

    def _env(self) -> dict[str, str]:
        return channel_env(load_channels()["telegram"], self.service.source)

    def _call(self, method: str, body: dict[str, Any], timeout: float = 15.0) -> Any:
        env = self._env()
        url = f"{env['TG_API_HOST'].rstrip('/')}/bot{env['TG_BOT_TOKEN']}/{method}"
        proxies = None
        if env.get("TG_PROXY_HOST") and env.get("TG_PROXY_PORT"):
            auth = f"{env['TG_PROXY_AUTH']}@" if env.get("TG_PROXY_AUTH") else ""
            proxy = f"http://{auth}{env['TG_PROXY_HOST']}:{env['TG_PROXY_PORT']}"
            proxies = {"http": proxy, "https": proxy}
        try:
            reply = self.session.post(url, json=body, timeout=timeout, proxies=proxies)
            data = reply.json()
        except (requests.RequestException, ValueError) as exc:
            log.warning("ask: telegram %s failed: %s", method, self.service.redactor_text(str(exc)))
            return None
        if not data.get("ok"):
            log.warning("ask: telegram %s refused: %s", method,
                        self.service.redactor_text(str(data.get("description"))))
            return None
        return data.get("result")

    def credential(self) -> str:
        env = self._env()
        return f"{env['TG_API_HOST'].rstrip('/')}/bot{env['TG_BOT_TOKEN']}"

    def poll(self) -> None:
        key = self.lock_key()
        if key is not None:  # where the last holder stopped (None: nothing read through the database yet)
            stored = self.shared.cursor(key)
            self.offset = int(stored) if stored is not None else self.offset
        body: dict[str, Any] = {"timeout": LONG_POLL_SECONDS, "allowed_updates": ["callback_query", "message"]}
        if self.offset is not None:
            body["offset"] = self.offset
        updates = self._call("getUpdates", body, timeout=LONG_POLL_SECONDS + 10)
        if updates is None:
            self._stopped.wait(2.0)
            return
        if not updates:
            self._stopped.wait(IDLE_SECONDS)
            return
        for update in updates:
            self.offset = int(update.get("update_id", 0)) + 1
            self.unconfirmed = True
            try:
                if "callback_query" in update:
                    self.on_button(update["callback_query"])
                elif "message" in update:
                    self.on_message(update["message"])
            except Exception:
                log.warning("ask: telegram: an update could not be handled", exc_info=True)
            if key is not None and not self.shared.set_cursor(key, str(self.offset), self):
                return  # another replica holds the bot now: it reads on from the stored offset

    def finish(self) -> None:
        # getUpdates confirms updates up to its offset: without this the next poller would see them again.
        if self.unconfirmed and self.offset is not None:
            self._call("getUpdates", {"offset": self.offset, "timeout": 0})
            self.unconfirmed = False

    # --- answers ---

    def _from_configured_chat(self, chat: Any, user: dict[str, Any], what: str) -> bool:
        if str(chat) == strip(self._env().get("TG_USER_ID", "")):
            return True
        log.warning("ask: telegram: ignored %s from %s in chat %s: only the configured chat (TG_USER_ID) answers",
                    what, who(user), chat)
        self.service.audit_stranger("telegram", who(user), str(chat))
        return False

    def on_button(self, query: dict[str, Any]) -> None:
        message = query.get("message") or {}
        chat = (message.get("chat") or {}).get("id")
        user = query.get("from") or {}
        data = str(query.get("data") or "")
        if not data.startswith(CALLBACK_PREFIX) or not self._from_configured_chat(chat, user, "a button press"):
            return
        token = data[len(CALLBACK_PREFIX):]
        found = self.service.store.lookup(token)
        if found is None or found[1].option is None:
            self._ack(query, "This question is no longer open.")
            return
        ask, answer_token = found
        option = ask.options[answer_token.option]
        outcome = self.service.record(ask.id, option, who(user), "telegram", token)
        self._settle_message(query, message, outcome.status, outcome.ask or ask, option)

    def _settle_message(self, query: dict[str, Any], message: dict[str, Any], status: str, ask: Ask,
                        option: str) -> None:
        if status == ACCEPTED:
            self._ack(query, f"Recorded: {option}")
            line = f"✅ Answered '{ask.answer}' by {ask.by}"
        elif status in (ANSWERED, USED) and ask.answer is not None:
            self._ack(query, f"Already answered '{ask.answer}' by {ask.by}; thanks all the same.")
            line = f"✅ Answered '{ask.answer}' by {ask.by} via {self.service.display(ask.channel)}"
        elif status == EXPIRED or ask.status == "timed_out":
            self._ack(query, "This question timed out; the answer was not recorded.")
            line = "⌛ No answer in time" + (f"; '{ask.default}' was used" if ask.default is not None else "")
        else:
            self._ack(query, "This question is no longer open.")
            return
        self._edit(message, line)

    def _ack(self, query: dict[str, Any], text: str) -> None:
        self._call("answerCallbackQuery", {"callback_query_id": query.get("id"), "text": text[:200]})

    def _edit(self, message: dict[str, Any], line: str) -> None:
        chat, message_id = (message.get("chat") or {}).get("id"), message.get("message_id")
        if chat is None or message_id is None:
            return
        text = f"{message.get('text') or ''}\n\n{line}".strip()
        # No reply_markup: the keyboard goes, so nobody taps an answer that no longer counts.
        self._call("editMessageText", {"chat_id": chat, "message_id": message_id, "text": text[:4096]})

    def on_message(self, message: dict[str, Any]) -> None:
        """A free-text answer: a reply to a free-text question's message (its text names the question)."""
        replied = message.get("reply_to_message") or {}
        text = message.get("text")
        if not replied or not isinstance(text, str) or not text.strip():
            return
        chat = (message.get("chat") or {}).get("id")
        user = message.get("from") or {}
        quoted = str(replied.get("text") or "")
        ask = next((a for a in self.asks.values() if not a.options and f"#{a.code}" in quoted), None)
        if ask is None or not self._from_configured_chat(chat, user, "a reply"):
            return
        outcome = self.service.record(ask.id, text.strip(), who(user), "telegram")
        settled = outcome.ask or ask
        if outcome.status == ACCEPTED:
            self._edit(replied, f"✅ Answered '{settled.answer}' by {settled.by}")
        elif settled.answer is not None:
            self._call("sendMessage", {"chat_id": chat, "reply_to_message_id": message.get("message_id"),
                                       "text": f"Already answered '{settled.answer}' by {settled.by}; "
                                               "thanks all the same."})
        else:
            self._call("sendMessage", {"chat_id": chat, "reply_to_message_id": message.get("message_id"),
                                       "text": "This question timed out; the answer was not recorded."})


def strip(value: str) -> str:
    return value.strip()
