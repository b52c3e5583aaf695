"""Questions across replicas, with real processes (docs/ASK.md, "Replicas on PostgreSQL"): two `mcp-push serve
--transport http` replicas on one real PostgreSQL (pg_helpers.py), a loopback Telegram Bot API and a webhook
carrying answer links.

1. notify_ask on replica A; its links point at replica B (as a load balancer would send the phone there). The
   answer confirmed on B's page is the one A's call returns, once: one answer recorded, one follow-up per other
   copy; notify_answer on B reads it, and a second tap is refused.
2. A asks again and polls the bot; B asks too and waits for the bot's lock. A button press for A's question
   is handled by A; then A is SIGKILLed, B takes the bot over at the offset A stored, and B's own press
   reaches B's waiting call. Every press is handled exactly once."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import anyio
import psycopg
import pytest
import requests
from mcp import Client

from .ask_fakes import FakeTelegram, wait_until
from .local_server import VendorServer
from .mcp_helpers import anyio_backend, no_server_settings, webhook_env  # noqa: F401 - fixtures
from .pg_helpers import pg_url  # noqa: F401 - a fixture
from .test_ask import links_in
from .test_replicas import process, started_listening

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")

CHAT = "6173634402"


def answered_events(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [json.loads(r)["event"] for (r,) in conn.execute("SELECT record FROM mcp_push_ask_audit ORDER BY id")]


@pytest.mark.anyio
async def test_questions_are_answered_through_any_replica_once_and_the_bot_is_taken_over(pg_url, tmp_path):  # noqa: F811
    telegram = FakeTelegram(CHAT).start()
    webhook = VendorServer().start()
    env = {"MCP_PUSH_DATABASE_URL": pg_url, "MCP_PUSH_WORKERS": "1", "TG_BOT_TOKEN": "6825137102:AAtok_replicas",
           "TG_USER_ID": CHAT, "TG_API_HOST": telegram.url, "MCP_PUSH_RETRY_ATTEMPTS": "1", **webhook_env(webhook)}
    started: list[subprocess.Popen] = []

    def serve_both(ports: list[int]) -> list[subprocess.Popen]:
        # Both replicas' answer links point at B's port.
        for port, name in zip(ports, "ab", strict=True):
            started.append(process(["serve", "--transport", "http", "--port", str(port)],
                                   {**env, "MCP_PUSH_STATE_DIR": str(tmp_path / name),
                                    "MCP_PUSH_PUBLIC_URL": f"http://127.0.0.1:{ports[1]}"}))
        return started[-2:]

    try:
        a_port, b_port = started_listening(2, serve_both)
        a, b = started[-2:]
        b_base = f"http://127.0.0.1:{b_port}"
        a_url, b_url = f"http://127.0.0.1:{a_port}/mcp", f"{b_base}/mcp"
        # 1. Asked on A, answered on B's answer page.
        answers: list = []

        async def ask_on_a() -> None:
            async with Client(a_url) as client:
                answers.append(await client.call_tool("notify_ask", {
                    "question": "Deploy to prod?", "options": ["yes", "no"], "timeout_s": 120}))

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(ask_on_a)
            links = await anyio.to_thread.run_sync(links_in, webhook)
            assert all(link.startswith(b_base + "/v1/answer/") for link in links.values())
            page = await anyio.to_thread.run_sync(lambda: requests.get(links["yes"], timeout=10))
            assert page.status_code == 200 and "Confirm: yes" in page.text
            confirmed = await anyio.to_thread.run_sync(lambda: requests.post(links["yes"], timeout=10))
            assert confirmed.status_code == 200 and "Recorded: <b>yes</b>" in confirmed.text
        async with Client(b_url) as client:
            read_on_b = await client.call_tool("notify_answer", {"ask_id": answers[0].structured_content["ask_id"]})
        again = requests.post(links["no"], timeout=10)
        wait_until(lambda: [b for b in webhook.json_bodies() if b.get("title", "").startswith("Answered #")])
        wait_until(lambda: [b for b in telegram.called("sendMessage") if b["text"].startswith("Answered #")])

        # 2. A polls the bot; B waits for it; A dies; B polls on from A's offset.
        async with Client(a_url) as client:
            later = await client.call_tool("notify_ask", {"question": "Restart the cache?", "options": ["now", "later"],
                                                          "channels": ["telegram"], "timeout_s": 120, "wait": False})
        later_id = later.structured_content["ask_id"]
        telegram.question("now")
        b_answers: list = []

        async def ask_on_b() -> None:
            async with Client(b_url) as client:
                b_answers.append(await client.call_tool("notify_ask", {
                    "question": "Migrate the schema?", "options": ["go", "stop"], "channels": ["telegram"],
                    "timeout_s": 120}))

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(ask_on_b)
            await anyio.to_thread.run_sync(telegram.question, "go")
            telegram.press("now")  # A's question: A holds the bot
            await anyio.to_thread.run_sync(wait_until, lambda: any(body.get("offset") == 2 for body in
                                                                   telegram.called("getUpdates")))  # stored, read on
            async with Client(b_url) as client:
                read_later = await client.call_tool("notify_answer", {"ask_id": later_id})
            a.send_signal(signal.SIGKILL)
            a.wait(10)
            telegram.press("go")  # B's question, read by B once it holds the bot
    finally:
        for proc in started:
            if proc.poll() is None:
                proc.terminate()
        for proc in started:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        telegram.stop()
        webhook.stop()
    # 1.
    assert len(answers) == 1 and not answers[0].is_error
    result = answers[0].structured_content
    assert (result["answer"], result["channel"], result["by"]) == ("yes", "webhook", "the Custom webhook link")
    assert (read_on_b.structured_content["answer"], read_on_b.structured_content["channel"]) == ("yes", "webhook")
    assert again.status_code == 409 and "Already answered" in again.text
    follow_ups = [b for b in telegram.called("sendMessage") if b["text"].startswith("Answered #")]
    assert len(follow_ups) == 1 and "Answered 'yes' by the Custom webhook link" in follow_ups[0]["text"]
    assert len([b for b in webhook.json_bodies() if b.get("title", "").startswith("Answered #")]) == 1
    # 2.
    assert read_later.structured_content["answer"] == "now"
    assert len(b_answers) == 1 and not b_answers[0].is_error
    assert (b_answers[0].structured_content["answer"], b_answers[0].structured_content["by"]) == ("go", "@alice")
    # A press is acknowledged after its answer is recorded (telegram.py): wait for that, then none twice.
    wait_until(lambda: len(telegram.called("answerCallbackQuery")) >= 2)
    acks = [ack["callback_query_id"] for ack in telegram.called("answerCallbackQuery")]
    assert acks == ["cq1", "cq2"]  # each press handled once, none skipped, across the takeover
    events = answered_events(pg_url)
    assert events.count("asked") == 3 and events.count("answered") == 3 and events.count("refused") == 1
