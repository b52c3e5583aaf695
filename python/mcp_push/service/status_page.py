"""The status page of the HTTP server, at `/`: recent runs with their progress and each channel's outcome,
failed deliveries with their (masked) errors and a retry button, and what still waits, with when it is due.
One page of inline HTML, CSS and JS (no external asset: it works offline), polling /status/data every
two seconds; readable on a phone.

    GET  /                 the page (or, with MCP_PUSH_HTTP_TOKEN and no session, a form asking for it)
    GET  /status/data      the page's JSON: {now, runs, failed, pending}
    POST /status/login     token=…: sets the session cookie (HttpOnly, SameSite=Strict), back to /
    POST /status/retry     {"delivery_id": n}: enqueues a failed delivery again through the engine

Auth is the API's: http_app.Guard checks Host and Origin first; then, when MCP_PUSH_HTTP_TOKEN is set,
a request needs `Authorization: Bearer <token>` or the session cookie, whose value is an HMAC of the
token (the token itself is never stored in the browser). Without a token the server binds loopback only
(lifecycle.py), and the page is open there. A POST must carry an Origin header (browsers send one on
every POST), which Guard has already checked: a page of another site cannot log in or retry (CSRF).

A retry claims the delivery in the history first (history.claim_retry: only a failed one not retried
before), so two clicks, or two tabs, never send it twice, and a delivered one is never sent again.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from typing import Any
from urllib.parse import parse_qs

import anyio

from ..redact import process_redactor
from .run_status import delivery_rows, iso, pending_rows, recent_runs
from .watchers import history_of

PAGE, DATA, LOGIN, RETRY = "/", "/status/data", "/status/login", "/status/retry"
PATHS = frozenset({PAGE, DATA, LOGIN, RETRY})
COOKIE = "mcp_push_session"
MAX_FORM = 4096
POLL_MS = 2000


def is_status_path(path: str) -> bool:
    return path in PATHS


def session_value(token: str) -> str:
    """The cookie's value: an HMAC of the token, so the browser never holds the token itself."""
    return hmac.new(token.encode(), b"mcp-push status page session", hashlib.sha256).hexdigest()


class StatusPage:
    """ASGI: the status paths here, everything else to `app`."""

    def __init__(self, app: Any, engine: Any, token: str):
        self.app, self.engine, self.token = app, engine, token

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not is_status_path(scope.get("path", "")) or self.engine is None:
            await self.app(scope, receive, send)
            return
        headers: dict[str, str] = {}
        for name, value in scope.get("headers") or []:
            headers.setdefault(name.decode("latin-1"), value.decode("latin-1"))
        path, method = scope["path"], scope.get("method", "GET")
        if method == "POST" and "origin" not in headers:
            await _send(send, 403, _json({"error": "a POST needs an Origin header (cross-site request protection)"}))
            return
        if path == LOGIN:
            await self._login(method, receive, send)
            return
        if not self._signed_in(headers):
            if path == PAGE and method == "GET":
                await _send(send, 200, _login_page(""), "text/html; charset=utf-8", _page_headers())
            else:
                await _send(send, 401, _json({"error": "unauthorized: sign in on / or send Authorization: "
                                                       "Bearer <MCP_PUSH_HTTP_TOKEN>"}))
            return
        if path == PAGE and method == "GET":
            nonce = secrets.token_urlsafe(16)
            await _send(send, 200, _status_page(nonce), "text/html; charset=utf-8", _page_headers(nonce))
        elif path == DATA and method == "GET":
            await _send(send, 200, _json(await anyio.to_thread.run_sync(self._data)), extra=[(b"cache-control",
                                                                                               b"no-store")])
        elif path == RETRY and method == "POST":
            await self._retry(receive, send)
        else:
            await _send(send, 405, _json({"error": f"{method} is not allowed on {path}"}))

    def _signed_in(self, headers: dict[str, str]) -> bool:
        if not self.token:
            return True
        scheme, _, given = headers.get("authorization", "").strip().partition(" ")
        bearer = hmac.compare_digest(given.strip().encode(), self.token.encode()) and scheme.lower() == "bearer"
        cookie = _cookies(headers.get("cookie", "")).get(COOKIE, "")
        return bearer or hmac.compare_digest(cookie.encode(), session_value(self.token).encode())

    async def _login(self, method: str, receive: Any, send: Any) -> None:
        if method != "POST":
            await _send(send, 405, _json({"error": "POST the token from the form on /"}))
            return
        form = parse_qs((await _body(receive)).decode("utf-8", "replace"))
        given = (form.get("token") or [""])[0]
        if self.token and not hmac.compare_digest(given.encode(), self.token.encode()):
            await _send(send, 401, _login_page("That is not the server's token."), "text/html; charset=utf-8",
                        _page_headers())
            return
        cookie = f"{COOKIE}={session_value(self.token) if self.token else ''}; HttpOnly; SameSite=Strict; Path=/"
        await _send(send, 303, b"", "text/plain", [(b"location", b"/"), (b"set-cookie", cookie.encode())])

    def _data(self) -> dict[str, Any]:
        store = history_of(self.engine)
        if store is None:
            return {"now": iso(self.engine.clock()), "history": False, "runs": [], "failed": [], "pending": []}
        data = {"now": iso(self.engine.clock()), "history": True, "runs": recent_runs(store, 20),
                "failed": delivery_rows(store, failed=True, limit=50), "pending": pending_rows(store)}
        return process_redactor().tree(data)

    async def _retry(self, receive: Any, send: Any) -> None:
        try:
            delivery_id = json.loads(await _body(receive))["delivery_id"]
            if not isinstance(delivery_id, int) or isinstance(delivery_id, bool):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            await _send(send, 400, _json({"error": "delivery_id: must be the id of a failed delivery"}))
            return
        answer = await anyio.to_thread.run_sync(lambda: retry_delivery(self.engine, delivery_id))
        await _send(send, 202 if "message_id" in answer else 409, _json(answer))


