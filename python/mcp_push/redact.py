"""Removes secret values, in every form they travel in, from text that leaves mcp-push.

Which values are secret is data: the spec's `secret: true` env vars (with `secret_parts` for composite
values), the userinfo of any URL setting, proxy credentials from the environment, plus values a hook
derives and declares under `secrets` (long-lived) or `message_secrets` (this message only). The rules
are in spec/README.md, "Secrets"; js/src/redact.js applies the same ones.
"""

from __future__ import annotations

import base64
import functools
import json
import os
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus, unquote

from .config import strip_space
from .wire import pct

MASK = "***"
# A secret (or a part of one) shorter than this is masked only where it stands as a whole token: a
# one-letter CHAT_TOKEN must not eat every "c" of a log line.
LONG_SECRET = 8
# Characters that make up a token: a short secret counts only where neither neighbour is one of these.
_TOKEN_CHAR = re.compile(r"[A-Za-z0-9_-]")
_ALNUM = re.compile(r"[A-Za-z0-9]")
# Path segments and query values that name an API, never a credential (compared ignoring case).
COMMON_PATH_WORDS = frozenset("""
    api apis app apps bot bots cgi-bin chat default hook hooks incoming index invoke json manual message
    messages notify open-apis path paths push robot send sendmessage service services spaces text token
    trigger triggers v1 v2 v3 v4 v5 webhook webhooks workflows title content key
""".split())
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://([^/?#]*)([^?#]*)(?:\?([^#]*))?(?:#(.*))?$", re.S)
# QingLong's placeholders in WEBHOOK_URL separate pieces like a '/' does.
_PLACEHOLDER = re.compile(r"\$(?:title|content)")
_PCT_HEX = re.compile(r"%[0-9A-F]{2}")
_LINES = re.compile(r"\r\n|\n|\r")
# A header value is a credential when its name says so, or when it is long enough to be a token.
_SECRET_HEADER = re.compile(r"auth|token|key|secret|sign|cookie|pass|session", re.I)
_PLAIN_HEADERS = frozenset({"content-type", "accept", "user-agent", "accept-language", "cache-control"})
_SCHEME_VALUE = re.compile(r"^([A-Za-z][A-Za-z0-9_-]*) +([^ \t\n\r\f\v]+)$")
# Result statuses (result.py) and the fields of a result and an outcome.
STATUS_WORDS = ("delivered", "rejected", "network_error", "timeout", "config_error", "skipped", "internal_error",
                "queued", "superseded", "retrying")
FIELD_WORDS = ("ok", "status", "error", "channel", "channels", "delivered", "queued", "total", "skipped", "summary",
               "elapsed_ms", "http_status", "attempts", "parts", "truncated", "true", "false", "null")
# Proxy settings every HTTP client reads from the process environment.
PROXY_VARS = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "https_proxy", "http_proxy", "all_proxy")


# --- what a secret is made of -----------------------------------------------------------------------


def is_token(piece: str) -> bool:
    """A URL path segment or query value that carries a credential: not a common path word, and
    16 characters or more, or letters and digits mixed."""
    if not _ALNUM.search(piece) or piece.lower() in COMMON_PATH_WORDS:
        return False
    return len(piece) >= 16 or (re.search(r"[A-Za-z]", piece) is not None and re.search(r"[0-9]", piece) is not None)


def b64(text: str) -> list[str]:
    """Base64 of the UTF-8 text, with its padding and without (a reply may drop it)."""
    encoded = base64.b64encode(text.encode("utf-8", "replace")).decode("ascii")
    return [encoded, encoded.rstrip("=")]


def auth_forms(user: str, password: str) -> list[str]:
    """The compositions a login travels in: `user:password` (HTTP Basic, before and after Base64) and
    SMTP AUTH PLAIN's `\\0user\\0password` in Base64. Never the user name alone."""
    if not password:
        return []
    return [password, f"{user}:{password}", *b64(f"{user}:{password}"), *b64(f"\0{user}\0{password}")]


def userinfo_parts(userinfo: str) -> list[str]:
    """`user:password` (raw or percent-encoded, as in a URL): the password and the compositions of both;
    a userinfo without ':' is a token itself."""
    if not userinfo:
        return []
    user, colon, password = userinfo.partition(":")
    if not colon:
        return [userinfo, unquote(userinfo)]
    return [password, userinfo, *auth_forms(unquote(user), unquote(password))]


def _pieces(text: str) -> list[str]:
    """The pieces of a path or query value, raw and percent-decoded; a decoded '/' splits again."""
    out: list[str] = []
    for raw in _PLACEHOLDER.split(text):
        out.append(raw)
        decoded = unquote(raw)
        if decoded != raw:
            out += [decoded, *decoded.split("/")]
    return [p for p in out if p]


