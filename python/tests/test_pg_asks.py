"""Asking a human with replicas on PostgreSQL (service/pg/asks.py, ask_receivers.py; docs/ASK.md): the answer
receivers poll a vendor from one replica at a time per credential, another takes over with the position kept
in the database, and a question of one replica is answered through another's receiver. Real PostgreSQL
(pg_helpers.py), loopback vendors (ask_fakes.py). The store's behaviours on both backends are in
test_backends.py; replicas as processes in test_replicas_ask.py."""

from __future__ import annotations

import base64
import json

import psycopg
import pytest
import requests

from mcp_push.asking.service import AskService
from mcp_push.service.lifecycle import open_engine
from mcp_push.service.pg.ask_receivers import PgSharedReceivers
from mcp_push.service.pg.state import PgState

from .ask_fakes import FakeMatrix, FakeNtfy, FakeTelegram, wait_until
from .mcp_helpers import anyio_backend  # noqa: F401 - a fixture
from .pg_helpers import fresh_schema, pg_url  # noqa: F401 - a fixture

CHAT = "6173634402"
TOKEN = "6825137102:AAtok_tg_pgasks"


@pytest.fixture
def telegram():
    fake = FakeTelegram(CHAT).start()
    yield fake
    fake.stop()


def test_one_replica_holds_a_receiver_and_another_takes_over_at_its_position_when_it_dies(pg_url):  # noqa: F811
    states = [PgState(pg_url, max_size=2) for _ in range(2)]
    first, second = (PgSharedReceivers(state) for state in states)
    try:
        key = first.key("telegram", "https://api.telegram.org/botTOKEN")
        assert key == second.key("telegram", "https://api.telegram.org/botTOKEN")
        assert key != first.key("telegram", "https://api.telegram.org/botOTHER")
        assert "TOKEN" not in key
        assert first.hold(key) and first.hold(key)
        assert not second.hold(key)
        assert not first.hold(key, object())  # another receiver of the same process: not the holder either
        assert first.set_cursor(key, "42") and not second.set_cursor(key, "43")
        # The holder's process dies: PostgreSQL ends its session, and its lock with it.
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND "
                         "objid = (hashtextextended(%s, 0) & 4294967295)::oid", (key,))
        assert wait_until(lambda: second.hold(key))
        assert second.cursor(key) == "42"
        assert not first.set_cursor(key, "99")  # a holder that lost its lock writes nothing
        assert not first.hold(key)
        assert second.set_cursor(key, "44") and first.cursor(key) == "44"
        second.release(key)
        assert first.hold(key)
    finally:
        first.close()
        second.close()
        for state in states:
            state.close()


def test_another_database_s_receivers_do_not_meet_this_one_s_lock(pg_url):  # noqa: F811
    other_schemas = fresh_schema()
    other_url = next(other_schemas)
    states = [PgState(pg_url, max_size=2), PgState(other_url, max_size=2)]
    mine, theirs = (PgSharedReceivers(state) for state in states)
    try:
        assert mine.hold(mine.key("telegram", "same bot"))
        assert theirs.hold(theirs.key("telegram", "same bot"))
    finally:
        mine.close()
        theirs.close()
        for state in states:
            state.close()
        other_schemas.close()


def replica(env):
    engine = open_engine(env).start()
    return engine, AskService(env, engine)


def holding(service) -> bool:
    return bool(service.store.shared_receivers._held)


