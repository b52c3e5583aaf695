"""The server's env as one call sees it: a snapshot (config.EnvSnapshot) taken at the start of the call.

The env is read at every call (a live mapping works: a changed variable counts from the next call), but
a call reads it a hundred times (every channel's variables, the settings) and the answers only change
when the env does: while it compares equal, the same snapshot, with what was derived from it, is reused.
"""

from __future__ import annotations

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


class EnvView:
    """Snapshots of one env; safe to use from any thread (a race at worst takes a second snapshot)."""

    def __init__(self, source: Mapping[str, Any]):
        self.source = source
        self._last = EnvSnapshot()

    def current(self) -> EnvSnapshot:
        copy = flat_copy(self.source)
        last = self._last
        if copy == last:
            return last
        snapshot = self._last = EnvSnapshot(copy)
        return snapshot
