"""What the delivery engine tells whoever watches it: the history (history.py), the metrics (metrics.py),
or another backend (a PostgreSQL history) implementing the same four calls.

Observers are told from the engine's threads, sometimes under its lock: each call must be quick and must
not call back into the engine (queue the work, as the history's writer thread does). An observer that
raises is logged and ignored: watching never stops a delivery.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from .. import result as R
from .delivery import Delivery

log = logging.getLogger("mcp_push")


class DeliveryObserver(Protocol):
    def accepted(self, message: Any, entries: Sequence[Delivery | R.ChannelResult],
                 source: Mapping[str, Any]) -> None:
        """A message was accepted (history.Message): its deliveries queued, or results settled at once."""

    def waiting(self, delivery: Delivery, next_at: float) -> None:
        """A rate limit holds the delivery back until about `next_at` (Unix time)."""

    def retrying(self, delivery: Delivery, error: str, next_at: float | None) -> None:
        """A try failed (error redacted) and another one is due at `next_at`."""

    def settled(self, delivery: Delivery, result: R.ChannelResult) -> None:
        """The delivery is final (delivered, failed, superseded)."""


def tell(observers: Iterable[Any], event: str, *args: Any) -> None:
    for observer in observers:
        try:
            getattr(observer, event)(*args)
        except Exception:  # a watcher's bug must not stop a delivery
            log.warning("engine: a %s observer failed on %s", type(observer).__name__, event, exc_info=True)
