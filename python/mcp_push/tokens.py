"""Process-wide cache of fetched credentials (WeCom app access_token), kept until shortly before expiry."""

from __future__ import annotations

import hashlib
import threading
import time

from .redact import REGISTRY

# Refresh a little early so a token never expires between the cache check and the vendor's check.
EXPIRY_MARGIN_S = 60


class TokenCache:
    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens: dict[str, tuple[str, float]] = {}

    @staticmethod
    def _key(cache_key: str) -> str:
        # Keys name credentials (corp secret); keep only a digest of them in memory.
        return hashlib.sha256(cache_key.encode()).hexdigest()

    # A cached token is a long-lived secret while it is cached: the process registry (the logging
    # filter) holds it in a slot named after the key, replaced on refresh and emptied when it goes.

    def get(self, cache_key: str) -> str | None:
        key = self._key(cache_key)
        with self._lock:
            entry = self._tokens.get(key)
            if entry and entry[1] > self._clock():
                return entry[0]
            if entry:
                del self._tokens[key]
        if entry:
            REGISTRY.drop(f"token:{key}")
        return None

    def put(self, cache_key: str, token: str, ttl_s: float) -> None:
        key = self._key(cache_key)
        with self._lock:
            expires = self._clock() + max(ttl_s - EXPIRY_MARGIN_S, 1)
            self._tokens[key] = (token, expires)
        REGISTRY.put(f"token:{key}", [token])

    def drop(self, cache_key: str) -> None:
        key = self._key(cache_key)
        with self._lock:
            self._tokens.pop(key, None)
        REGISTRY.drop(f"token:{key}")

    def clear(self) -> None:
        with self._lock:
            keys = list(self._tokens)
            self._tokens.clear()
        for key in keys:
            REGISTRY.drop(f"token:{key}")


TOKENS = TokenCache()
