"""A question across replicas, with real processes (docs/ASK.md, "Replicas on PostgreSQL"): two `mcp-push serve
--transport http` replicas on one real PostgreSQL (pg_helpers.py). notify_ask is called on replica A and goes
to a loopback Telegram Bot API and a webhook carrying answer links; the links point at replica B (as a load
balancer would send the phone there). The answer confirmed on B's page is the one A's call returns, once:
one answer recorded, one follow-up per other copy; notify_answer on B reads it, and a second tap is refused."""

from __future__ import annotations

import json

import anyio
import pytest
import requests
from mcp import Client

from .ask_fakes import FakeTelegram, wait_until
from .local_server import VendorServer
from .mcp_helpers import anyio_backend, http_server, no_server_settings, webhook_env  # noqa: F401 - fixtures
from .pg_helpers import pg_url  # noqa: F401 - a fixture
from .test_ask import links_in

CHAT = "6173634402"


@pytest.mark.anyio
async def test_a_question_asked_on_one_replica_is_answered_through_another_once(pg_url, tmp_path):  # noqa: F811
    telegram = FakeTelegram(CHAT).start()
    webhook = VendorServer().start()
    env = {"MCP_PUSH_DATABASE_URL": pg_url, "MCP_PUSH_WORKERS": "1", "TG_BOT_TOKEN": "6825137102:AAtok_replicas",
           "TG_USER_ID": CHAT, "TG_API_HOST": telegram.url, "MCP_PUSH_RETRY_ATTEMPTS": "1", **webhook_env(webhook)}
    try:
        with http_server({**env, "MCP_PUSH_STATE_DIR": str(tmp_path / "b")}, timeout=60) as b_url, \
                http_server({**env, "MCP_PUSH_STATE_DIR": str(tmp_path / "a"),
                             "MCP_PUSH_PUBLIC_URL": b_url.removesuffix("/mcp")}, timeout=60) as a_url:
            answers: list = []

            async def ask_on_a() -> None:
                async with Client(a_url) as client:
                    answers.append(await client.call_tool("notify_ask", {
                        "question": "Deploy to prod?", "options": ["yes", "no"], "timeout_s": 120}))

            async with anyio.create_task_group() as tasks:
                tasks.start_soon(ask_on_a)
                links = await anyio.to_thread.run_sync(links_in, webhook)
                assert all(link.startswith(b_url.removesuffix("/mcp") + "/v1/answer/") for link in links.values())
                page = await anyio.to_thread.run_sync(lambda: requests.get(links["yes"], timeout=10))
                assert page.status_code == 200 and "Confirm: yes" in page.text
                confirmed = await anyio.to_thread.run_sync(lambda: requests.post(links["yes"], timeout=10))
                assert confirmed.status_code == 200 and "Recorded: <b>yes</b>" in confirmed.text
            async with Client(b_url) as client:
                read_on_b = await client.call_tool("notify_answer", {"ask_id": answers[0].structured_content["ask_id"]})
            again = requests.post(links["no"], timeout=10)
            wait_until(lambda: [b for b in webhook.json_bodies() if b.get("title", "").startswith("Answered #")])
            wait_until(lambda: [b for b in telegram.called("sendMessage") if b["text"].startswith("Answered #")])
        # The servers have stopped: nothing more can come.
        follow_ups = [b for b in telegram.called("sendMessage") if b["text"].startswith("Answered #")]
        webhook_follow_ups = [b for b in webhook.json_bodies() if b.get("title", "").startswith("Answered #")]
    finally:
        telegram.stop()
        webhook.stop()
    assert len(answers) == 1 and not answers[0].is_error
    result = answers[0].structured_content
    assert (result["answer"], result["channel"], result["by"]) == ("yes", "webhook", "the Custom webhook link")
    assert (read_on_b.structured_content["answer"], read_on_b.structured_content["channel"]) == ("yes", "webhook")
    assert again.status_code == 409 and "Already answered" in again.text
    # A told each other copy once.
    assert len(follow_ups) == 1 and "Answered 'yes' by the Custom webhook link" in follow_ups[0]["text"]
    assert len(webhook_follow_ups) == 1
    import psycopg

    with psycopg.connect(pg_url) as conn:
        events = [json.loads(r)["event"] for (r,) in conn.execute("SELECT record FROM mcp_push_ask_audit ORDER BY id")]
    assert events.count("answered") == 1 and events.count("asked") == 1 and "refused" in events
