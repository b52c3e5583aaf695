"""The MCP server's per-call path without work it need not do (issue 13): an envelope the schema plainly
accepts is checked by hand (jsonschema only words a problem), the config file is looked for once per
message, and on pipes the event loop reads and writes stdio itself. Behaviour, not timing: each test
compares the output with the general path's or counts the work."""

from __future__ import annotations

import copy
import itertools
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from mcp_push import configfile, events
from mcp_push.events import EnvelopeError, validate_envelope

from .local_server import Behaviour
from .mcp_helpers import REPO, child_env, webhook_env

CASES = Path(__file__).resolve().parents[2] / "conformance" / "cases" / "events"

# --- the envelope, checked once --------------------------------------------------------------------------


def _envelopes() -> list[object]:
    """Every envelope of the events conformance cases, and edge values of each rule around them."""
    found: list[object] = []
    for path in sorted(CASES.glob("*.yaml")):
        for case in yaml.safe_load(path.read_text(encoding="utf-8"))["cases"]:
            given = case["input"]
            found += [given["event"], *given.get("seen", [])]
    base = {"run_id": "r", "event": "update", "message": "m"}
    edges = {
        "run_id": ["", "x" * 200, "x" * 201, 7, None],
        "event": ["start", "end", "error", "Start", "", ["update"], None],
        "message": ["", "m" * 20000, "m" * 20001, 1.5],
        "timestamp": ["2026-11-24T01:00:00Z", "2026-11-24 01:00:00.123456+05:30", "2026-13-01T00:00:00Z",
                      "2026-02-30T00:00:00Z", "2026-11-24T01:00:00Z\n", "2026-11-24T01:00:00", "", 0],
        "data": [None, [], "x", {}, {"other": None, "nested": {"a": [1, 2]}}],
        "extra": ["not a field"],
    }
    details = {
        "step": ["", "s" * 500, "s" * 501, 3, None],
        "progress": [0, 1, 0.5, -0.0, 1.0000001, -1, True, False, float("nan"), float("inf"), "0.5", None],
        "artifact_url": ["https://example.com/r", "http://a", "ftp://a", "https://a b", "https://a\n",
                         "https://" + "a" * 2040, 5],
        "error_code": ["E1", 42, 3.0, 3.5, True, None, []],
    }
    for field, values in edges.items():
        found += [{**base, field: value} for value in values]
    for field, values in details.items():
        found += [{**base, "data": {field: value}} for value in values]
    found += [{**base, "data": {"progress": p, "step": s}} for p, s in itertools.product((0.3, 2), ("a", 9))]
    found += [{k: v for k, v in base.items() if k != name} for name in base] + [[], "text", None]
    return found


def _outcome(envelope: object) -> object:
    try:
        return validate_envelope(copy.deepcopy(envelope), now=1795488000.0)
    except EnvelopeError as exc:
        return f"EnvelopeError: {exc}"


def test_the_hand_check_never_accepts_what_the_schema_refuses_and_words_nothing_differently(monkeypatch):
    envelopes = _envelopes()
    fast = [_outcome(envelope) for envelope in envelopes]
    monkeypatch.setattr(events, "_plainly_valid", lambda data: False)  # jsonschema for every envelope
    general = [_outcome(envelope) for envelope in envelopes]
    assert json.dumps(fast, default=repr) == json.dumps(general, default=repr)
    assert sum(isinstance(outcome, dict) for outcome in general) > 30
    assert sum(isinstance(outcome, str) for outcome in general) > 30


def test_a_plainly_valid_envelope_is_not_given_to_jsonschema(monkeypatch):
    validator = events._envelope_validator()
    calls: list[object] = []
    monkeypatch.setattr(type(validator), "iter_errors", lambda self, data: calls.append(data) or iter(()))
    envelope = {"run_id": "r", "event": "update", "message": "m", "data": {"step": "s", "progress": 0.5}}
    assert validate_envelope(envelope, now=0)["timestamp"] == "1970-01-01T00:00:00.000Z"
    assert calls == []
    with pytest.raises(EnvelopeError):
        validate_envelope({**envelope, "timestamp": "2026-13-01T00:00:00Z"})  # the pattern admits it; not a date
    assert calls == []
    validate_envelope({**envelope, "data": {"error_code": 3.0}})  # an integer to the schema: jsonschema says so
    assert len(calls) == 1


# --- the config file, looked for once per message -----------------------------------------------------------


