"""/metrics (metrics.py): Prometheus text from the engine's observers, behind the API's checks and token."""

from __future__ import annotations

import httpx2
from prometheus_client.parser import text_string_to_metric_families

from mcp_push import retry
from mcp_push.service.engine import Engine
from mcp_push.service.metrics import EngineMetrics
from mcp_push.service.outbox import Outbox

from .local_server import Behaviour
from .mcp_helpers import http_server, ntfy_env, webhook_env

TOKEN = "metrics-token-for-tests-77ab"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """{(sample name, sorted labels): value} of an exposition."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


class FakeClock:
    now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_the_counters_follow_deliveries_waits_retries_and_lanes(vendor, monkeypatch):
    clock = FakeClock()
    env = {"QYWX_KEY": "key_wb_test", "QYWX_ORIGIN": vendor.url, "HITOKOTO": "false"}
    engine = Engine(env, Outbox(None), clock)
    metrics = EngineMetrics(engine)
    engine.observers.append(metrics)
    monkeypatch.setattr(retry, "PACE", retry.Pace(lambda s: None, lambda: 0.0, lambda: 0.0, at_once=1))
    vendor.script = [Behaviour(status=503, body="busy")]  # the first message's first try
    for i in range(25):
        engine.submit("t", f"m{i}")
    engine.pump()
    got = samples(metrics.exposition().decode())
    delivered = got[("mcp_push_deliveries_total", (("channel", "wecom_bot"), ("status", "delivered")))]
    depth = got[("mcp_push_queue_depth", (("channel", "wecom_bot"), ("lane", next(iter(engine.lanes)))))]
    assert delivered + depth == 25 and depth >= 1
    assert got[("mcp_push_messages_total", (("kind", "message"),))] == 25
    assert got[("mcp_push_retries_total", (("channel", "wecom_bot"),))] == 1
    assert got[("mcp_push_rate_limit_waits_total", (("channel", "wecom_bot"),))] == depth
    assert got[("mcp_push_delivery_latency_seconds_count", (("channel", "wecom_bot"),))] == delivered


def test_metrics_over_http_need_the_token_and_count_what_was_sent(vendor):
    vendor.routes["/hook"] = Behaviour(status=500, body="down")
    env = {**ntfy_env(vendor), **webhook_env(vendor), "MCP_PUSH_HTTP_TOKEN": TOKEN, "MCP_PUSH_RETRY_ATTEMPTS": "1"}
    with http_server(env) as url:
        root = url.removesuffix("/mcp")
        with httpx2.Client(timeout=30) as client:
            denied = client.get(root + "/metrics")
            sent = client.post(root + "/v1/messages", json={"title": "t", "content": "c", "wait": True},
                               headers={"Authorization": f"Bearer {TOKEN}"})
            answer = client.get(root + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
            foreign = client.get(root + "/metrics", headers={"Authorization": f"Bearer {TOKEN}",
                                                             "Host": "evil.example"})
    assert denied.status_code == 401 and sent.status_code == 200
    assert foreign.status_code == 421
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    got = samples(answer.text)
    assert got[("mcp_push_deliveries_total", (("channel", "ntfy"), ("status", "delivered")))] == 1
    assert got[("mcp_push_deliveries_total", (("channel", "webhook"), ("status", "rejected")))] == 1
    assert TOKEN not in answer.text