def retry_delivery(engine: Any, delivery_id: int) -> dict[str, Any]:
    """Enqueues a failed delivery again (its channel only), once: {message_id} or {error}."""
    store = history_of(engine)
    if store is None:
        return {"error": "history: the delivery history is off (MCP_PUSH_HISTORY=false)"}
    claimed = store.claim_retry(delivery_id, "retrying")
    if claimed is None:
        return {"error": f"delivery_id: {delivery_id} is not a failed delivery that was not retried yet"}
    kind = claimed["kind"] if claimed["kind"] in ("message", "start", "update", "end", "error") else "message"
    ticket = engine.submit(claimed["title"], claimed["content"], kind=kind, run_id=claimed["run_id"],
                           channels=[claimed["channel"]], note={"retry_of": delivery_id})
    store.retried(delivery_id, ticket.message_id)
    return {"message_id": ticket.message_id, "channel": claimed["channel"]}


# --- HTTP plumbing -------------------------------------------------------------------------------------


def _cookies(header: str) -> dict[str, str]:
    pairs = (part.strip().partition("=") for part in header.split(";"))
    return {name: value for name, _, value in pairs if name}


async def _body(receive: Any) -> bytes:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if len(body) > MAX_FORM or not message.get("more_body"):
            return body[:MAX_FORM]


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode()


def _page_headers(nonce: str = "") -> list[tuple[bytes, bytes]]:
    """No framing (a retry button must not be clicked through another page), nothing loaded from elsewhere.
    Referrer-Policy same-origin, not no-referrer: with no-referrer Chromium sends `Origin: null` on the
    sign-in form's POST, which Guard (rightly) refuses."""
    scripts = f"'nonce-{nonce}'" if nonce else "'none'"
    policy = (f"default-src 'none'; style-src {scripts if nonce else chr(39) + 'unsafe-inline' + chr(39)}; "
              f"script-src {scripts}; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
    return [(b"content-security-policy", policy.encode()), (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"same-origin"), (b"cache-control", b"no-store"),
            (b"x-content-type-options", b"nosniff")]


async def _send(send: Any, status: int, body: bytes, kind: str = "application/json",
                extra: list[tuple[bytes, bytes]] | None = None) -> None:
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", kind.encode()), (b"content-length", str(len(body)).encode()), *(extra or []),
    ]})
    await send({"type": "http.response.body", "body": body})


# --- the pages -----------------------------------------------------------------------------------------

_STYLE = """
:root { color-scheme: light dark; --ok: #1a7f37; --bad: #cf222e; --wait: #9a6700; --muted: #6e7781; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; max-width: 60rem;
       padding: 0.75rem; }
h1 { font-size: 1.3rem; margin: 0.2rem 0 0.6rem; } h2 { font-size: 1.05rem; margin: 1.2rem 0 0.4rem; }
.muted { color: var(--muted); font-size: 0.85rem; }
.card { border: 1px solid #8c959f55; border-radius: 8px; padding: 0.6rem 0.7rem; margin: 0.5rem 0; }
.row { display: flex; flex-wrap: wrap; gap: 0.3rem 0.8rem; align-items: baseline; }
.run-id { font-weight: 600; word-break: break-all; }
.badge { border-radius: 999px; padding: 0 0.5rem; font-size: 0.8rem; border: 1px solid currentColor; }
.delivered, .ended { color: var(--ok); } .failed { color: var(--bad); }
.queued, .retrying, .running { color: var(--wait); } .skipped, .sent { color: var(--muted); }
.bar { height: 6px; background: #8c959f33; border-radius: 3px; margin: 0.4rem 0; overflow: hidden; }
.bar > div { height: 100%; background: var(--ok); }
.chips { display: flex; flex-wrap: wrap; gap: 0.3rem; margin-top: 0.3rem; }
.chip { border-radius: 6px; padding: 0.05rem 0.45rem; font-size: 0.85rem; background: #8c959f22; }
.error { font-family: ui-monospace, monospace; font-size: 0.82rem; word-break: break-word; white-space: pre-wrap; }
button { font: inherit; padding: 0.3rem 0.9rem; border-radius: 6px; border: 1px solid #8c959f; cursor: pointer; }
input { font: inherit; padding: 0.4rem; width: 100%; max-width: 24rem; }
"""