def test_one_look_reads_the_file_system_once_per_message(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    looks: list[object] = []
    real = configfile.config_path
    monkeypatch.setattr(configfile, "config_path", lambda source: looks.append(1) or real(source))
    with configfile.one_look():
        assert configfile.load_config({}) is None
        (tmp_path / "mcp-push.yaml").write_text("routes: []\n", encoding="utf-8")
        assert configfile.load_config({}) is None  # one message sees one state of the folder
        with configfile.one_look():
            assert configfile.load_config({}) is None
    assert len(looks) == 1
    assert configfile.load_config({}) is not None  # the next message sees the new file
    assert len(looks) == 2
    named = {"MCP_PUSH_CONFIG": str(tmp_path / "missing.yaml")}
    with configfile.one_look():
        for _ in range(2):  # a file that cannot be used is the same error every time it is asked for
            with pytest.raises(configfile.ConfigFileError, match="no file at"):
                configfile.load_config(named)
    assert len(looks) == 3


def test_a_routed_submit_looks_for_the_config_file_once(tmp_path, monkeypatch):
    from mcp_push.service.engine import Engine
    from mcp_push.service.routing_service import submit

    monkeypatch.chdir(tmp_path)
    looks: list[object] = []
    real = configfile.config_path
    monkeypatch.setattr(configfile, "config_path", lambda source: looks.append(1) or real(source))
    env = {"NTFY_URL": "http://127.0.0.1:9", "NTFY_TOPIC": "t"}
    engine = Engine(env)
    try:
        ticket = submit(engine, env, "title", "content")
    finally:
        engine.close()
    assert [entry.channel for entry in ticket.entries] == ["ntfy"]
    assert len(looks) == 1


# --- stdio on pipes: the event loop reads and writes ----------------------------------------------------------

INITIALIZE = {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
    "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}}

_WIRE_PROBE = textwrap.dedent("""
    import sys
    from mcp_push.service import stdio_transport
    made = []
    for kind in ("_LoopWire", "_ThreadWire"):
        cls = getattr(stdio_transport, kind)
        def opened(self, _open=cls.open, _kind=kind):
            made.append(_kind)
            return _open(self)
        cls.open = opened
    import atexit
    atexit.register(lambda: print("WIRE", *made, file=sys.stderr))
    from mcp_push.service.cli import main
    main()
""")


def _session(vendor, stdin: object, lines: list[dict]) -> tuple[list[dict], str]:
    wire = b"".join(json.dumps(line).encode() + b"\n" for line in lines)
    done = subprocess.run([sys.executable, "-c", _WIRE_PROBE], input=wire if stdin is None else None,
                          stdin=stdin, capture_output=True, cwd=REPO, env=child_env(webhook_env(vendor)),
                          timeout=120)
    return [json.loads(line) for line in done.stdout.splitlines()], done.stderr.decode(errors="replace")


def _calls(count: int) -> list[dict]:
    long_content = "x" * 700_000  # longer than the loop reader's piece: read in several
    return [INITIALIZE, {"jsonrpc": "2.0", "method": "notifications/initialized"}] + [
        {"jsonrpc": "2.0", "id": i, "method": "tools/call",
         "params": {"name": "notify_send", "arguments": {"title": f"t{i}",
                                                          "content": long_content if i == 2 else "c"}}}
        for i in range(1, count + 1)]


def test_pipes_are_served_by_the_event_loop_and_every_line_is_answered_in_full(vendor):
    vendor.routes["/hook"] = Behaviour(body="ok")
    answers, stderr = _session(vendor, None, _calls(5))
    assert "WIRE _LoopWire" in stderr
    assert sorted(answer["id"] for answer in answers) == [0, 1, 2, 3, 4, 5], stderr
    assert all(answer["result"]["isError"] is False for answer in answers if answer["id"])
    titles = sorted(body["title"] for body in vendor.json_bodies())
    assert titles == ["t1", "t2", "t3", "t4", "t5"]
    assert [len(body["content"]) for body in vendor.json_bodies() if body["title"] == "t2"] == [700_000]


def test_stdin_from_a_file_is_read_by_a_thread(vendor, tmp_path):
    vendor.routes["/hook"] = Behaviour(body="ok")
    requests = tmp_path / "requests.jsonl"
    requests.write_bytes(b"".join(json.dumps(line).encode() + b"\n" for line in _calls(2)))
    with requests.open("rb") as stdin:
        answers, stderr = _session(vendor, stdin, [])
    assert "WIRE _ThreadWire" in stderr
    assert sorted(answer["id"] for answer in answers) == [0, 1, 2], stderr


def test_the_pipes_are_blocking_again_after_serving(tmp_path):
    import anyio

    from mcp_push.service.stdio_transport import _LoopWire

    read_in, write_in = os.pipe()
    read_out, write_out = os.pipe()
    with os.fdopen(read_in, "rb") as reader, os.fdopen(write_out, "wb") as writer:
        async def serve_one() -> bytes:
            assert _LoopWire.fits(reader, writer)
            wire = _LoopWire(reader, writer)
            await wire.open()
            os.write(write_in, b"one\ntwo")
            os.close(write_in)
            lines = [await wire.readline(), await wire.readline(), await wire.readline()]
            await wire.write(b"reply\n")
            await wire.aclose()
            return b"|".join(lines)

        assert not _LoopWire.fits(reader, writer)  # no event loop running
        assert anyio.run(serve_one) == b"one\n|two|"
        assert os.get_blocking(reader.fileno()) and os.get_blocking(writer.fileno())
    assert os.read(read_out, 100) == b"reply\n"
    os.close(read_out)


# --- the history: one transaction for a burst of records -------------------------------------------------


class _CountingConnection:
    """The writer's connection, counting its transactions."""

    def __init__(self, db):
        self.db, self.transactions = db, 0

    def execute(self, sql, *args):
        if sql == "BEGIN IMMEDIATE":
            self.transactions += 1
        return self.db.execute(sql, *args)

    def __getattr__(self, name):
        return getattr(self.db, name)


def test_a_burst_of_history_records_is_written_in_one_transaction_and_a_reader_does_not_wait_for_it(
        tmp_path, monkeypatch):
    from mcp_push.service import history
    from mcp_push.service.history import FILE_NAME, Message, SqliteHistory

    monkeypatch.setattr(history, "LINGER_SECONDS", 600.0)  # only a reader's sync() ends the wait
    store = SqliteHistory(tmp_path / FILE_NAME)
    try:
        counting = store._db = _CountingConnection(store._db)
        for i in range(20):
            store.record(Message(f"m{i}", "message", None, f"t{i}", "c"), [], {})
        assert store.sync(timeout=30)
        assert counting.transactions == 1
        assert len(store.query("SELECT message_id FROM messages")) == 20
    finally:
        store.close()


# --- accepting on the loop; settings read once per env snapshot ----------------------------------------------


@pytest.mark.anyio
async def test_the_embedded_outbox_accepts_on_the_event_loop_and_another_backend_on_a_worker_thread(monkeypatch):
    import threading

    from mcp_push.service import routing_service
    from mcp_push.service.engine import Engine
    from mcp_push.service.server import _Tools

    threads: list[int] = []
    monkeypatch.setattr(routing_service, "submit", lambda *args, **how: threads.append(threading.get_ident()))
    engine = Engine({})
    try:
        tools = _Tools({}, engine)
        await tools._submit({}, "title", "content")
        engine.outbox, embedded = object(), engine.outbox  # a backend that is not the SQLite outbox (PostgreSQL)
        await tools._submit({}, "title", "content")
        engine.outbox = embedded
    finally:
        engine.close()
    assert threads[0] == threading.get_ident() and threads[1] != threading.get_ident()


def test_a_setting_of_an_env_snapshot_is_read_once_and_a_bad_one_refused_every_time(monkeypatch):
    from mcp_push import config
    from mcp_push.config import ConfigError, EnvSnapshot, setting

    reads: list[str] = []
    real = config.resolve_var
    monkeypatch.setattr(config, "resolve_var", lambda var, source: reads.append(var.name) or real(var, source))
    snapshot = EnvSnapshot({"MCP_PUSH_TIMEOUT": "7", "MCP_PUSH_LANE_QUEUE_MAX": "zero"})
    assert [setting("MCP_PUSH_TIMEOUT", snapshot) for _ in range(3)] == ["7", "7", "7"]
    assert reads == ["MCP_PUSH_TIMEOUT"]
    for _ in range(2):
        with pytest.raises(ConfigError, match="MCP_PUSH_LANE_QUEUE_MAX"):
            setting("MCP_PUSH_LANE_QUEUE_MAX", snapshot)
    plain = {"MCP_PUSH_TIMEOUT": "7"}
    assert setting("MCP_PUSH_TIMEOUT", plain) == setting("MCP_PUSH_TIMEOUT", plain) == "7"
    assert reads.count("MCP_PUSH_TIMEOUT") == 3  # a plain mapping may change: read every time


def test_a_masker_masks_as_text_does():
    from mcp_push.redact import REGISTRY
    from mcp_push.service.outcome import SecretRedactor

    redactor = SecretRedactor({"NTFY_URL": "http://127.0.0.1:9", "NTFY_TOPIC": "t", "NTFY_TOKEN": "tk_secret_1234"})
    REGISTRY.add(["process-wide-secret-5678"])
    try:
        texts = ["token tk_secret_1234 and process-wide-secret-5678", "nothing secret", ""]
        mask = redactor.masker()
        assert [mask(text) for text in texts] == [redactor.text(text) for text in texts]
        assert "tk_secret_1234" not in mask(texts[0]) and "process-wide-secret-5678" not in mask(texts[0])
    finally:
        REGISTRY.clear()