def url_parts(value: str) -> list[str] | None:
    """The parts of a URL that carry its credential: the userinfo, and the path segments and query
    values that are tokens (is_token). A URL with no token piece has its credential somewhere anyway:
    then every path segment and query value that is no common word counts. None for a non-URL.
    The scheme, the host and the query keys are never parts."""
    match = _URL.match(value)
    if not match:
        return None
    authority, path, query, fragment = match.groups()
    userinfo, at, _ = authority.rpartition("@")
    candidates = [piece for segment in path.split("/") for piece in _pieces(segment)]
    for pair in re.split(r"[&;]", query or ""):
        candidates += _pieces(pair.partition("=")[2])
    candidates += _pieces(fragment or "")
    tokens = [p for p in candidates if is_token(p)]
    if not tokens:
        tokens = [p for p in candidates if _ALNUM.search(p) and p.lower() not in COMMON_PATH_WORDS]
    parts = (userinfo_parts(userinfo) if at else []) + tokens
    # A bare https://host/ carries nothing but the host: then the whole value is the secret.
    return parts or [value]


def url_userinfo(value: str) -> list[str]:
    """The credential in a URL setting that is not secret itself (NTFY_URL=http://user:pw@host)."""
    if "@" not in value:  # no userinfo without one (the planner asks for every planned URL)
        return []
    match = _URL.match(strip_space(value))
    if not match:
        return []
    userinfo, at, _ = match.group(1).rpartition("@")
    return userinfo_parts(userinfo) if at else []


# url_userinfo of a setting's value, remembered: plan() asks for every URL setting and proxy variable of
# every channel of every message, and the same few values come back (a planned URL, which may carry
# the message, is not remembered).
@functools.lru_cache(maxsize=256)
def _setting_userinfo(value: str) -> tuple[str, ...]:
    return tuple(url_userinfo(value)) if value else ()


def header_parts(text: str) -> list[str]:
    """`Name: value` lines: each value that is a credential, the credential after its scheme word
    (`Bearer x` -> x), and for Basic the user:password it decodes to."""
    parts: list[str] = []
    for line in _LINES.split(text):
        name, colon, value = line.partition(":")
        name, value = strip_space(name), strip_space(value)
        if not colon or not value:
            continue
        if not (_SECRET_HEADER.search(name) or (len(value) >= 16 and name.lower() not in _PLAIN_HEADERS)):
            continue
        parts.append(value)
        scheme = _SCHEME_VALUE.match(value)
        if scheme:
            parts.append(scheme.group(2))
            if scheme.group(1).lower() == "basic":
                try:
                    decoded = base64.b64decode(scheme.group(2) + "==", validate=False).decode("utf-8", "replace")
                except ValueError:
                    decoded = ""
                parts += userinfo_parts(decoded)
    return parts


def urls_parts(value: str) -> list[str]:
    """URLs separated by white space or commas (APPRISE_URLS): each URL (whose userinfo, path and query
    tokens secret_forms masks), and its host too where that is a token, as services put a credential there
    (Apprise's tgram://<bot token>/<chat>)."""
    parts: list[str] = []
    for url in re.split(r"[ \t\n\r\f\v,]+", value):
        if not url:
            continue
        parts.append(url)
        match = _URL.match(url)
        if match:
            host = match.group(1).rpartition("@")[2]
            parts += [piece for piece in (host, host.rpartition(":")[0]) if piece and is_token(piece)]
    return parts


_SHAPES = {
    "userinfo": userinfo_parts,
    "header_values": header_parts,
    "list": lambda value: [strip_space(item) for item in value.split(",") if strip_space(item)],
    "urls": urls_parts,
}


def env_secrets(env_vars: Mapping[str, Any], env: Mapping[str, Any]) -> list[str]:
    """The secrets in one channel's settings: each `secret: true` value with its `secret_parts`, and the
    userinfo of every URL-valued setting. `env_vars` is the spec's env block (name -> EnvVar)."""
    found: list[str] = []
    for name, var in env_vars.items():
        value = str(env.get(name) or "")
        if not value:
            continue
        if var.secret:
            found.append(value)
            for shape in var.secret_parts:
                found += _SHAPES[shape](value)
        else:
            found += _setting_userinfo(value)
    return found


def proxy_secrets(environ: Mapping[str, str] | None = None) -> list[str]:
    """Credentials in HTTPS_PROXY / HTTP_PROXY / ALL_PROXY (any case), which the HTTP clients use."""
    environ = os.environ if environ is None else environ
    return [part for value in _proxy_values(environ) for part in _setting_userinfo(value)]


# os.environ's keys as its private store (_data, CPython on POSIX) holds them: plan() reads these six
# for every channel, mostly unset, and os.environ.get of an unset name raises and catches two KeyErrors.
_ENCODED_PROXY_VARS = tuple(os.fsencode(name) for name in PROXY_VARS) if os.name == "posix" else ()