_SCRIPT = """
"use strict";
const el = (tag, cls, text) => { const e = document.createElement(tag); if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text); return e; };
const when = (iso) => iso ? new Date(iso).toLocaleString() : "";
function channelChip(c) {
  const total = c.delivered + c.failed + c.queued + c.retrying + c.skipped;
  const chip = el("span", "chip " + c.state, c.channel + " " + c.state + " " + c.delivered + "/" + total);
  chip.dataset.channel = c.channel; chip.dataset.state = c.state; return chip;
}
function runCard(run) {
  const card = el("div", "card run"); card.dataset.run = run.run_id;
  const head = el("div", "row");
  head.append(el("span", "run-id", run.run_id), el("span", "badge " + run.state, run.state),
              el("span", "muted", run.events_total + " events · " + run.last_event + " · " + when(run.updated)));
  card.append(head);
  if (run.progress !== null && run.progress !== undefined) {
    const bar = el("div", "bar"); const fill = el("div"); fill.style.width = Math.round(run.progress * 100) + "%";
    bar.append(fill); card.append(bar);
    card.append(el("div", "muted", Math.round(run.progress * 100) + "%" + (run.step ? " · " + run.step : "")));
  }
  const chips = el("div", "chips"); run.channels.forEach((c) => chips.append(channelChip(c))); card.append(chips);
  return card;
}
function failedCard(d) {
  const card = el("div", "card failed-delivery"); card.dataset.delivery = d.id;
  const head = el("div", "row");
  head.append(el("span", "badge failed", d.channel), el("span", "run-id", d.run_id || d.title),
              el("span", "muted", d.event + " · " + d.outcome + (d.http_status ? " · HTTP " + d.http_status : "")
                 + " · " + when(d.at)));
  card.append(head, el("div", "error", d.error || ""));
  if (d.retried_by) { card.append(el("div", "muted", "retried")); }
  else {
    const button = el("button", "retry", "Retry");
    button.addEventListener("click", async () => {
      button.disabled = true; button.textContent = "Retrying…";
      const answer = await fetch("/status/retry", { method: "POST", headers: { "content-type": "application/json" },
        body: JSON.stringify({ delivery_id: d.id }), credentials: "same-origin" });
      const body = await answer.json();
      button.textContent = answer.ok ? "Queued again" : (body.error || "Refused");
      refresh();
    });
    card.append(button);
  }
  return card;
}
function pendingCard(d) {
  const card = el("div", "card pending"); card.dataset.delivery = d.id;
  const head = el("div", "row");
  head.append(el("span", "badge " + d.state, d.state), el("span", "run-id", d.channel + " · " + (d.run_id || d.title)),
              el("span", "muted", d.next_at ? "goes at " + when(d.next_at) : "goes when the channel is free"));
  card.append(head); if (d.error) card.append(el("div", "error", d.error)); return card;
}
function fill(id, items, make, empty) {
  const box = document.getElementById(id); box.replaceChildren();
  if (!items.length) box.append(el("div", "muted", empty)); else items.forEach((i) => box.append(make(i)));
}
async function refresh() {
  try {
    const answer = await fetch("/status/data", { credentials: "same-origin", cache: "no-store" });
    if (answer.status === 401) { location.reload(); return; }
    const data = await answer.json();
    fill("runs", data.runs, runCard, "No runs yet.");
    fill("failed", data.failed, failedCard, "No failed deliveries.");
    fill("pending", data.pending, pendingCard, "Nothing waiting.");
    document.getElementById("updated").textContent = "updated " + new Date().toLocaleTimeString()
      + (data.history ? "" : " · the delivery history is off (MCP_PUSH_HISTORY=false)");
    document.body.dataset.loaded = "yes";
  } catch (e) { document.getElementById("updated").textContent = "cannot reach the server: " + e; }
}
refresh(); setInterval(refresh, POLL_MS);
"""


def _document(title: str, body: str, nonce: str = "") -> bytes:
    style = f'<style nonce="{nonce}">' if nonce else "<style>"
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{title}</title>{style}{_STYLE}</style></head><body>{body}</body></html>").encode()


def _status_page(nonce: str) -> bytes:
    body = ('<h1>mcp-push</h1><div class="muted" id="updated">loading…</div>'
            '<h2>Recent runs</h2><div id="runs"></div>'
            '<h2>Failed deliveries</h2><div id="failed"></div>'
            '<h2>Waiting</h2><div id="pending"></div>'
            f'<script nonce="{nonce}">{_SCRIPT.replace("POLL_MS", str(POLL_MS))}</script>')
    return _document("mcp-push status", body, nonce)


def _login_page(problem: str) -> bytes:
    note = f'<p class="failed" id="problem">{problem}</p>' if problem else ""
    body = ('<h1>mcp-push</h1><p>This server needs its token (MCP_PUSH_HTTP_TOKEN) once; the browser then keeps '
            'a session cookie.</p>' + note +
            f'<form method="post" action="{LOGIN}"><input type="password" name="token" id="token" '
            'autocomplete="current-password" placeholder="token" required> <button type="submit">Sign in</button>'
            '</form>')
    return _document("mcp-push: sign in", body)