def test_a_replica_s_question_is_answered_through_the_other_s_telegram_receiver_and_each_press_handled_once(
        pg_url, telegram, tmp_path):  # noqa: F811
    env = {"MCP_PUSH_DATABASE_URL": pg_url, "TG_BOT_TOKEN": TOKEN, "TG_USER_ID": CHAT, "TG_API_HOST": telegram.url,
           "HITOKOTO": "false", "MCP_PUSH_RETRY_ATTEMPTS": "1", "MCP_PUSH_STATE_DIR": str(tmp_path)}
    (engine_a, a), (engine_b, b) = replica(env), replica(env)
    try:
        first = a.start(f"Deploy? (token {TOKEN})", ["yes", "no"], timeout_s=120)
        wait_until(lambda: holding(a))  # replica A polls the bot
        second = b.start("Migrate?", ["go", "stop"], timeout_s=120)
        assert not holding(b)
        telegram.press("yes")
        answered = a.wait(first.ask.id, 30)
        assert (answered.status, answered.answer, answered.by) == ("answered", "yes", "@alice")
        # A goes away; B takes the bot over from the offset A left in the database.
        wait_until(lambda: len(telegram.called("answerCallbackQuery")) == 1)
        calls_before = len(telegram.calls)
        a.close()
        wait_until(lambda: holding(b))
        telegram.press("go")
        assert b.wait(second.ask.id, 30).answer == "go"
        # The press is acknowledged after its answer is recorded (telegram.py): wait for that, then none twice.
        wait_until(lambda: len(telegram.called("answerCallbackQuery")) >= 2)
        acks = telegram.called("answerCallbackQuery")
        assert [ack["callback_query_id"] for ack in acks] == ["cq1", "cq2"]  # none handled twice, none skipped
        later = [body for method, body in telegram.calls[calls_before:] if method == "getUpdates" and "timeout" in body
                 and body.get("timeout")]
        assert later and all(body.get("offset", 0) >= 2 for body in later)
        # The question is stored masked of the bot's token, and no answer token is in the database.
        with psycopg.connect(pg_url) as conn:
            stored = json.dumps([conn.execute(f"SELECT * FROM {t}").fetchall()  # noqa: S608 - our names
                                 for t in ("mcp_push_asks", "mcp_push_ask_tokens", "mcp_push_ask_audit")], default=str)
        assert TOKEN not in stored and "Deploy? (token " in stored
        buttons = [b["callback_data"] for body in telegram.called("sendMessage")
                   for row in (body.get("reply_markup") or {}).get("inline_keyboard", []) for b in row]
        assert buttons and not any(data.split(":", 1)[-1] in stored for data in buttons)
    finally:
        for service in (a, b):
            service.close()
        for engine in (engine_a, engine_b):
            engine.close()


def test_an_ntfy_reply_topic_is_read_by_one_replica_and_the_answer_reaches_the_asker(pg_url, tmp_path):  # noqa: F811
    ntfy = FakeNtfy().start()
    env = {"MCP_PUSH_DATABASE_URL": pg_url, "NTFY_URL": ntfy.url, "NTFY_TOPIC": "alerts", "HITOKOTO": "false",
           "MCP_PUSH_RETRY_ATTEMPTS": "1", "MCP_PUSH_STATE_DIR": str(tmp_path)}
    (engine_a, a), (engine_b, b) = replica(env), replica(env)
    try:
        b.start("Unrelated?", ["x", "y"], timeout_s=120)  # B's receiver looks for every replica's questions
        asked = a.start("Deploy?", ["yes", "no"], timeout_s=120)
        topic = asked.ask.reply_topic
        wait_until(lambda: topic in ntfy.subscribed)
        _, headers, _ = wait_until(lambda: next((p for p in ntfy.published if p[0] == "/alerts" and
                                                 p[2].endswith("Deploy?")), None))
        encoded = headers["Actions"].removeprefix("=?utf-8?B?").removesuffix("?=")
        yes = json.loads(base64.b64decode(encoded))[0]
        requests.post(yes["url"], data=yes["body"], timeout=10)  # what the phone's button does
        answered = a.wait(asked.ask.id, 30)
        assert (answered.status, answered.answer, answered.channel) == ("answered", "yes", "ntfy")
        # Had both replicas read the topic, the second would have tried the used token: a refusal.
        wait_until(lambda: [r for r in a.store.read_audit() if r["event"] == "answered"])
        assert not [r for r in a.store.read_audit() if r["event"] == "refused"]
    finally:
        for service in (a, b):
            service.close()
        for engine in (engine_a, engine_b):
            engine.close()
        ntfy.stop()


