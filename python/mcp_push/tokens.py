"""Process-wide cache of fetched credentials (WeCom app access_token), kept until shortly before expiry."""

from __future__ import annotations

import hashlib
import threading
import time

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

    def get(self, cache_key: str) -> str | None:
        with self._lock:
            entry = self._tokens.get(self._key(cache_key))
            if entry and entry[1] > self._clock():
                return entry[0]
            return None

    def put(self, cache_key: str, token: str, ttl_s: float) -> None:
        with self._lock:
            expires = self._clock() + max(ttl_s - EXPIRY_MARGIN_S, 1)
            self._tokens[self._key(cache_key)] = (token, expires)

    def drop(self, cache_key: str) -> None:
        with self._lock:
            self._tokens.pop(self._key(cache_key), None)

    def clear(self) -> None:
        with self._lock:
            self._tokens.clear()


TOKENS = TokenCache()
