"""The server's env as one call sees it: a snapshot (config.EnvSnapshot) taken at the start of the call.

The env is read at every call (a live mapping works: a changed variable counts from the next call), but
a call reads it a hundred times (every channel's variables, the settings) and the answers only change
when the env does: while it compares equal, the same snapshot, with what was derived from it, is reused.
"""

from __future__ import annotations

import os
from collections import ChainMap
from collections.abc import Mapping
from typing import Any

from ..config import EnvSnapshot


def flat_copy(source: Mapping[str, Any]) -> dict[str, Any]:
    """A plain dict with the mapping's items; a ChainMap (agent_defaults) merged layer by layer, which is
    several times faster than iterating it."""
    if isinstance(source, ChainMap):
        merged: dict[str, Any] = {}
        for layer in reversed(source.maps):
            merged.update(flat_copy(layer))
        return merged
    return dict(source)


def _raw(source: Mapping[str, Any]) -> Any:
    """What tells whether the env changed, cheaply: os.environ's own dict of encoded items (copying it
    is one C call; decoding every item, as iterating os.environ does, is most of the cost of a
    snapshot), else the flat copy itself."""
    # os.environ's _data is CPython's private store: used when present, else the plain copy below.
    data = getattr(source, "_data", None) if isinstance(source, os._Environ) else None
    if isinstance(data, dict):
        return dict(data)
    if isinstance(source, ChainMap):
        return [_raw(layer) for layer in source.maps]
    return flat_copy(source)


class EnvView:
    """Snapshots of one env; safe to use from any thread (a race at worst takes a second snapshot)."""

    def __init__(self, source: Mapping[str, Any]):
        self.source = source
        self._last: tuple[Any, EnvSnapshot] = (None, EnvSnapshot())

    def current(self) -> EnvSnapshot:
        raw = _raw(self.source)
        seen, snapshot = self._last
        if raw == seen:
            return snapshot
        snapshot = EnvSnapshot(flat_copy(self.source))
        self._last = (raw, snapshot)
        return snapshot