def _proxy_values(environ: Mapping[str, str]) -> list[str]:
    data = getattr(environ, "_data", None) if isinstance(environ, os._Environ) else None
    if _ENCODED_PROXY_VARS and isinstance(data, dict):
        return [os.fsdecode(raw) for raw in map(data.get, _ENCODED_PROXY_VARS) if raw]
    return [environ.get(name, "") for name in PROXY_VARS]


# --- how a secret travels ---------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def protected_words() -> frozenset[str]:
    """Words output is made of, never masked even when a (silly) secret equals one: channel ids, status
    words, result field names and common path words."""
    from .specs import SpecError, channel_ids

    try:
        channels = channel_ids()
    except SpecError:  # masking must work even when a broken spec is what is being reported
        channels = ()
    return frozenset(w.lower() for w in (*channels, *STATUS_WORDS, *FIELD_WORDS, *COMMON_PATH_WORDS))


def _encodings(value: str) -> set[str]:
    """The value and how it looks once URL-, JSON-, repr- or Base64-encoded; percent-encodings also with
    lower-case hex digits and encoded twice."""
    encoded = pct(value)
    forms = {
        value,
        encoded,
        pct(encoded),
        quote_plus(value),
        quote(value, safe="/:"),
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
        repr(value)[1:-1],  # exception texts quote header values with repr()
        *b64(value),
        base64.urlsafe_b64encode(value.encode("utf-8", "replace")).decode("ascii").rstrip("="),
    }
    forms |= {_PCT_HEX.sub(lambda m: m.group().lower(), f) for f in forms if "%" in f}
    return {f for f in forms if f}


@functools.lru_cache(maxsize=4096)
def secret_forms(secret: str) -> tuple[tuple[str, bool], ...]:
    """(form, whole_token_only) for every form of a secret and of its URL parts. Cached: the same secrets
    come with every message."""
    parts = url_parts(secret)
    protected = protected_words()
    out: dict[str, bool] = {}
    for base in parts if parts is not None else [secret]:
        short = len(base) < LONG_SECRET
        if short and not _ALNUM.search(base):
            continue  # ", " is no credential; masking it would eat punctuation
        for form in _encodings(base):
            if form.lower() in protected:
                continue
            out[form] = out.get(form, True) and short
    return tuple(out.items())


def _bounded(text: str, start: int, end: int) -> bool:
    """True when the match stands as a whole token: no token character right before or after it."""
    return (start == 0 or not _TOKEN_CHAR.match(text[start - 1])) and (
        end == len(text) or not _TOKEN_CHAR.match(text[end]))


