"""Removes secret values, in every form they travel in, from text that leaves the engine.

Which values are secret is data: the spec's `secret: true` env vars, plus values a hook derives from
them (a Basic-auth header, a fetched token) and declares under `secrets`.
"""

from __future__ import annotations

import functools
import json
import re
import threading
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, quote_plus

from .wire import pct

MASK = "***"

_registry_lock = threading.Lock()
_registry: set[str] = set()  # every secret this process has seen, for the logging filter


_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://([^/?#]*)(.*)$", re.S)
# A piece of a secret URL shorter than this is a path word ("send", "api"), not a key.
MIN_URL_PIECE = 6


def _url_pieces(secret: str) -> list[str]:
    """A secret that is a URL (BARK_PUSH=https://host/KEY) travels in pieces: a vendor echoes the key
    alone. Its userinfo, path segments and query values are masked too."""
    match = _URL.match(secret)
    if not match:
        return []
    authority, rest = match.groups()
    pieces = [authority.rpartition("@")[0]] if "@" in authority else []
    pieces += re.split(r"[/?&=#;]", rest)
    return [piece for piece in pieces if len(piece) >= MIN_URL_PIECE]


def _forms(secret: str) -> set[str]:
    """The raw value and how it looks once URL- or JSON-encoded."""
    forms = {
        secret,
        pct(secret),
        quote_plus(secret),
        quote(secret, safe="/:"),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        repr(secret)[1:-1],  # exception texts quote header values with repr()
    }
    return {f for f in forms if f}


@functools.lru_cache(maxsize=1024)
def _secret_forms(secret: str) -> frozenset[str]:
    """Every form of a secret and of its URL pieces. Cached: the same secrets come with every message,
    and encoding each one seven ways was a fifth of plan()'s CPU time. (They are kept in _registry for
    the life of the process anyway.)"""
    new: set[str] = set()
    for value in [secret, *_url_pieces(secret)]:
        new |= _forms(value)
    return frozenset(new)


class Redactor:
    def __init__(self, secrets: Iterable[str] = ()):
        self._forms: list[str] = []
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        new: set[str] = set()
        for secret in secrets:
            if secret:
                new |= _secret_forms(str(secret))
        if not new:
            return
        with _registry_lock:
            _registry.update(new)
        # Longest first, so a secret that contains another is masked whole.
        self._forms = sorted(set(self._forms) | new, key=len, reverse=True)

    def text(self, value: str) -> str:
        for form in self._forms:
            if form in value:
                value = value.replace(form, MASK)
        return value

    def tree(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.tree(v) for v in value]
        if isinstance(value, dict):
            return {self.text(str(k)): self.tree(v) for k, v in value.items()}
        return value


def process_redactor() -> Redactor:
    """A redactor for every secret seen so far in this process (used by the logging filter)."""
    with _registry_lock:
        forms = sorted(_registry, key=len, reverse=True)
    redactor = Redactor()
    redactor._forms = forms
    return redactor
