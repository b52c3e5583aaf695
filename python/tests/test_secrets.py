"""Secrets never leak: every secret value used in the conformance suite is grepped for in results,
logs, stderr and redacted plans, with vendors that fail in every way, including replies that echo
the request (URL with its token, body with its key) back inside their error message."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import re
import socket
import stat
import threading
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from conformance.runners.cases import load_cases
from conformance.runners.compare import leaks
from conformance.runners.python_runner import plan_case, send_case
from mcp_push import dispatch
from mcp_push.api import configured_channels
from mcp_push.lanekey import SALT_FILE, lane_key
from mcp_push.planner import build_context
from mcp_push.redact import REGISTRY, Redactor, is_token, process_redactor
from mcp_push.service.engine import Engine
from mcp_push.service.outbox import FILE_NAME, Outbox
from mcp_push.service.outcome import SecretRedactor, outcome
from mcp_push.specs import load_channels
from mcp_push.tokens import TokenCache

from .intercept import CLOSE, HANG
from .local_server import Behaviour

SECRET_NAMES = {name for spec in load_channels().values() for name in spec.secret_env}
HTTP_CHANNELS = {name for name, spec in load_channels().items() if spec.transport == "http"}
# Sent cases are HTTP only: an SMTP case names real mail hosts, and tests never leave loopback.
CASES = [c for c in load_cases() if any(k in SECRET_NAMES and v for k, v in c.env.items())]
# An invalid event envelope (a case with `error`) sends nothing: there is no result to grep.
SENT_CASES = [c for c in CASES if c.channel in HTTP_CHANNELS and "error" not in c.data]


def _secrets(case) -> list[str]:
    """The case's secret env values, and what hooks derive from them (corpsecret, Basic auth, headers)."""
    found = [v for k, v in case.env.items() if k in SECRET_NAMES and v]
    title, content = case.data["input"].get("title", "t"), case.data["input"].get("content", "c")
    for spec, env in configured_channels(case.env):
        try:
            _, derived, per_message = build_context(spec, env, title, content, {}, case.now)
        except Exception:  # noqa: S112 - a config error derives nothing
            continue
        found += derived + per_message
    return found


def _echo(status: int):
    def reply(seen):
        echoed = f"{seen.url} {seen.body} {json.dumps(seen.headers)}"
        fields = ["errmsg", "msg", "message", "description", "error", "errMsg", "reason", "wording"]
        payload = {name: echoed for name in fields} | {"errcode": 1, "code": 1, "ok": False}
        return status, {}, json.dumps(payload)

    return reply


# Every vendor (tests/intercept.py, on loopback): echoing the request into its error, closing the connection
# after reading it (the error then names the URL), or never answering (within MCP_PUSH_TIMEOUT below).
FAILURES = {"echo-200": _echo(200), "echo-500": _echo(500), "connection": lambda seen: CLOSE,
            "timeout": lambda seen: HANG}
# What each failure must be reported as (a 200 is success for channels that only check the status).
EXPECTED_STATUS = {"echo-500": "rejected", "connection": "network_error", "timeout": "timeout"}
TIMEOUT_S = "0.05"


def _failing(case, failure, intercept, monkeypatch, extra=None):
    """send_case with every vendor failing as `failure` says."""
    intercept.answer = FAILURES[failure]
    env = {**case.env, **(extra or {})}
    if "TG_PROXY_HOST" in env:  # a proxy the spec names: the interceptor plays it
        env.update(TG_PROXY_HOST="127.0.0.1", TG_PROXY_PORT=str(intercept.port))
    if failure == "timeout":
        env["MCP_PUSH_TIMEOUT"] = TIMEOUT_S
    with monkeypatch.context() as patch:
        patch.setattr(type(case), "env", property(lambda _self: env))
        return send_case(case)


def test_the_suite_uses_secrets_at_all():
    assert len(CASES) >= 20