class Redactor:
    """Masks a set of secrets. `add` is for this redactor only (a message's own secrets); the process
    registry (REGISTRY) is fed separately, with long-lived secrets only."""

    def __init__(self, secrets: Iterable[str] = ()):
        self._forms: dict[str, bool] = {}
        self._items: tuple[tuple[str, bool], ...] = ()  # _forms' items, as text() walks them
        self._long: frozenset[str] = frozenset()  # the forms masked anywhere (whole=False): a key must be one
        # {text: text masked} under exactly these forms, shared with the channel setup that made it
        # (from_forms): texts every message repeats are masked once. Dropped when a form is added.
        self._memo: Mapping[str, str] | None = None
        self._shared = False  # _forms is another redactor's too (copy()): copied before it is changed
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        forms = self._forms
        changed = False
        for secret in secrets:
            if secret:
                if self._shared:
                    forms = self._forms = dict(forms)
                    self._shared = False
                for form, whole in secret_forms(str(secret)):
                    was = forms.get(form)
                    forms[form] = (True if was is None else was) and whole
                    changed = changed or forms[form] is not was
        if changed:
            self._memo = None  # masked under fewer forms than these: no longer the answer
            # A new tuple, never one changed in place: a text() under way keeps walking the one it took.
            self._items = tuple(forms.items())
            self._long = frozenset(form for form, whole in self._items if not whole)

    @classmethod
    def from_forms(cls, forms: Mapping[str, bool], memo: Mapping[str, str] | None = None) -> Redactor:
        """A redactor masking the forms another one has (forms()): no secret is worked out again. `memo`:
        texts already masked under exactly these forms (the channel setup's), read, never written."""
        made = cls()
        made._forms = dict(forms)
        made._items = tuple(made._forms.items())
        made._long = frozenset(form for form, whole in made._items if not whole)
        made._memo = memo
        return made

    def copy(self, memo: Mapping[str, str] | None = None) -> Redactor:
        """A new redactor masking what this one masks, sharing its forms until one of them adds a secret
        (a plan's redactor from its setup's, once per message). `memo` as in from_forms."""
        made = Redactor.__new__(Redactor)
        made._forms, made._items, made._long = self._forms, self._items, self._long
        made._memo = memo
        made._shared = self._shared = True
        return made

    def forms(self) -> dict[str, bool]:
        """A copy of what this redactor masks: {form: whole_token_only}."""
        return dict(self._forms)

    def extended(self, secrets: Iterable[str]) -> Redactor:
        """A new redactor masking these secrets too; this one is left as it is (a plan's, shared)."""
        wider = Redactor.from_forms(self._forms)
        wider.add(secrets)
        return wider

    def text(self, value: str) -> str:
        """Every occurrence of every form is masked, overlaps merged into one mask: masking one secret
        first must not leave half of another that overlaps it visible."""
        memo = self._memo
        if memo is not None:
            known = memo.get(value)
            if known is not None:
                return known
        spans: list[tuple[int, int]] = []
        for form, whole in self._items:  # a snapshot: a token may be added meanwhile
            if form not in value:  # most forms are in no text: `in` is the cheapest way to say so
                continue
            start = value.find(form)
            while start != -1:
                end = start + len(form)
                if not whole or _bounded(value, start, end):
                    spans.append((start, end))
                start = value.find(form, start + 1)
        if not spans:
            return value
        spans.sort()
        out, cursor, open_start, open_end = [], 0, spans[0][0], spans[0][1]
        for start, end in spans[1:]:
            if start <= open_end:
                open_end = max(open_end, end)
                continue
            out += [value[cursor:open_start], MASK]
            cursor, open_start, open_end = open_end, start, end
        out += [value[cursor:open_start], MASK, value[open_end:]]
        return "".join(out)

    def tree(self, value: Any) -> Any:
        """Values masked; a key only when it is exactly a long secret (keys are field names, channel ids)."""
        if isinstance(value, str):
            return self.text(value)
        # Text values are masked without a call through tree() each, and a remembered one (the memo)
        # without a call at all; text() gives "" for "", so a memo's "" falling through is still right.
        text, tree = self.text, self.tree
        known = _NOTHING_KNOWN if self._memo is None else self._memo.get
        if isinstance(value, list):
            return [(known(v) or text(v)) if type(v) is str else tree(v) for v in value]
        if isinstance(value, dict):
            if self._long.isdisjoint(map(str, value)):  # no key is a long secret: keys kept, no test each
                return {k: (known(v) or text(v)) if type(v) is str else tree(v) for k, v in value.items()}
            long = self._long
            return {(MASK if str(k) in long else k): (known(v) or text(v)) if type(v) is str else tree(v)
                    for k, v in value.items()}
        return value


_NOTHING_KNOWN = {}.get  # the memo's get for a redactor without one


class SecretRegistry:
    """The process-wide secrets the logging filter masks: long-lived ones only (settings' credentials,
    what hooks derive from them, proxy credentials, and fetched tokens while they are cached). A
    message's own derived values (signatures) live in that message's Redactor, so this stays as large
    as the configuration, however many messages go out."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._secrets: dict[str, None] = {}
        self._slots: dict[str, tuple[str, ...]] = {}
        self._redactor: Redactor | None = None
        self.generation = 0  # counts clear()s: what was added before one is no longer held

    def add(self, secrets: Iterable[str]) -> None:
        new = [s for s in map(str, secrets) if s and s not in self._secrets]
        if new:
            with self._lock:
                self._secrets.update(dict.fromkeys(new))
                self._redactor = None

    def put(self, slot: str, secrets: Iterable[str]) -> None:
        """Secrets that replace the slot's previous ones (a refreshed token replaces the old one)."""
        with self._lock:
            self._slots[slot] = tuple(s for s in map(str, secrets) if s)
            self._redactor = None

    def drop(self, slot: str) -> None:
        with self._lock:
            if self._slots.pop(slot, None) is not None:
                self._redactor = None

    def clear(self) -> None:
        """Forgets every secret: for a test, whose settings must not mask the next test's text."""
        with self._lock:
            self._secrets.clear()
            self._slots.clear()
            self._redactor = None
            self.generation += 1

    def __len__(self) -> int:
        """Secrets held (entries, not forms)."""
        with self._lock:
            return len(self._secrets) + sum(len(v) for v in self._slots.values())

    def redactor(self) -> Redactor:
        """One Redactor for all of them, rebuilt only when they change (the filter runs per log line)."""
        with self._lock:
            if self._redactor is None:
                self._redactor = Redactor([*self._secrets, *(s for v in self._slots.values() for s in v)])
            return self._redactor


REGISTRY = SecretRegistry()


def process_redactor() -> Redactor:
    """A redactor for every long-lived secret this process knows (used by the logging filter)."""
    REGISTRY.add(proxy_secrets())
    return REGISTRY.redactor()
