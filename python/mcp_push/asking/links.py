"""The answer page: GET /v1/answer/<token> shows the question and a confirm button; only the POST the
button sends records the answer, so link previews, mail scanners and prefetchers (which GET) never
answer. The token in the path is the credential: the page needs no bearer token, and sits in front of
the HTTP server's guard (http_app.build_app). Pages are plain HTML, escaped, cache- and referrer-free.
"""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import parse_qs

from .render import ANSWER_PATH
from .store import ACCEPTED, DONE, EXPIRED, TIMED_OUT, Ask

MAX_FORM = 16 * 1024
HEADERS = [
    (b"content-type", b"text/html; charset=utf-8"),
    (b"cache-control", b"no-store"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-robots-tag", b"noindex"),
    (b"x-content-type-options", b"nosniff"),
    (b"content-security-policy", b"default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                                  b"frame-ancestors 'none'"),
]
STYLE = ("body{font-family:system-ui,sans-serif;max-width:32em;margin:2em auto;padding:0 1em;line-height:1.4}"
         "button{font-size:1.2em;padding:.5em 1.2em;margin:.3em}textarea{width:100%;font-size:1.1em}")


def is_answer_path(path: str) -> bool:
    return path.startswith(ANSWER_PATH)


def _page(title: str, body: str) -> bytes:
    return (f"<!doctype html><html><head><meta charset=utf-8><meta name=viewport content='width=device-width'>"
            f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>{body}</body></html>"
            ).encode()


def _settled_text(ask: Ask) -> str:
    if ask.status == DONE:
        return f"Already answered: '{ask.answer}' by {ask.by}."
    if ask.status == TIMED_OUT:
        return "This question timed out; answers are no longer taken."
    return "This link has been used."


class AnswerPages:
    """ASGI: /v1/answer/<token> here, everything else to `app`. `service_for()` gives the AskService
    whose store holds the tokens (record() audits and wakes the asker)."""

    def __init__(self, app: Any, service_for: Any):
        self.app, self._service_for = app, service_for

    @property
    def service(self) -> Any:
        return self._service_for()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not is_answer_path(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        import anyio

        token = scope["path"][len(ANSWER_PATH):].strip("/")
        method = scope.get("method", "GET")
        if method not in ("GET", "HEAD", "POST"):
            await self._respond(send, 405, _page("Not allowed", "<p>GET or POST only.</p>"),
                                [(b"allow", b"GET, POST")])
            return
        form: dict[str, list[str]] = {}
        if method == "POST":
            body = b""
            while True:
                message = await receive()
                body += message.get("body", b"")
                if len(body) > MAX_FORM:
                    await self._respond(send, 413, _page("Too large", "<p>The form is too large.</p>"))
                    return
                if not message.get("more_body"):
                    break
            form = parse_qs(body.decode("utf-8", "replace"))
        status, page = await anyio.to_thread.run_sync(self._answer if method == "POST" else self._show, token, form)
        await self._respond(send, status, page if method != "HEAD" else b"")

    async def _respond(self, send: Any, status: int, body: bytes,
                       extra: list[tuple[bytes, bytes]] | None = None) -> None:
        await send({"type": "http.response.start", "status": status,
                    "headers": [*HEADERS, (b"content-length", str(len(body)).encode()), *(extra or [])]})
        await send({"type": "http.response.body", "body": body})

    def _show(self, token: str, _form: dict[str, list[str]]) -> tuple[int, bytes]:
        found = self.service.store.lookup(token) if token else None
        if found is None:
            return 404, _page("Not found", "<p>This answer link is not valid.</p>")
        ask, answer_token = found
        question = f"<h1>{html.escape(ask.question)}</h1>"
        if ask.status != "pending" or self.service.clock() >= ask.expires:
            if ask.status == "pending":
                return 410, _page("Timed out",
                                  question + "<p>This question timed out; answers are no longer taken.</p>")
            return 410, _page("Answered", question + f"<p>{html.escape(_settled_text(ask))}</p>")
        if answer_token.option is not None:
            option = html.escape(ask.options[answer_token.option])
            form = (f"<form method=post><p>Your answer: <b>{option}</b></p>"
                    f"<button type=submit>Confirm: {option}</button></form>")
        elif ask.options:
            form = "".join(f"<form method=post><input type=hidden name=option value={i}>"
                           f"<button type=submit>{html.escape(o)}</button></form>" for i, o in enumerate(ask.options))
        else:
            form = ("<form method=post><textarea name=answer rows=3 required maxlength=2000></textarea>"
                    "<p><button type=submit>Send answer</button></p></form>")
        return 200, _page("Answer", question + form)

    def _answer(self, token: str, form: dict[str, list[str]]) -> tuple[int, bytes]:
        found = self.service.store.lookup(token) if token else None
        if found is None:
            return 404, _page("Not found", "<p>This answer link is not valid.</p>")
        ask, answer_token = found
        if answer_token.option is not None:
            answer = ask.options[answer_token.option]
        elif ask.options:
            choice = (form.get("option") or [""])[0]
            if not choice.isdigit() or int(choice) >= len(ask.options):
                return 400, _page("Bad answer", "<p>Choose one of the options.</p>")
            answer = ask.options[int(choice)]
        else:
            answer = (form.get("answer") or [""])[0].strip()[:2000]
            if not answer:
                return 400, _page("Bad answer", "<p>The answer is empty.</p>")
        by = f"the {self.service.display(answer_token.channel)} link"
        outcome = self.service.record(ask.id, answer, by, answer_token.channel, token)
        question = f"<h1>{html.escape(ask.question)}</h1>"
        if outcome.status == ACCEPTED:
            return 200, _page("Thank you", question + f"<p>Recorded: <b>{html.escape(answer)}</b>. Thank you.</p>")
        settled = outcome.ask or ask
        if outcome.status == EXPIRED:
            return 410, _page("Timed out", question + "<p>This question timed out; the answer was not recorded.</p>")
        return 409, _page("Answered", question + f"<p>{html.escape(_settled_text(settled))} Thanks all the same.</p>")