@pytest.mark.parametrize("failure", list(FAILURES))
@pytest.mark.parametrize("case", SENT_CASES, ids=[c.id for c in SENT_CASES])
def test_no_secret_in_results_logs_or_stderr(case, failure, caplog, capsys, intercept, monkeypatch):
    caplog.set_level(logging.DEBUG)
    result = _failing(case, failure, intercept, monkeypatch)
    out, err = capsys.readouterr()
    shown = json.dumps(result.to_dict(), ensure_ascii=False) + repr(result) + caplog.text + out + err
    for secret in _secrets(case):
        assert not leaks(secret, shown), secret
    if failure in EXPECTED_STATUS:
        for entry in result:
            if entry.status not in ("config_error", "skipped"):
                assert (entry.ok, entry.status) == (False, EXPECTED_STATUS[failure]), entry.channel


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_no_secret_in_a_redacted_plan(case):
    shown = json.dumps(plan_case(case, redact=True)[0], ensure_ascii=False)
    for secret in _secrets(case):
        assert not leaks(secret, shown), secret


def test_a_secret_straddling_the_error_length_limit_is_masked_whole(intercept):
    # Cutting the vendor's message before masking would leave the secret's first half visible.
    key = "PDU8123secretKeyValue9"
    for prefix in range(150, 320, 7):
        body = json.dumps({"code": 80501, "error": "x" * prefix + f" pushkey={key} end"})
        intercept.answer = lambda seen, body=body: (200, {}, body)
        result = dispatch("t", "c", {"DEER_KEY": key, "HITOKOTO": "false"})
        assert intercept.seen.pop().url == "https://api2.pushdeer.com/message/push"
        error = result["pushdeer"].error
        assert key[:6] not in error, (prefix, error)
        assert len(error) <= 300


# --- masking hides secrets, not words (issue 11, item 5) ------------------------------------------------

def _send(intercept, env: dict[str, str], body: str, status: int = 400):
    """One send with every request answered `status` with `body`; returns (result, outcome)."""
    intercept.answer = lambda seen: (status, {}, body)
    result = dispatch("t", "c", {"HITOKOTO": "false", **env})
    return result, outcome(result, SecretRedactor(env))


def test_a_secret_webhook_url_masks_its_token_not_the_word_webhook(intercept):
    token = "Zq8x3Lw0Pq7TbN2mYc"
    env = {"WEBHOOK_URL": f"https://hooks.example.com/webhook/{token}?text=$title"}
    reply = json.dumps({"error": f"webhook {token} unknown at https://hooks.example.com/webhook/{token}"})
    result, shown = _send(intercept, env, reply)
    error = result["webhook"].error
    assert token not in error
    assert "webhook *** unknown at https://hooks.example.com/webhook/***" in error
    assert [c["channel"] for c in shown["channels"]] == ["webhook"]
    assert shown["summary"].startswith("0 of 1 channel delivered: webhook rejected (")


def test_a_one_letter_secret_is_masked_only_where_it_stands_alone(caplog, intercept):
    caplog.set_level(logging.INFO, logger="mcp_push")
    env = {"CHAT_URL": "https://chat.example.com/webapi/entry.cgi?api=SYNO.Chat.External&token=", "CHAT_TOKEN": "c"}
    said = json.dumps({"success": False, "error": {"errors": "channel c: access denied"}})
    result, shown = _send(intercept, env, said, 200)
    assert result["synology_chat"].error.endswith("channel ***: access denied")
    logging.getLogger("mcp_push").warning("connecting to c, then c.example.com: success")
    assert "connecting to ***, then ***.example.com: success" in caplog.text
    assert shown["channels"][0]["channel"] == "synology_chat" and "access denied" in shown["summary"]


