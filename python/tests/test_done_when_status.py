"""Issue 17's "Done when": after a run with a start, 20 updates, an end and one failing channel, reported
to `mcp-push serve --transport http` over MCP, notify_status, the runs/{id} resource, `mcp-push status`,
the status page (in headless Chromium) and /metrics all show the same facts."""

from __future__ import annotations

import json

import anyio
import httpx2
from mcp import Client
from selenium.webdriver.common.by import By

from .browser import chromium, read, screenshot, wait_until  # noqa: F401  (fixture)
from .local_server import Behaviour
from .mcp_helpers import http_server, ntfy_env, webhook_env
from .test_cli import mcp_push
from .test_metrics import samples

RUN = "done-when-run"
EVENTS = 22  # start, 20 updates, end


async def report_and_ask(url: str) -> tuple[dict, dict]:
    async with Client(url) as client:
        events = [("start", {})] + [("update", {"progress": i / 20, "step": f"step {i}"}) for i in range(1, 21)]
        for event, data in events + [("end", {})]:
            result = await client.call_tool("notify_event", {"run_id": RUN, "event": event, "message": event,
                                                             "data": data, "wait": True})
            assert result.structured_content["message_id"]
        status = (await client.call_tool("notify_status", {"run_id": RUN, "limit": 500})).structured_content
        resource = json.loads((await client.read_resource(f"mcp-push://runs/{RUN}")).contents[0].text)
    return status, resource


def facts(channels: list[dict]) -> dict[str, tuple[str, int, int]]:
    return {c["channel"]: (c["state"], c["delivered"], c["failed"]) for c in channels}


def test_every_view_of_a_run_with_a_failing_channel_agrees(vendor, chromium):  # noqa: F811
    vendor.routes["/hook"] = Behaviour(status=502, body="bad gateway")
    env = {**ntfy_env(vendor), **webhook_env(vendor), "MCP_PUSH_RETRY_ATTEMPTS": "1"}
    expected = {"ntfy": ("delivered", EVENTS, 0), "webhook": ("failed", 0, EVENTS)}
    with http_server(env) as url:
        root = url.removesuffix("/mcp")
        status, resource = anyio.run(report_and_ask, url)
        cli = json.loads(mcp_push("status", RUN, "--json", env=env).stdout)
        table = mcp_push("status", RUN, env=env).stdout
        with httpx2.Client(timeout=30) as client:
            metrics = samples(client.get(root + "/metrics").text)
        chromium.get(root + "/")
        wait_until(chromium, lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-loaded") == "yes")

        def view(d):
            card = d.find_element(By.CSS_SELECTOR, f'.run[data-run="{RUN}"]')
            chips = {c.get_attribute("data-channel"): (c.get_attribute("data-state"), c.text)
                     for c in card.find_elements(By.CSS_SELECTOR, ".chip")}
            return chips, card.text, [f.text for f in d.find_elements(By.CSS_SELECTOR, ".failed-delivery")]

        page, page_text, failed_cards = read(chromium, view)
        screenshot(chromium, "done-when-run.png")

    for view in (status, resource, cli):
        assert (view["run_id"], view["state"], view["events_total"], view["progress"]) == (RUN, "ended", EVENTS, 1.0)
        assert facts(view["channels"]) == expected
        assert "HTTP 502: bad gateway" in {c["channel"]: c for c in view["channels"]}["webhook"]["error"]
    assert [e["event"] for e in status["events"]] == ["start"] + ["update"] * 20 + ["end"]
    assert status["channels"] == resource["channels"] == cli["channels"]
    lines = table.splitlines()
    assert lines[0].startswith(f"run {RUN}: ended, {EVENTS} events, progress 100%")
    assert lines[2].split()[:4] == ["ntfy", "delivered", str(EVENTS), "0"]
    assert lines[3].split()[:4] == ["webhook", "failed", "0", str(EVENTS)] and "HTTP 502: bad gateway" in lines[3]
    assert page == {"ntfy": ("delivered", f"ntfy delivered {EVENTS}/{EVENTS}"),
                    "webhook": ("failed", f"webhook failed 0/{EVENTS}")}
    assert "ended" in page_text and f"{EVENTS} events" in page_text and "100%" in page_text
    assert failed_cards and all("HTTP 502: bad gateway" in text for text in failed_cards)
    assert metrics[("mcp_push_deliveries_total", (("channel", "ntfy"), ("status", "delivered")))] == EVENTS
    assert metrics[("mcp_push_deliveries_total", (("channel", "webhook"), ("status", "rejected")))] == EVENTS
    assert metrics[("mcp_push_messages_total", (("kind", "update"),))] == 20
