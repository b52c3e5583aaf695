"""The issue's "Done when" (docs/ROUTING.md): two DingTalk robots and a Telegram chat, three routes (errors to
all, loud; updates to Telegram, quiet and throttled; ends of nightly runs to the robots, only recoveries),
sent to loopback vendors by the library and through the MCP server (a real SDK client). DingTalk's fixed
host is pointed at the vendor by a copy of the specs (MCP_PUSH_SPEC_DIR); js/test/routing_e2e.test.js does
the same in Node."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from mcp import Client

from mcp_push.events import RunLog, send_event
from mcp_push.specs import clear_caches

from .mcp_helpers import OWNED_ENGINES, anyio_backend, in_process_server  # noqa: F401  (shared fixtures)

REPO = Path(__file__).resolve().parents[2]
DONE_WHEN = """\
channels:
  ops-a: {type: dingtalk, env: {DD_BOT_TOKEN: "${OPS_A_TOKEN}", DD_BOT_SECRET: "${OPS_A_SECRET}"}, tags: [oncall]}
  ops-b: {type: dingtalk, env: {DD_BOT_TOKEN: "${OPS_B_TOKEN}"}, tags: [oncall]}
  me:    {type: telegram, env: {TG_BOT_TOKEN: "${TG_TOKEN}", TG_USER_ID: "42", TG_API_HOST: "${TG_HOST}"}}
routes:
  - when: {event: [error]}
    to: [tag:oncall, me]
    priority: high
  - when: {event: [update]}
    to: [me]
    throttle: 60s
  - when: {event: [end], run_id: "nightly-*"}
    to: [tag:oncall]
    only: recoveries
"""


@pytest.fixture
def routed(tmp_path, vendor, monkeypatch):
    """The config, its secrets in the environment, and the specs with DingTalk's host at the vendor."""
    specs = tmp_path / "spec"
    shutil.copytree(REPO / "spec", specs)
    (specs / "validated.json").unlink()  # read from the YAML, changed below
    dingtalk = specs / "channels" / "dingtalk.yaml"
    dingtalk.write_text(dingtalk.read_text().replace("https://oapi.dingtalk.com", f"{vendor.url}/dingtalk"))
    config = tmp_path / "mcp-push.yaml"
    config.write_text(DONE_WHEN)
    for name, value in {"MCP_PUSH_SPEC_DIR": str(specs), "MCP_PUSH_CONFIG": str(config),
                        "OPS_A_TOKEN": "tok_ops_a_0001", "OPS_A_SECRET": "SEC_ops_a_0001",
                        "OPS_B_TOKEN": "tok_ops_b_0002",
                        "TG_TOKEN": "123456:tg_e2e_0003", "TG_HOST": f"{vendor.url}/tg"}.items():
        monkeypatch.setenv(name, value)
    clear_caches()
    yield vendor
    clear_caches()


def _sent(vendor) -> list[tuple[str, dict]]:
    """(who got it: ops-a, ops-b or me, the body) for each request the vendor received, in order."""
    out = []
    for request in vendor.received:
        if request.path.startswith("/tg/"):
            out.append(("me", json.loads(request.body)))
        else:
            token = parse_qs(urlsplit(request.path).query)["access_token"][0]
            out.append(({"tok_ops_a_0001": "ops-a", "tok_ops_b_0002": "ops-b"}[token], json.loads(request.body)))
    vendor.received.clear()
    return out


def _event(event: str, run_id: str, message: str = "step") -> dict:
    return {"run_id": run_id, "event": event, "message": message}


def test_the_library_sends_errors_loud_to_all_and_updates_quietly_to_telegram(routed):
    runs = RunLog()
    result = send_event(_event("error", "nightly-1", "disk full"), runs=runs)
    assert [(r.channel, r.status) for r in result] == [("ops-a", "delivered"), ("ops-b", "delivered"),
                                                       ("me", "delivered")]
    sent = _sent(routed)
    assert sorted(who for who, _ in sent) == ["me", "ops-a", "ops-b"]
    assert "disable_notification" not in dict(sent)["me"]  # loud: Telegram's default

    result = send_event(_event("update", "build-7"), runs=runs)
    assert [(r.channel, r.status, r.error) for r in result] == [
        ("ops-a", "skipped", "no route sends it there"), ("ops-b", "skipped", "no route sends it there"),
        ("me", "delivered", None)]
    [(who, body)] = _sent(routed)
    assert (who, body["disable_notification"]) == ("me", True)  # quiet

    # The library has no state folder: the recovery cannot be told, so the end goes, and says why not.
    result = send_event(_event("end", "nightly-2", "all good"), runs=runs)
    assert [(r.channel, r.status) for r in result] == [("ops-a", "delivered"), ("ops-b", "delivered"),
                                                       ("me", "skipped")]
    assert sorted(who for who, _ in _sent(routed)) == ["ops-a", "ops-b"]


def test_a_start_matches_no_route_and_nothing_is_sent(routed):
    result = send_event(_event("start", "build-8"), runs=RunLog())
    assert not result
    assert result.skipped == "routing: no route matches"
    assert [(r.channel, r.status) for r in result] == [("ops-a", "skipped"), ("ops-b", "skipped"), ("me", "skipped")]
    assert routed.received == []


@pytest.mark.anyio
async def test_the_mcp_server_throttles_updates_and_sends_only_recoveries(routed):
    from mcp_push.service.routing_service import service_for

    async with Client(in_process_server()) as client:
        async def event(event: str, run_id: str, tags: list[str] | None = None) -> dict:
            arguments = {**_event(event, run_id), "wait": True}
            if tags:
                arguments["tags"] = tags
            result = await client.call_tool("notify_event", arguments)
            return {c["channel"]: (c["status"], c["error"]) for c in result.structured_content["channels"]}

        first = await event("update", "build-7")
        assert first["me"] == ("delivered", None)
        assert _sent(routed)[0][1]["disable_notification"] is True
        second = await event("update", "build-7")
        assert second["me"][0] == "queued"
        assert second["me"][1].startswith("route 2: throttle 60s: one update per run per 60s; held: held until ")
        assert _sent(routed) == []

        # An end of a nightly run with no failure before it is no recovery; after an error it is.
        assert (await event("end", "nightly-1"))["ops-a"] == (
            "skipped", "route 3: only recoveries: no error of nightly-* before this end")
        errors = await event("error", "nightly-2")
        assert {name: status for name, (status, _) in errors.items()} == {
            "ops-a": "delivered", "ops-b": "delivered", "me": "delivered"}
        _sent(routed)
        recovery = await event("end", "nightly-3")
        assert {name: status for name, (status, _) in recovery.items()} == {
            "ops-a": "delivered", "ops-b": "delivered", "me": "skipped"}
        assert sorted(who for who, _ in _sent(routed)) == ["ops-a", "ops-b"]

        # The held update goes out when it is due (here: asked to, as if a minute had passed), once.
        service = service_for(OWNED_ENGINES[-1])
        assert service.send_due(now=service.store.next_due()) == 1
        assert OWNED_ENGINES[-1].drain(10)
        [(who, body)] = _sent(routed)
        assert (who, body["disable_notification"]) == ("me", True)
        assert service.send_due(now=service.store.next_due() or 0) == 0
