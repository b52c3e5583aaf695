"""Prometheus metrics of one engine (prometheus_client), served at /metrics by the HTTP server behind the
same checks and bearer token as the API (http_app.Guard):

    mcp_push_messages_total{kind}                       messages and events accepted
    mcp_push_deliveries_total{channel, status}          final deliveries by channel and result status
    mcp_push_queue_depth{channel, lane}                 deliveries waiting in each lane, read at scrape time
    mcp_push_retries_total{channel}                     tries that failed and were tried again
    mcp_push_rate_limit_waits_total{channel}            deliveries a rate limit held back
    mcp_push_delivery_latency_seconds{channel}          from acceptance to final, a histogram

A registry per engine (not the process-wide default): a test process holds many engines. Labels are
channel ids and lane keys (salted hashes, lanekey.py): never a credential.
"""

from __future__ import annotations

import logging
import time
import weakref
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import anyio
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

from .. import result as R
from .delivery import Delivery

log = logging.getLogger(__name__)

PATH = "/metrics"
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600)


class _QueueDepth:
    """A collector reading the engine's lanes when scraped (no bookkeeping on the delivery path)."""

    def __init__(self, engine: Any):
        self._engine = weakref.ref(engine)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily("mcp_push_queue_depth", "Deliveries waiting in a lane (one channel credential)",
                                   labels=["channel", "lane"])
        engine = self._engine()
        if engine is None:
            yield family
            return
        shared = getattr(engine, "queue_depths", None)  # PostgreSQL: the lanes are in the database, not here
        if shared is None:
            for lane in list(engine.lanes.values()):
                family.add_metric([lane.spec.name, lane.key], len(lane.queue) + (1 if lane.busy else 0))
            yield family
            return
        try:
            depths = shared()
        except Exception:  # PostgreSQL away: the other metrics are still served
            log.debug("metrics: reading the queue depths failed", exc_info=True)
            depths = []
        for channel, lane, count in depths:
            family.add_metric([channel, lane], count)
        yield family


class EngineMetrics:
    """An engine observer (observers.py) keeping the counters; `exposition()` is the /metrics body."""

    def __init__(self, engine: Any):
        self.registry = CollectorRegistry()
        self.messages = Counter("mcp_push_messages", "Messages and events accepted", ["kind"], registry=self.registry)
        self.deliveries = Counter("mcp_push_deliveries", "Final deliveries by channel and result status",
                                  ["channel", "status"], registry=self.registry)
        self.retries = Counter("mcp_push_retries", "Tries that failed and were tried again", ["channel"],
                               registry=self.registry)
        self.waits = Counter("mcp_push_rate_limit_waits", "Deliveries a rate limit held back", ["channel"],
                             registry=self.registry)
        self.latency = Histogram("mcp_push_delivery_latency_seconds", "From acceptance to final, per delivery",
                                 ["channel"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.registry.register(_QueueDepth(engine))
        self._accepted: weakref.WeakKeyDictionary[Delivery, float] = weakref.WeakKeyDictionary()
        # labels() checks and locks on every call: the children each (metric, labels) has, looked up once.
        # They stay registered (nothing here removes one), so a kept child is the one labels() would give.
        self._children: dict[tuple[Any, ...], Any] = {}

    def _child(self, metric: Any, *labels: str) -> Any:
        key = (id(metric), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def accepted(self, message: Any, entries: Sequence[Delivery | R.ChannelResult], source: Mapping[str, Any]) -> None:
        self._child(self.messages, message.kind).inc()
        now = time.monotonic()
        for entry in entries:
            if isinstance(entry, Delivery):
                self._accepted[entry] = now
            else:  # settled at once: refused (queue full), a setting that cannot work, skipped
                self._child(self.deliveries, entry.channel, entry.status).inc()

    def waiting(self, delivery: Delivery, next_at: float) -> None:
        self.waits.labels(delivery.channel).inc()

    def retrying(self, delivery: Delivery, error: str, next_at: float | None) -> None:
        self.retries.labels(delivery.channel).inc()

    def settled(self, delivery: Delivery, result: R.ChannelResult) -> None:
        self._child(self.deliveries, delivery.channel, result.status).inc()
        started = self._accepted.pop(delivery, None)
        if started is not None:
            self._child(self.latency, delivery.channel).observe(time.monotonic() - started)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


def metrics_of(engine: Any) -> EngineMetrics | None:
    return next((o for o in engine.observers if isinstance(o, EngineMetrics)), None)


class MetricsApp:
    """ASGI: GET /metrics here (Prometheus text format), everything else to `app`."""

    def __init__(self, app: Any, engine: Any):
        self.app, self.engine = app, engine

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("path") != PATH or self.engine is None:
            await self.app(scope, receive, send)
            return
        metrics = metrics_of(self.engine)
        if scope.get("method") not in ("GET", "HEAD"):
            status, body, kind = 405, b"GET only\n", "text/plain; charset=utf-8"
        elif metrics is None:
            status, body, kind = 404, b"no metrics: the engine has none attached\n", "text/plain; charset=utf-8"
        else:
            # Off the event loop: a collector may read a database (PostgreSQL's shared history, pg/history.py).
            status, body, kind = 200, await anyio.to_thread.run_sync(metrics.exposition), CONTENT_TYPE_LATEST
        await send({"type": "http.response.start", "status": status, "headers": [
            (b"content-type", kind.encode()), (b"content-length", str(len(body)).encode()),
            *([(b"allow", b"GET, HEAD")] if status == 405 else []),
        ]})
        await send({"type": "http.response.body", "body": body if scope.get("method") != "HEAD" else b""})
