"""notify_ask end to end: a question goes out through the engine, an answer travels back from a loopback
Telegram Bot API (a button press), the answer page (a real HTTP client following the link and
confirming) and ntfy (an action's POST to the reply topic), to ask(), `mcp-push ask` and notify_ask."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading

import pytest
import requests

from mcp_push import ask
from mcp_push.asking.service import ask_problem
from mcp_push.asking.store import SqliteAskStore

from .ask_fakes import FakeMatrix, FakeNtfy, FakeTelegram, wait_until
from .local_server import VendorServer
from .mcp_helpers import REPO, anyio_backend, child_env, http_server, in_process_server, no_server_settings, webhook_env  # noqa: F401 - fixtures

CHAT = "6173634402"
TOKEN = "6825137102:AAtok_tg_4f9a1c"


@pytest.fixture
def telegram():
    fake = FakeTelegram(CHAT).start()
    yield fake
    fake.stop()


@pytest.fixture
def state(tmp_path, monkeypatch):
    monkeypatch.setenv("MCP_PUSH_STATE_DIR", str(tmp_path))
    return tmp_path


def tg_env(fake, state, **extra):
    return {"TG_BOT_TOKEN": TOKEN, "TG_USER_ID": CHAT, "TG_API_HOST": fake.url, "HITOKOTO": "false",
            "MCP_PUSH_STATE_DIR": str(state), "MCP_PUSH_RETRY_ATTEMPTS": "1", **extra}


def in_thread(fn, *args, **kwargs):
    box: dict = {}

    def run():
        try:
            box["result"] = fn(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, box


def joined(thread, box):
    thread.join(60)
    assert not thread.is_alive()
    if "error" in box:
        raise box["error"]
    return box["result"]


def audit(state):
    return SqliteAskStore(state).read_audit()


# --- Telegram -------------------------------------------------------------------------------------------


def test_a_button_press_on_telegram_is_the_answer_of_ask(telegram, state):
    thread, box = in_thread(ask, "Deploy to prod?", ["yes", "no"], timeout=60, env=tg_env(telegram, state))
    question = telegram.question()
    assert question["text"].endswith("Deploy to prod?")
    assert [b["text"] for b in question["reply_markup"]["inline_keyboard"][0]] == ["yes", "no"]
    telegram.press("yes")
    result = joined(thread, box)
    assert (result["answer"], result["by"], result["channel"]) == ("yes", "@alice", "telegram")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", result["at"])
    assert wait_until(lambda: telegram.called("answerCallbackQuery"))[0]["text"] == "Recorded: yes"
    edit = wait_until(lambda: telegram.called("editMessageText"))[0]
    assert "Answered 'yes' by @alice" in edit["text"] and "reply_markup" not in edit
    events = [record["event"] for record in audit(state)]
    assert events[:2] == ["asked", "answered"]


def test_the_callback_data_carries_at_least_128_random_bits_and_no_secret(telegram, state):
    thread, box = in_thread(ask, "Deploy?", ["yes", "no"], timeout=60, env=tg_env(telegram, state))
    buttons = telegram.question()["reply_markup"]["inline_keyboard"][0]
    telegram.press("no")
    joined(thread, box)
    tokens = [b["callback_data"].removeprefix("ask:") for b in buttons]
    assert all(len(t) >= 22 for t in tokens) and len(set(tokens)) == 2  # 16 bytes, base64url
    assert TOKEN not in json.dumps(telegram.calls[0][1])
    # Only digests are stored: the database file does not hold the tokens.
    raw = (state / "asks.sqlite3").read_bytes() + (state / "ask-audit.jsonl").read_bytes()
    assert not any(t.encode() in raw for t in tokens)


def test_a_stranger_s_press_is_ignored_and_logged(telegram, state):
    thread, box = in_thread(ask, "Deploy?", ["yes", "no"], timeout=60, env=tg_env(telegram, state))
    telegram.press("yes", user_id=42, chat_id=42, username="mallory")
    wait_until(lambda: any(r["event"] == "ignored" for r in audit(state)))
    telegram.press("no")
    result = joined(thread, box)
    assert (result["answer"], result["by"]) == ("no", "@alice")
    ignored = next(r for r in audit(state) if r["event"] == "ignored")
    assert (ignored["by"], ignored["channel"], ignored["where"]) == ("@mallory", "telegram", "42")
    acks = wait_until(lambda: telegram.called("answerCallbackQuery"))
    assert [a["text"] for a in acks] == ["Recorded: no"]  # the stranger got nothing


def test_a_second_answer_is_refused_politely(telegram, state):
    thread, box = in_thread(ask, "Deploy?", ["yes", "no"], timeout=60, env=tg_env(telegram, state))
    sent = telegram.question()
    first, second = (next(b["callback_data"] for b in sent["reply_markup"]["inline_keyboard"][0] if b["text"] == t)
                     for t in ("yes", "no"))
    message = {"message_id": 101, "chat": {"id": int(CHAT)}, "text": sent["text"]}
    telegram.queue(
        {"callback_query": {"id": "a", "from": {"id": int(CHAT), "username": "alice"}, "message": message,
                            "data": first}},
        {"callback_query": {"id": "b", "from": {"id": int(CHAT), "username": "bob"}, "message": message,
                            "data": second}})
    result = joined(thread, box)
    assert (result["answer"], result["by"]) == ("yes", "@alice")
    acked = telegram.called
    both = wait_until(lambda: len(acked("answerCallbackQuery")) == 2 and acked("answerCallbackQuery"))
    acks = {a["callback_query_id"]: a["text"] for a in both}
    assert acks["a"] == "Recorded: yes"
    assert acks["b"].startswith("Already answered 'yes' by @alice")


def test_a_timeout_without_default_is_timed_out_and_the_copies_are_told(telegram, state):
    result = ask("Deploy?", ["yes", "no"], timeout=1, env=tg_env(telegram, state))
    assert result["timed_out"] is True and "answer" not in result
    follow = wait_until(lambda: [b for b in telegram.called("sendMessage") if "No answer in time" in b["text"]])
    assert follow[0]["text"].startswith("Timed out #")
    assert any(r["event"] == "timed_out" for r in audit(state))


def test_a_timeout_with_a_default_returns_the_default(telegram, state):
    result = ask("Deploy?", ["yes", "no"], timeout=1, default="no", env=tg_env(telegram, state))
    assert (result["timed_out"], result["answer"], result["by"]) == (True, "no", "default")


def test_a_press_after_the_timeout_is_refused(telegram, state):
    ask("Deploy?", ["yes", "no"], timeout=1, env=tg_env(telegram, state))
    telegram.press("yes")
    # The next asker's poller sees the stale press: its token expired with its question.
    thread, box = in_thread(ask, "Again?", ["ok", "stop"], timeout=60, env=tg_env(telegram, state))
    ack = wait_until(lambda: telegram.called("answerCallbackQuery"))[0]
    assert ack["text"] == "This question timed out; the answer was not recorded."
    telegram.press("ok")
    assert joined(thread, box)["answer"] == "ok"


def test_mcp_push_ask_prints_the_answer_and_exits_0(telegram, state):
    process = subprocess.Popen([sys.executable, "-m", "mcp_push", "ask", "Deploy?", "--option", "yes", "--option",
                                "no", "--timeout", "60"], env=child_env(tg_env(telegram, state)),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO)
    telegram.press("yes")
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert out.decode() == "yes\n"


def test_mcp_push_ask_exits_1_on_timeout_without_default(telegram, state):
    done = subprocess.run([sys.executable, "-m", "mcp_push", "ask", "Deploy?", "--option", "yes", "--option", "no",
                           "--timeout", "1"], env=child_env(tg_env(telegram, state)), capture_output=True,
                          cwd=REPO, timeout=60)
    assert done.returncode == 1 and done.stdout == b""
    assert b"nobody answered in time" in done.stderr


def test_bad_questions_are_refused_in_the_same_words_everywhere(telegram, state):
    assert ask_problem({"question": "q", "options": ["a"]}) == "options: must have at least 2 items"
    assert ask_problem({"question": "q", "options": list("abcdef")}) == "options: must have at most 5 items"
    assert ask_problem({"question": "q", "options": ["a", "b"], "default": "c"}) == \
        "default: must be one of the options"
    with pytest.raises(ValueError, match="^options: must have at least 2 items$"):
        ask("q", ["a"], env=tg_env(telegram, state))
    done = subprocess.run([sys.executable, "-m", "mcp_push", "ask", "q", "--option", "a"],
                          env=child_env(tg_env(telegram, state)), capture_output=True, cwd=REPO, timeout=60)
    assert done.returncode == 2
    assert done.stderr.decode().strip() == "mcp-push: error: options: must have at least 2 items"


@pytest.mark.anyio
async def test_notify_ask_waits_for_the_press_with_progress(telegram, state):
    from mcp import Client

    progress: list[float] = []

    async def on_progress(value, total, message):
        progress.append(value)
        if len(progress) == 1:
            telegram.press("yes")

    async with Client(in_process_server(tg_env(telegram, state))) as client:
        result = await client.call_tool("notify_ask", {"question": "Deploy?", "options": ["yes", "no"],
                                                       "timeout_s": 60}, progress_callback=on_progress)
    assert not result.is_error
    data = result.structured_content
    assert (data["answer"], data["by"], data["channel"]) == ("yes", "@alice", "telegram")
    assert progress and progress[0] == 0


@pytest.mark.anyio
async def test_notify_ask_without_wait_returns_an_ask_id_for_notify_answer(telegram, state):
    from mcp import Client

    async with Client(in_process_server(tg_env(telegram, state))) as client:
        started = await client.call_tool("notify_ask", {"question": "Deploy?", "options": ["yes", "no"],
                                                        "wait": False})
        ask_id = started.structured_content["ask_id"]
        assert started.structured_content["pending"] is True
        pending = await client.call_tool("notify_answer", {"ask_id": ask_id})
        assert pending.structured_content == {"ask_id": ask_id, "pending": True}
        telegram.press("no")
        wait_until(lambda: any(r["event"] == "answered" for r in audit(state)))
        answered = await client.call_tool("notify_answer", {"ask_id": ask_id})
    assert answered.structured_content["answer"] == "no"


@pytest.mark.anyio
async def test_notify_ask_refuses_bad_arguments_as_field_and_rule(telegram, state):
    from mcp import Client

    async with Client(in_process_server(tg_env(telegram, state))) as client:
        result = await client.call_tool("notify_ask", {"question": "q", "options": ["a", "b"], "default": "c"})
        short = await client.call_tool("notify_ask", {"question": "q", "options": ["a"]})
    assert result.is_error and result.structured_content["error"] == "default: must be one of the options"
    assert short.is_error and "options: must have at least 2 items" in short.content[0].text


# --- the answer page ------------------------------------------------------------------------------------


@pytest.fixture
def webhook():
    vendor = VendorServer().start()
    yield vendor
    vendor.stop()


def links_in(vendor):
    def found():
        for body in vendor.json_bodies():
            links = dict(re.findall(r"^(\w+): (http://\S+/v1/answer/\S+)$", body.get("content", ""), re.M))
            if links:
                return links
        return None
    return wait_until(found)


def test_a_link_answers_only_on_the_confirming_post(webhook, state):
    with http_server({"MCP_PUSH_STATE_DIR": str(state)}) as url:
        base = url.removesuffix("/mcp")
        env = {**webhook_env(webhook), "HITOKOTO": "false", "MCP_PUSH_STATE_DIR": str(state),
               "MCP_PUSH_PUBLIC_URL": base}
        thread, box = in_thread(ask, "Deploy?", ["yes", "no"], timeout=60, env=env)
        links = links_in(webhook)
        page = requests.get(links["yes"], timeout=10)  # what a link preview or a mail scanner does
        assert page.status_code == 200 and "Confirm: yes" in page.text and "<form method=post>" in page.text
        assert page.headers["Cache-Control"] == "no-store" and page.headers["Referrer-Policy"] == "no-referrer"
        assert thread.is_alive() and not any(r["event"] == "answered" for r in audit(state))
        confirmed = requests.post(links["yes"], timeout=10)
        assert confirmed.status_code == 200 and "Recorded: <b>yes</b>" in confirmed.text
        result = joined(thread, box)
        assert (result["answer"], result["channel"]) == ("yes", "webhook")
        replay = requests.post(links["yes"], timeout=10)
        other = requests.post(links["no"], timeout=10)
    assert replay.status_code == 409 and "Already answered: &#x27;yes&#x27;" in replay.text
    assert other.status_code == 409
    follow = wait_until(lambda: [b for b in webhook.json_bodies() if b.get("title", "").startswith("Answered #")])
    assert "Answered 'yes' by the Custom webhook link" in follow[0]["content"]


def test_an_expired_link_answers_nothing(webhook, state):
    with http_server({"MCP_PUSH_STATE_DIR": str(state)}) as url:
        env = {**webhook_env(webhook), "HITOKOTO": "false", "MCP_PUSH_STATE_DIR": str(state),
               "MCP_PUSH_PUBLIC_URL": url.removesuffix("/mcp")}
        result = ask("Deploy?", ["yes", "no"], timeout=1, env=env)
        assert result["timed_out"] is True
        links = links_in(webhook)
        shown = requests.get(links["yes"], timeout=10)
        posted = requests.post(links["yes"], timeout=10)
        unknown = requests.post(links["yes"][:-4] + "AAAA", timeout=10)
    assert shown.status_code == 410 and posted.status_code == 410
    assert "timed out" in posted.text
    assert unknown.status_code == 404


def test_without_a_public_url_link_channels_get_the_question_as_information(webhook, telegram, state):
    env = {**webhook_env(webhook), **tg_env(telegram, state)}
    thread, box = in_thread(ask, "Deploy?", ["yes", "no"], timeout=60, env=env)
    info = wait_until(lambda: [b for b in webhook.json_bodies() if b.get("title", "").startswith("Question #")])
    assert "(Answer on Telegram bot.)" in info[0]["content"] and "/v1/answer/" not in info[0]["content"]
    telegram.press("yes")
    result = joined(thread, box)
    sent = {s["channel"]: s for s in result["sent"]}
    assert sent["webhook"]["answerable"] is False
    assert "MCP_PUSH_PUBLIC_URL" in sent["webhook"]["note"]
    assert sent["telegram"]["answerable"] is True


def test_a_question_no_channel_can_answer_is_refused(webhook, state):
    env = {**webhook_env(webhook), "HITOKOTO": "false", "MCP_PUSH_STATE_DIR": str(state)}
    with pytest.raises(ValueError, match="^channels: none of them can take an answer"):
        ask("Deploy?", ["yes", "no"], env=env)
    assert webhook.received == []


# --- ntfy -----------------------------------------------------------------------------------------------


def test_an_ntfy_action_answers_through_the_private_reply_topic(state):
    ntfy = FakeNtfy().start()
    try:
        env = {"NTFY_URL": ntfy.url, "NTFY_TOPIC": "alerts", "HITOKOTO": "false", "MCP_PUSH_STATE_DIR": str(state)}
        thread, box = in_thread(ask, "Deploy?", ["yes", "no"], timeout=60, env=env)
        path, headers, _ = wait_until(lambda: next((p for p in ntfy.published if p[0] == "/alerts"), None))
        import base64
        encoded = headers["Actions"].removeprefix("=?utf-8?B?").removesuffix("?=")
        actions = json.loads(base64.b64decode(encoded))
        assert [(a["action"], a["label"], a["method"]) for a in actions] == [("http", "yes", "POST"),
                                                                             ("http", "no", "POST")]
        reply = actions[1]["url"]
        topic = reply.rsplit("/", 1)[1]
        assert reply.startswith(ntfy.url + "/mcp-push-") and len(topic) >= 30
        wait_until(lambda: topic in ntfy.subscribed)
        requests.post(reply, data=actions[1]["body"], timeout=10)  # what the phone's button does
        result = joined(thread, box)
    finally:
        ntfy.stop()
    assert (result["answer"], result["channel"]) == ("no", "ntfy")


# --- Matrix ---------------------------------------------------------------------------------------------


@pytest.fixture
def matrix():
    fake = FakeMatrix(members=("@alice:example.org", "@bob:example.org")).start()
    yield fake
    fake.stop()


def mx_env(fake, state, **extra):
    return {"MATRIX_HOMESERVER": fake.url, "MATRIX_ACCESS_TOKEN": "syt_mx_token_8f2a", "MATRIX_ROOM_ID": fake.room,
            "HITOKOTO": "false", "MCP_PUSH_STATE_DIR": str(state), **extra}


def test_a_number_in_the_matrix_room_answers_the_question(matrix, state):
    thread, box = in_thread(ask, "Which one?", ["red", "green", "blue"], timeout=60, env=mx_env(matrix, state))
    question = matrix.question()
    assert "1. red\n2. green\n3. blue" in question["body"]
    matrix.say("@alice:example.org", "2")
    result = joined(thread, box)
    assert (result["answer"], result["by"], result["channel"]) == ("green", "@alice:example.org", "matrix")
    follow = wait_until(lambda: [c for c in matrix.sent if c["body"].startswith("Answered #")])
    assert "Answered 'green' by @alice:example.org via Matrix" in follow[0]["body"]


def test_a_matrix_reply_names_its_question_and_a_free_text_answer_is_taken(matrix, state):
    thread, box = in_thread(ask, "What should the release be called?", None, timeout=60, env=mx_env(matrix, state))
    matrix.question()
    question_event = next(e["event_id"] for e in matrix.timeline if e["content"]["body"].startswith("Question #"))
    matrix.say("@bob:example.org", "Bluebird", reply_to=question_event)
    result = joined(thread, box)
    assert (result["answer"], result["by"]) == ("Bluebird", "@bob:example.org")


def test_a_stranger_in_the_matrix_room_is_ignored_and_a_second_answer_refused(matrix, state):
    thread, box = in_thread(ask, "Deploy?", ["yes", "no"], timeout=60, env=mx_env(matrix, state))
    matrix.question()
    matrix.say("@mallory:evil.example", "1")
    wait_until(lambda: any(r["event"] == "ignored" for r in audit(state)))
    with matrix.lock:  # both in one /sync batch: the first wins
        matrix.say("@alice:example.org", "no")
        matrix.say("@bob:example.org", "yes")
    result = joined(thread, box)
    assert (result["answer"], result["by"]) == ("no", "@alice:example.org")
    refusal = wait_until(lambda: [c for c in matrix.sent if "Already answered" in c["body"]])
    assert "Already answered 'no' by @alice:example.org via Matrix; @bob:example.org's 'yes' was not recorded." \
        in refusal[0]["body"]
    ignored = next(r for r in audit(state) if r["event"] == "ignored")
    assert ignored["by"] == "@mallory:example.org".replace("example.org", "evil.example")


def test_matrix_allowed_users_limits_who_answers(matrix, state):
    env = mx_env(matrix, state, MATRIX_ALLOWED_USERS="@bob:example.org")
    thread, box = in_thread(ask, "Deploy?", ["yes", "no"], timeout=60, env=env)
    matrix.question()
    matrix.say("@alice:example.org", "yes")
    wait_until(lambda: any(r["event"] == "ignored" for r in audit(state)))
    matrix.say("@bob:example.org", "no")
    assert joined(thread, box)["by"] == "@bob:example.org"


# --- Claude Code permission prompts ---------------------------------------------------------------------

PERMISSION = {"session_id": "s1", "transcript_path": "/tmp/t.jsonl", "cwd": "/home/me/shop",
              "hook_event_name": "PermissionRequest", "tool_name": "Bash",
              "tool_input": {"command": "rm -rf build/", "description": "clean"}}


def hook(env, payload, *args):
    return subprocess.Popen([sys.executable, "-m", "mcp_push", "hook", "claude-code", *args],
                            env=child_env(env), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=REPO), json.dumps(payload).encode()


@pytest.mark.parametrize("answer", ["allow", "deny"])
def test_a_permission_request_is_asked_on_the_phone_and_answered_with_the_decision(telegram, state, answer):
    process, stdin = hook(tg_env(telegram, state), PERMISSION, "--ask-permissions", "--ask-timeout", "60")
    process.stdin.write(stdin)
    process.stdin.close()
    question = telegram.question()
    assert question["text"].endswith("Claude wants to run (in shop): `rm -rf build/`")
    telegram.press(answer)
    out = process.stdout.read()
    assert process.wait(60) == 0, process.stderr.read()
    output = json.loads(out)
    assert output["hookSpecificOutput"]["hookEventName"] == "PermissionRequest"
    assert output["hookSpecificOutput"]["decision"]["behavior"] == answer
    if answer == "deny":
        assert output["hookSpecificOutput"]["decision"]["message"] == "Denied on the phone by @alice via telegram."


def test_an_unanswered_permission_request_gives_no_decision(telegram, state):
    env = tg_env(telegram, state, MCP_PUSH_ASK_PERMISSIONS="true")  # the setting instead of the flag
    process, stdin = hook(env, PERMISSION, "--ask-timeout", "1")
    out, err = process.communicate(stdin, timeout=60)
    assert process.returncode == 0 and out == b""
    assert telegram.question()["text"].endswith("`rm -rf build/`")


def test_without_the_opt_in_a_permission_request_asks_nothing(telegram, state):
    process, stdin = hook(tg_env(telegram, state), PERMISSION)
    out, _ = process.communicate(stdin, timeout=60)
    assert process.returncode == 0 and out == b""
    assert telegram.called("sendMessage") == []


def test_other_hook_events_go_on_to_the_usual_hook_with_the_opt_in(webhook, state):
    env = {**webhook_env(webhook), "HITOKOTO": "false", "MCP_PUSH_STATE_DIR": str(state)}
    stop = {"session_id": "s1", "cwd": "/home/me/shop", "hook_event_name": "Stop",
            "last_assistant_message": "All tests pass."}
    process, stdin = hook(env, stop, "--ask-permissions")
    out, err = process.communicate(stdin, timeout=60)
    assert process.returncode == 0 and out == b"", err
    [body] = wait_until(lambda: webhook.json_bodies())
    assert "All tests pass." in body["content"]


# --- more of Telegram, secrets --------------------------------------------------------------------------


def test_a_reply_on_telegram_answers_a_free_text_question(telegram, state):
    thread, box = in_thread(ask, "What should the release be called?", timeout=60, env=tg_env(telegram, state))
    sent = wait_until(lambda: next((b for b in telegram.called("sendMessage") if b["text"].startswith("Question #")),
                                   None))
    assert sent["reply_markup"] == {"force_reply": True}
    telegram.queue({"message": {"message_id": 7, "from": {"id": int(CHAT), "username": "alice"},
                                "chat": {"id": int(CHAT)}, "text": "Bluebird",
                                "reply_to_message": {"message_id": 101, "chat": {"id": int(CHAT)},
                                                     "text": sent["text"]}}})
    result = joined(thread, box)
    assert (result["answer"], result["by"]) == ("Bluebird", "@alice")
    edit = wait_until(lambda: telegram.called("editMessageText"))[0]
    assert edit["message_id"] == 101 and "Answered 'Bluebird' by @alice" in edit["text"]


def test_a_channel_secret_in_the_question_is_masked_everywhere(telegram, state):
    thread, box = in_thread(ask, f"Rotate {TOKEN}?", ["yes", "no"], timeout=60, env=tg_env(telegram, state))
    question = telegram.question()
    telegram.press("yes")
    joined(thread, box)
    assert TOKEN not in question["text"] and "***" in question["text"]
    assert TOKEN.encode() not in (state / "ask-audit.jsonl").read_bytes()
    assert TOKEN.encode() not in (state / "asks.sqlite3").read_bytes()


def test_ntfy_with_more_options_than_buttons_gets_one_answer_page_button(webhook, state):
    ntfy = FakeNtfy().start()
    try:
        env = {"NTFY_URL": ntfy.url, "NTFY_TOPIC": "alerts", "HITOKOTO": "false", "MCP_PUSH_STATE_DIR": str(state),
               "MCP_PUSH_PUBLIC_URL": "https://push.example.org"}
        result = ask("Which?", ["a", "b", "c", "d"], timeout=1, env=env)
        _, headers, body = next(p for p in ntfy.published if p[0] == "/alerts")
    finally:
        ntfy.stop()
    import base64
    [action] = json.loads(base64.b64decode(headers["Actions"].removeprefix("=?utf-8?B?").removesuffix("?=")))
    assert (action["action"], action["label"]) == ("view", "Answer")
    assert action["url"].startswith("https://push.example.org/v1/answer/")
    assert "Options: a / b / c / d" in body and result["timed_out"] is True


def test_a_question_that_reached_no_channel_is_an_error_and_withdrawn(state):
    from .local_server import Behaviour

    vendor = VendorServer(routes={"/hook": Behaviour(status=500, body='{"error":"down"}')}).start()
    try:
        env = {**webhook_env(vendor), "HITOKOTO": "false", "MCP_PUSH_STATE_DIR": str(state),
               "MCP_PUSH_PUBLIC_URL": "https://push.example.org", "MCP_PUSH_RETRY_ATTEMPTS": "1"}
        with pytest.raises(ValueError, match="^channels: the question reached no channel: webhook "):
            ask("Deploy?", ["yes", "no"], timeout=60, env=env)
    finally:
        vendor.stop()
    assert len(vendor.received) == 1  # no follow-up to a question nobody saw
    assert [r["event"] for r in audit(state)] == ["asked", "withdrawn"]