def test_a_matrix_sync_is_taken_over_at_its_token_and_no_message_answers_twice(pg_url, tmp_path):  # noqa: F811
    matrix = FakeMatrix().start()
    env = {"MCP_PUSH_DATABASE_URL": pg_url, "MATRIX_HOMESERVER": matrix.url, "MATRIX_ACCESS_TOKEN": "syt_mx_pgasks",
           "MATRIX_ROOM_ID": matrix.room, "HITOKOTO": "false", "MCP_PUSH_RETRY_ATTEMPTS": "1",
           "MCP_PUSH_STATE_DIR": str(tmp_path)}
    (engine_a, a), (engine_b, b) = replica(env), replica(env)
    try:
        first = a.start("Deploy?", ["yes", "no"], timeout_s=120)
        wait_until(lambda: holding(a))
        second = b.start("Migrate?", ["go", "stop"], timeout_s=120)
        matrix.say("@alice:example.org", "1")  # the room's newest pending question: B's
        assert b.wait(second.ask.id, 30).answer == "go"
        a.close()  # B syncs on from the token A stored: the "1" is not read again (it would answer A's question)
        wait_until(lambda: holding(b))
        matrix.say("@alice:example.org", "2")
        answered = wait_until(lambda: (ask := b.store.get(first.ask.id)) and ask.status == "answered" and ask)
        assert answered.answer == "no"
        assert not [c for c in matrix.sent if "Already answered" in c["body"]]
    finally:
        for service in (a, b):
            service.close()
        for engine in (engine_a, engine_b):
            engine.close()
        matrix.stop()


@pytest.mark.anyio
async def test_with_postgresql_away_a_question_is_refused_with_the_database_s_words(pg_url, telegram, tmp_path):  # noqa: F811
    from urllib.parse import urlsplit

    from mcp import Client

    from .mcp_helpers import in_process_server
    from .test_pg_backend import Proxy

    parts = urlsplit(pg_url)
    proxy = Proxy((parts.hostname, parts.port or 5432))
    via_proxy = pg_url.replace(parts.netloc, f"{parts.username}:{parts.password}@127.0.0.1:{proxy.port}")
    env = {"MCP_PUSH_DATABASE_URL": via_proxy, "MCP_PUSH_WORKERS": "0", "TG_BOT_TOKEN": TOKEN, "TG_USER_ID": CHAT,
           "TG_API_HOST": telegram.url, "HITOKOTO": "false", "MCP_PUSH_STATE_DIR": str(tmp_path)}
    try:
        async with Client(in_process_server(env)) as client:
            proxy.down()
            asked = await client.call_tool("notify_ask", {"question": "Deploy?", "options": ["yes", "no"]})
            read = await client.call_tool("notify_answer", {"ask_id": "0123456789abcdef"})
    finally:
        proxy.down()
    for result in (asked, read):
        assert result.is_error
        error = result.structured_content["error"]
        assert error.startswith("database: PostgreSQL at postgresql://mcp_push:***@127.0.0.1:")
        assert error.endswith("nothing was accepted, try again") and ":mcp_push@" not in error
    assert not telegram.called("sendMessage")  # nothing was asked


def test_two_tokens_of_one_question_answered_at_once_on_two_replicas_take_turns_without_a_deadlock(pg_url):  # noqa: F811
    # Replica B's answer (its own token) holds the question's row and goes on to use up the question's other
    # tokens; replica A's answer with one of those tokens arrives meanwhile. Both lock the question's row before
    # any token's: A waits for B, then finds its token used up (no deadlock, which PostgreSQL would break by
    # failing one of them).
    import threading

    from mcp_push.asking.store import USED, AnswerToken, Ask, new_token
    from mcp_push.service.pg.asks import PgAskStore

    now = 1_800_000_000.0
    ask = Ask(id="d1", question="Deploy?", options=["yes", "no"], created=now, expires=now + 60, default=None,
              run_id=None, channels=["webhook"])
    tokens = [AnswerToken(new_token(), "d1", "webhook", i) for i in range(2)]
    store = PgAskStore(PgState(pg_url, max_size=2))
    store.create(ask, tokens)
    outcome: list = []
    try:
        with psycopg.connect(pg_url) as b, psycopg.connect(pg_url, autocommit=True) as watch:
            b.execute("SELECT id FROM mcp_push_asks WHERE id = 'd1' FOR UPDATE")  # replica B, in its transaction
            a = threading.Thread(target=lambda: outcome.append(store.answer("d1", "yes", "the link", "webhook",
                                                                            now + 1, tokens[0].token)))
            a.start()
            pid = b.info.backend_pid  # A's answer waits for B's lock
            wait_until(lambda: watch.execute("SELECT count(*) FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids("
                                             "pid))", (pid,)).fetchone()[0])
            b.execute("UPDATE mcp_push_asks SET status = 'answered', answer = 'no' WHERE id = 'd1'")
            b.execute("UPDATE mcp_push_ask_tokens SET used = true WHERE ask_id = 'd1'")
            b.commit()
            a.join(30)
        assert [o.status for o in outcome] == [USED] and outcome[0].ask.answer == "no"
    finally:
        store.close()
        store.state.close()
