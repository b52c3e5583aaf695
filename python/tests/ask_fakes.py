"""Loopback fakes of the vendors notify_ask talks to: the Telegram Bot API (sendMessage with reply_markup,
getUpdates, answerCallbackQuery, editMessageText) and ntfy (publish with actions, a topic's JSON stream)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def wait_until(check: Callable[[], Any], timeout: float = 30.0) -> Any:
    """Polls `check` until it returns something truthy (what it returned), or fails after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("the condition did not come true in time")
        time.sleep(0.02)


class _Server:
    def start(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                fake.handle(self, body)

            do_GET = do_POST = do_PUT = _serve

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    @staticmethod
    def reply(handler: BaseHTTPRequestHandler, value: Any, status: int = 200) -> None:
        payload = json.dumps(value).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)


class FakeTelegram(_Server):
    """Records every call as (method, body); getUpdates hands out queued updates from its offset."""

    def __init__(self, chat_id: str = "6173634402"):
        self.chat_id = chat_id
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.updates: list[dict[str, Any]] = []
        self.next_update = 1
        self.next_message = 100
        self.lock = threading.Condition()

    def handle(self, handler: BaseHTTPRequestHandler, raw: bytes) -> None:
        method = handler.path.rsplit("/", 1)[-1]
        body = json.loads(raw or b"{}")
        with self.lock:
            self.calls.append((method, body))
        if method == "sendMessage":
            with self.lock:
                self.next_message += 1
                message_id = self.next_message
            self.reply(handler, {"ok": True, "result": {"message_id": message_id, "chat": {"id": int(body["chat_id"])},
                                                        "text": body.get("text", "")}})
        elif method == "getUpdates":
            offset = body.get("offset", 0)
            with self.lock:
                if not [u for u in self.updates if u["update_id"] >= offset]:
                    self.lock.wait(0.3)  # a short hold, as long polling does
                ready = [u for u in self.updates if u["update_id"] >= offset]
            self.reply(handler, {"ok": True, "result": ready})
        else:
            self.reply(handler, {"ok": True, "result": True})

    def called(self, method: str) -> list[dict[str, Any]]:
        with self.lock:
            return [body for name, body in self.calls if name == method]

    def question(self, label: str = "") -> dict[str, Any]:
        """The last sendMessage that carried an inline keyboard (with a button `label`), waiting for it."""
        def labels(body: dict[str, Any]) -> list[str]:
            return [b["text"] for row in (body.get("reply_markup") or {}).get("inline_keyboard", []) for b in row]

        return wait_until(lambda: next((b for b in reversed(self.called("sendMessage"))
                                        if labels(b) and (not label or label in labels(b))), None))

    def press(self, label: str, user_id: int = 6173634402, chat_id: int | None = None, username: str = "alice",
              message: dict[str, Any] | None = None) -> dict[str, Any]:
        """Queues a callback_query for the button `label` of the last question, as Telegram sends it."""
        sent = self.question(label)
        data = next(b["callback_data"] for row in sent["reply_markup"]["inline_keyboard"] for b in row
                    if b["text"] == label)
        return self.queue({"callback_query": {
            "id": f"cq{self.next_update}", "from": {"id": user_id, "is_bot": False, "username": username},
            "message": message or {"message_id": 101, "chat": {"id": chat_id or int(self.chat_id)},
                                   "text": sent["text"]},
            "chat_instance": "1", "data": data}})

    def queue(self, *updates: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            for update in updates:
                self.updates.append({"update_id": self.next_update, **update})
                self.next_update += 1
            self.lock.notify_all()
        return updates[-1]


class FakeNtfy(_Server):
    """Publishing records (path, headers, body) and appends the message to its topic; GET /<topic>/json
    streams the topic's messages as ntfy does (an open event, then one JSON line per message)."""

    def __init__(self):
        self.published: list[tuple[str, dict[str, str], str]] = []
        self.topics: dict[str, list[dict[str, Any]]] = {}
        self.subscribed: list[str] = []
        self.lock = threading.Condition()

    def handle(self, handler: BaseHTTPRequestHandler, raw: bytes) -> None:
        path = handler.path.split("?", 1)[0]
        if handler.command == "GET" and path.endswith("/json"):
            topic = path.strip("/").split("/")[0]
            with self.lock:
                self.subscribed.append(topic)
                self.lock.notify_all()
            handler.send_response(200)
            handler.send_header("Content-Type", "application/x-ndjson")
            handler.send_header("Transfer-Encoding", "chunked")
            handler.end_headers()

            def chunk(value: dict[str, Any]) -> None:
                line = (json.dumps(value) + "\n").encode()
                handler.wfile.write(f"{len(line):x}\r\n".encode() + line + b"\r\n")
                handler.wfile.flush()

            try:
                chunk({"id": "open1", "event": "open", "topic": topic})
                sent = 0
                deadline = time.monotonic() + 20
                while time.monotonic() < deadline:
                    with self.lock:
                        messages = self.topics.get(topic, [])[sent:]
                        if not messages:
                            self.lock.wait(0.2)
                            continue
                    for message in messages:
                        chunk(message)
                    sent += len(messages)
                handler.wfile.write(b"0\r\n\r\n")
            except OSError:
                pass
            return
        topic = path.strip("/").split("/")[0]
        text = raw.decode("utf-8")
        with self.lock:
            self.published.append((path, dict(handler.headers), text))
            message = {"id": f"m{len(self.published)}", "time": int(time.time()), "event": "message",
                       "topic": topic, "message": text}
            self.topics.setdefault(topic, []).append(message)
            self.lock.notify_all()
        self.reply(handler, message)


class FakeMatrix(_Server):
    """A homeserver's client API for one room: send (PUT), whoami, joined_members, /sync over the room's
    timeline (next_batch is the count of events seen), and one event by id."""

    def __init__(self, room: str = "!room:example.org", bot: str = "@bot:example.org",
                 members: tuple[str, ...] = ("@alice:example.org",)):
        self.room, self.bot, self.members = room, bot, (bot, *members)
        self.timeline: list[dict[str, Any]] = []
        self.sent: list[dict[str, Any]] = []
        self.lock = threading.Condition()

    def say(self, sender: str, body: str, reply_to: str | None = None) -> None:
        content: dict[str, Any] = {"msgtype": "m.text", "body": body}
        if reply_to:
            content["m.relates_to"] = {"m.in_reply_to": {"event_id": reply_to}}
        with self.lock:
            self.timeline.append({"type": "m.room.message", "sender": sender, "content": content,
                                  "event_id": f"$e{len(self.timeline)}", "origin_server_ts": int(time.time() * 1000)})
            self.lock.notify_all()

    def handle(self, handler: BaseHTTPRequestHandler, raw: bytes) -> None:
        from urllib.parse import parse_qs, unquote, urlsplit

        parts = urlsplit(handler.path)
        path, query = unquote(parts.path), parse_qs(parts.query)
        if handler.command == "PUT" and "/send/m.room.message/" in path:
            content = json.loads(raw)
            with self.lock:
                self.sent.append(content)
                event_id = f"$e{len(self.timeline)}"
                self.timeline.append({"type": "m.room.message", "sender": self.bot, "content": content,
                                      "event_id": event_id, "origin_server_ts": int(time.time() * 1000)})
                self.lock.notify_all()
            self.reply(handler, {"event_id": event_id})
        elif path.endswith("/account/whoami"):
            self.reply(handler, {"user_id": self.bot})
        elif path.endswith("/joined_members"):
            self.reply(handler, {"joined": {m: {} for m in self.members}})
        elif path.endswith("/sync"):
            since = int((query.get("since") or ["0"])[0])
            with self.lock:
                if len(self.timeline) <= since and "since" in query:
                    self.lock.wait(0.3)
                events = self.timeline[since:]
                batch = len(self.timeline)
            self.reply(handler, {"next_batch": str(batch),
                                 "rooms": {"join": {self.room: {"timeline": {"events": events}}}}})
        elif "/event/" in path:
            event_id = path.rsplit("/", 1)[1]
            with self.lock:
                event = next((e for e in self.timeline if e["event_id"] == event_id), None)
            self.reply(handler, event or {"errcode": "M_NOT_FOUND"}, 200 if event else 404)
        else:
            self.reply(handler, {"errcode": "M_UNRECOGNIZED"}, 404)

    def question(self) -> dict[str, Any]:
        return wait_until(lambda: next((c for c in self.sent if c["body"].startswith("Question #")), None))