def test_channels_json_keeps_its_keys_with_short_secrets(monkeypatch, capsys):
    from mcp_push.service.cli import main

    for name in [n for n in os.environ if n.startswith(("CHAT_", "TG_", "NTFY_"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("CHAT_URL", "https://chat.example.com/webapi/entry.cgi?token=")
    monkeypatch.setenv("CHAT_TOKEN", "e")
    assert main(["channels", "--json"]) == 0
    channels = {c["channel"]: c for c in json.loads(capsys.readouterr().out)}
    assert set(channels["synology_chat"]) == {
        "channel", "display_name", "configured", "complete", "enabled_by", "missing", "problems", "unknown_env", "env"
    }
    assert channels["synology_chat"]["env"] == {"CHAT_URL": "https://chat.example.com/webapi/entry.cgi?token=",
                                                "CHAT_TOKEN": "***"}
    assert channels["telegram"]["display_name"] == "Telegram bot"


@pytest.mark.parametrize(("piece", "token"), [
    ("webhook", False), ("hooks", False), ("api", False), ("send", False), ("v1", False), ("V2", False),
    ("bot", False), ("services", False), ("sendMessage", False), ("2016-06-01", False), ("json", False),
    ("T0AAA1111", True), ("abc123", True), ("x1", True), ("abcdefghijklmnop", True), ("abcdefghijklmno", False),
    ("send_private_msg", True), ("---", False), ("1234567890123456", True),
])
def test_which_url_pieces_are_tokens(piece, token):
    # js/test/secrets.test.js checks the same table against redact.js.
    assert is_token(piece) is token


def test_redaction_rules():
    # A short secret only as a whole token; a long one anywhere.
    assert Redactor(["ab1"]).text("ab1 cab1 ab1x (ab1) ab1-2 ab1.") == "*** cab1 ab1x (***) ab1-2 ***."
    assert Redactor(["longsecret99"]).text("xlongsecret99y") == "x***y"
    # Overlapping secrets are masked as one: neither half stays visible.
    assert Redactor(["abcdef12", "ef12ghij34"]).text("xabcdef12ghij34y") == "x***y"
    # Channel ids, status words and field names are never masked, nor keys of a tree.
    assert Redactor(["webhook", "rejected", "e"]).text("webhook rejected: e") == "webhook rejected: ***"
    assert Redactor(["e"]).tree({"channel": "e", "ok": "e x"}) == {"channel": "***", "ok": "*** x"}
    assert Redactor(["longsecret99"]).tree({"longsecret99": 1}) == {"***": 1}
    # A URL secret: its credential parts, never the scheme, host or path words.
    slack = "https://hooks.slack.com/services/T0AAA1111/B0BBB2222/abcdefghijklmnopqrstuvwx"
    assert Redactor([slack]).text(f"POST {slack} failed") == "POST https://hooks.slack.com/services/***/***/*** failed"
    bark = "https://bark.example.com/onlyletterskey"  # no token-like piece: the path is the key
    assert Redactor([bark]).text(f"{bark}/title") == "https://bark.example.com/***/title"


# --- secrets in other shapes (issue 11, item 16) ------------------------------------------------------

def test_the_password_of_tg_proxy_auth_is_masked_alone_and_as_basic_auth(caplog, intercept):
    caplog.set_level(logging.DEBUG)
    password = "hunter2pass"
    basic = base64.b64encode(b"puser:hunter2pass").decode()
    env = {"TG_BOT_TOKEN": "777000:tg_secret_shape", "TG_USER_ID": "1", "TG_PROXY_HOST": "127.0.0.1",
           "TG_PROXY_PORT": str(intercept.port), "TG_PROXY_AUTH": f"puser:{password}"}
    reply = json.dumps({"ok": False, "description": f"proxy refused password {password} (Basic {basic})"})
    result, shown = _send(intercept, env, reply, 401)
    logging.getLogger("mcp_push").warning("proxy said %s / %s", password, basic)
    text = json.dumps(shown) + caplog.text
    assert password not in text and basic.rstrip("=") not in text
    assert "proxy refused password *** (Basic ***" in result["telegram"].error
    assert intercept.tunnels[-1] == ("api.telegram.org:443", f"Basic {basic}")  # the credentials went out


def test_a_webhook_header_token_is_masked_with_and_without_its_scheme(caplog, intercept):
    caplog.set_level(logging.DEBUG)
    token = "tok_9f8e7d6c5b4a"
    env = {"WEBHOOK_URL": "https://example.com/notify?text=$title",
           "WEBHOOK_HEADERS": f"Content-Type: application/json\nAuthorization: Bearer {token}"}
    said = json.dumps({"error": f"HTTP 401: token {token} is revoked (application/json)"})
    result, shown = _send(intercept, env, said, 401)
    logging.getLogger("mcp_push").warning("header token %s", token)
    assert token not in json.dumps(shown) + caplog.text
    # The URL carries no credential and the content type is no secret: both stay readable.
    assert "token *** is revoked (application/json)" in result["webhook"].error


def test_proxy_credentials_from_the_environment_are_masked(monkeypatch, caplog, intercept):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("HTTPS_PROXY", f"http://pxuser:pxpass_77aa@127.0.0.1:{intercept.port}")
    env = {"DEER_KEY": "PDU_proxy_case_1"}
    result, shown = _send(intercept, env, json.dumps({"error": "proxy auth pxpass_77aa failed"}))
    logging.getLogger("mcp_push").warning("via http://pxuser:pxpass_77aa@127.0.0.1:3128")
    assert "pxpass_77aa" not in json.dumps(shown) + caplog.text
    assert "proxy auth *** failed" in result["pushdeer"].error
    basic = "Basic " + base64.b64encode(b"pxuser:pxpass_77aa").decode()
    assert intercept.tunnels[-1] == ("api2.pushdeer.com:443", basic)


def test_userinfo_in_a_url_setting_that_is_not_secret_is_masked(caplog, intercept):
    caplog.set_level(logging.DEBUG)
    env = {"NTFY_URL": "http://nuser:npw_5566x@ntfy.example.com", "NTFY_TOPIC": "alerts"}
    result, shown = _send(intercept, env, json.dumps({"error": "user nuser:npw_5566x is not allowed"}), 403)
    assert "npw_5566x" not in json.dumps(shown) + caplog.text
    assert "is not allowed" in result["ntfy"].error


@pytest.mark.parametrize("shape", ["base64", "base64url", "pct-lower", "pct-upper", "pct-twice", "json", "plus"])
def test_a_secret_echoed_in_another_encoding_is_masked(shape, intercept):
    key = "PDU12ab/cd+ef=gh ij"
    echoed = {
        "base64": base64.b64encode(key.encode()).decode(),
        "base64url": base64.urlsafe_b64encode(key.encode()).decode().rstrip("="),
        "pct-lower": re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), quote(key, safe="")),
        "pct-upper": quote(key, safe=""),
        "pct-twice": quote(quote(key, safe=""), safe=""),
        "json": json.dumps(key)[1:-1],
        "plus": quote_plus(key),
    }[shape]
    result, _ = _send(intercept, {"DEER_KEY": key}, json.dumps({"error": f"bad key [{echoed}]"}))
    assert result["pushdeer"].error.endswith("bad key [***]"), result["pushdeer"].error


def test_each_key_of_a_comma_separated_list_is_a_secret(intercept):
    result, _ = _send(intercept, {"DEER_KEY": "PDU1aaaaaa,PDU2bbbbbb"}, json.dumps({"error": "unknown key PDU2bbbbbb"}))
    assert result["pushdeer"].error.endswith("unknown key ***")


class _EchoingSmtp(threading.Thread):
    """A careless SMTP server: offers AUTH PLAIN without TLS and repeats the AUTH line in its 535."""

    def __init__(self):
        super().__init__(daemon=True)
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.auth_lines: list[str] = []

    def run(self):
        conn, _ = self.sock.accept()
        with conn, conn.makefile("rwb") as stream:
            stream.write(b"220 echo ESMTP\r\n")
            stream.flush()
            for raw in stream:
                line = raw.decode().rstrip("\r\n")
                if line.upper().startswith(("EHLO", "HELO")):
                    stream.write(b"250-echo\r\n250 AUTH PLAIN\r\n")
                elif line.upper().startswith("AUTH"):
                    self.auth_lines.append(line)
                    stream.write(f"535 5.7.8 rejected: {line}\r\n".encode())
                elif line.upper().startswith("QUIT"):
                    stream.write(b"221 bye\r\n")
                    stream.flush()
                    return
                else:
                    stream.write(b"503 no\r\n")
                stream.flush()


def test_an_smtp_auth_plain_echo_is_masked(caplog):
    caplog.set_level(logging.DEBUG)
    server = _EchoingSmtp()
    server.start()
    password = "smtp-pass-Q1w2"
    env = {"SMTP_SERVER": f"127.0.0.1:{server.port}", "SMTP_EMAIL": "bot@x.test", "SMTP_PASSWORD": password,
           "SMTP_ALLOW_PLAINTEXT": "true", "HITOKOTO": "false"}
    result = dispatch("t", "c", env)
    server.join(10)
    blob = base64.b64encode(f"\0bot@x.test\0{password}".encode()).decode()
    assert server.auth_lines == [f"AUTH PLAIN {blob}"]  # the blob really went out and came back
    shown = json.dumps(outcome(result, SecretRedactor(env))) + caplog.text
    assert blob.rstrip("=") not in shown and password not in shown
    assert "rejected: AUTH PLAIN ***" in result["smtp"].error


# --- per-message secrets live only as long as their message (issue 11, item 20) -----------------------

def test_many_signed_messages_keep_the_process_registry_bounded(intercept):
    env = {"FSKEY": "feishu_hook_registry_1", "FSSECRET": "feishu_sign_secret_1", "HITOKOTO": "false"}
    signatures: list[str] = []

    def refuse(seen):
        # Feishu refusing the signature, and naming it.
        assert seen.url.startswith("https://open.feishu.cn/")
        signatures.append(json.loads(seen.body)["sign"])
        return 200, {}, json.dumps({"code": 19021, "msg": f"sign {signatures[-1]} not match"})

    intercept.answer = refuse
    dispatch("t", "c", env, now=1_700_000_000)
    held = len(REGISTRY)
    for i in range(1, 300):
        result = dispatch("t", "c", env, now=1_700_000_000 + i)
        # Each message's own redactor masks its signature in its result.
        assert result["feishu"].error.endswith("sign *** not match"), result["feishu"].error
    assert len(set(signatures)) == 300
    assert len(REGISTRY) == held
    # ... and the logging filter does not know them: they were never long-lived.
    assert process_redactor().text(signatures[-1]) == signatures[-1]


def test_a_fetched_token_is_in_the_registry_only_while_cached():
    cache = TokenCache(clock=lambda: now[0])
    now = [0.0]
    held = len(REGISTRY)
    cache.put("corp:secret", "fetched_token_AAA1", 7200)
    assert len(REGISTRY) == held + 1 and process_redactor().text("fetched_token_AAA1") == "***"
    cache.put("corp:secret", "fetched_token_BBB2", 7200)  # refreshed: the old one is gone
    assert len(REGISTRY) == held + 1 and process_redactor().text("fetched_token_AAA1") == "fetched_token_AAA1"
    now[0] = 10_000.0
    assert cache.get("corp:secret") is None
    assert len(REGISTRY) == held


# --- the outbox's lane key is salted per state folder (issue 11, item 16) -----------------------------

def test_outbox_lane_keys_are_salted_per_state_folder_and_stable_across_restarts(tmp_path):
    spec = load_channels()["telegram"]
    env = {"TG_BOT_TOKEN": "123:abc", "TG_USER_ID": "1"}
    first = Outbox(tmp_path / "a" / FILE_NAME)
    key = lane_key(spec, env, first.lane_salt)
    first.close()
    again = Outbox(tmp_path / "a" / FILE_NAME)  # a restart, or a peer on the same folder
    other = Outbox(tmp_path / "b" / FILE_NAME)
    assert lane_key(spec, env, again.lane_salt) == key
    assert lane_key(spec, env, other.lane_salt) != key
    unsalted = hashlib.sha256(b"123:abc\0").hexdigest()[:16]
    assert key != f"telegram:{unsalted}" and key.startswith("telegram:")
    salt_file = tmp_path / "a" / SALT_FILE
    assert stat.S_IMODE(salt_file.stat().st_mode) == 0o600
    again.close()
    other.close()


def test_the_engine_stores_salted_lane_keys(tmp_path):
    env = {"TG_BOT_TOKEN": "123:abc", "TG_USER_ID": "1", "HITOKOTO": "false"}
    box = Outbox(tmp_path / FILE_NAME)
    engine = Engine(env, box)
    engine.submit("t", "c")
    lanes = {lane for (lane,) in box._db.execute("SELECT lane FROM deliveries")}
    assert lanes == {lane_key(load_channels()["telegram"], env, box.lane_salt)}
    assert "telegram:" + hashlib.sha256(b"123:abc\0").hexdigest()[:16] not in lanes
    box.close()


REDACTION = json.loads((Path(__file__).parents[2] / "conformance" / "redaction.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("entry", REDACTION["cases"], ids=[e["text"][:40] for e in REDACTION["cases"]])
def test_redaction_both_runtimes_agree_on(entry):
    # js/test/secrets.test.js checks the same file.
    assert Redactor(entry["secrets"]).text(entry["text"]) == entry["masked"]


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.mark.anyio
async def test_an_mcp_summary_keeps_the_channel_name_that_a_webhook_url_contains(vendor, monkeypatch):
    from mcp import Client

    from .mcp_helpers import in_process_server

    token = "Zq8x3Lw0Pq7TbN2mYc"
    monkeypatch.setenv("WEBHOOK_URL", f"{vendor.url}/webhook/{token}?text=$title")
    vendor.routes["/"] = Behaviour(status=404, body=json.dumps({"message": f"webhook {token} is unknown"}))
    async with Client(in_process_server()) as client:
        result = await client.call_tool("notify_send", {"wait": True, "title": "t", "content": "c"})
    summary = "\n".join(block.text for block in result.content if block.type == "text")
    assert summary.startswith("0 of 1 channel delivered: webhook rejected (HTTP 404: webhook *** is unknown")
    [channel] = result.structured_content["channels"]
    assert (channel["channel"], channel["status"]) == ("webhook", "rejected")
    assert token not in result.model_dump_json()


# --- the delivery history never holds a secret (issue 17) ---------------------------------------------

@pytest.mark.parametrize("failure", ["echo-500", "echo-200", "connection"])
def test_no_secret_in_the_history_database(failure, tmp_path, monkeypatch, intercept):
    """Every sent case, its vendor echoing the request (URL, body, headers) into its error, recorded by the
    library in a state folder: the database files (WAL included) hold none of the case's secrets."""
    from mcp_push.service.history import FILE_NAME as HISTORY_FILE
    from mcp_push.service.history import store_for

    state = tmp_path / "state"
    store = store_for({"MCP_PUSH_STATE_DIR": str(state)})
    long_secrets: set[str] = set()
    for case in SENT_CASES:
        result = _failing(case, failure, intercept, monkeypatch, {"MCP_PUSH_STATE_DIR": str(state)})
        rows = store.query("SELECT * FROM deliveries WHERE message_id = ?", (result.message_id,))
        rows += store.query("SELECT * FROM messages WHERE message_id = ?", (result.message_id,))
        assert rows, case.id
        dumped = json.dumps(rows, ensure_ascii=False)
        for secret in _secrets(case):
            assert not leaks(secret, dumped), (case.id, secret)
            if len(secret) >= 8:
                long_secrets.add(secret)
    assert store.query("SELECT COUNT(*) AS n FROM deliveries WHERE error IS NOT NULL")[0]["n"] > 20
    # The files themselves, WAL included (binary pages: only secrets long enough not to occur by chance).
    store.sync()
    stored = b"".join(path.read_bytes() for path in state.glob(HISTORY_FILE + "*")).decode("utf-8", "replace")
    for secret in long_secrets:
        assert secret not in stored, secret
