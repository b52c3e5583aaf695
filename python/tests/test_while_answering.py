"""Work done while the vendors answer (api._run_concurrently's `meanwhile`): the HTTP transport says when a
request is written (transports.on_the_wire), and `dispatch` opens the history then, not after the replies.

The vendors here hold their answer until the test's own signal came (or 10 s passed) and say in the reply
whether it came first: the order of events is read from the reply, not from a clock."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from mcp_push import api, dispatch
from mcp_push.deliver import Progress
from mcp_push.planner import PlannedRequest
from mcp_push.service import history
from mcp_push.transports import on_the_wire, request_written
from mcp_push.transports.http import send_http


class HoldingVendor:
    """Answers each request once `signal` is set (at most 10 s later): {"id": 1, "signalled": true|false}."""

    def __init__(self) -> None:
        self.signal = threading.Event()
        self.requests = 0
        vendor = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                vendor.requests += 1
                came = vendor.signal.wait(10)
                payload = b'{"id": 1, "signalled": %s}' % (b"true" if came else b"false")
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def holding():
    vendor = HoldingVendor()
    yield vendor
    vendor.stop()


def _request(url: str) -> PlannedRequest:
    return PlannedRequest("ntfy", "POST", url, {"Content-Type": "text/plain"}, "hello")


def test_the_http_transport_says_the_request_is_written_before_it_reads_the_reply(holding):
    calls = []

    def written():
        calls.append("written")
        holding.signal.set()

    with on_the_wire(written):
        reply = send_http(_request(f"{holding.url}/a"), 15)
    assert reply.status == 200 and '"signalled": true' in reply.text
    assert calls == ["written"]
    # Outside the block nobody is told; a nested block's callback is restored when it ends.
    holding.signal.clear()
    outer = []
    with on_the_wire(lambda: outer.append("outer")):
        with on_the_wire(lambda: None):
            pass
        request_written()
    request_written()
    assert outer == ["outer"]


def _env(url: str, state: str) -> dict[str, str]:
    return {"NTFY_URL": url, "NTFY_TOPIC": "a", "HITOKOTO": "false", "MCP_PUSH_STATE_DIR": state}


def test_dispatch_opens_the_history_while_the_vendor_answers_and_records_after(holding, tmp_path, monkeypatch):
    opened, replies = [], []
    prepare, real_send = history.prepare_store, send_http

    def prepare_and_signal(source):
        prepare(source)
        opened.append(history.store_for(source))
        holding.signal.set()

    def spy(request, timeout):  # what the vendor said, through the transport (a result keeps no reply body)
        reply = real_send(request, timeout)
        replies.append(reply.text)
        return reply

    monkeypatch.setattr(history, "prepare_store", prepare_and_signal)
    monkeypatch.setattr("mcp_push.transports.http.send_http", spy)
    result = dispatch("t", "c", _env(holding.url, str(tmp_path / "state")))
    assert (result["ntfy"].ok, result["ntfy"].status) == (True, "delivered")
    # The store was open before the vendor answered: its reply says the signal came first ...
    assert replies == ['{"id": 1, "signalled": true}']
    # ... and the record, made after the results, is in it: the final state, with the message id.
    [store] = opened
    rows = store.query("SELECT message_id, state FROM deliveries")
    assert rows == [{"message_id": result.message_id, "state": "delivered"}]


def test_a_history_that_fails_to_open_meanwhile_changes_no_result_and_the_record_is_still_made(
        holding, tmp_path, monkeypatch):
    def broken(source):
        holding.signal.set()
        raise OSError("disk on fire")

    monkeypatch.setattr(history, "prepare_store", broken)
    env = _env(holding.url, str(tmp_path / "state"))
    result = dispatch("t", "c", env)
    assert (result["ntfy"].ok, result["ntfy"].status, result["ntfy"].error) == (True, "delivered", None)
    store = history.store_for(env)
    assert store.query("SELECT message_id FROM deliveries") == [{"message_id": result.message_id}]


def test_without_a_state_folder_nothing_is_opened(holding, monkeypatch):
    monkeypatch.setattr(history, "prepare_store", lambda source: pytest.fail("opened a history"))
    holding.signal.set()
    env = {"NTFY_URL": holding.url, "NTFY_TOPIC": "a", "HITOKOTO": "false", "MCP_PUSH_STATE_DIR": ""}
    result = dispatch("t", "c", env)
    assert result["ntfy"].ok and result.message_id is None


def test_meanwhile_runs_once_every_channel_is_on_the_wire_and_not_before(monkeypatch):
    channels = [threading.Event(), threading.Event()]
    calls = []
    channels[0].set()
    monkeypatch.setattr(api, "MEANWHILE_WAIT_S", 0)
    api._while_answering(channels, lambda: calls.append("ran"))
    assert calls == []  # the second channel's request was not written within the wait: left out
    channels[1].set()
    api._while_answering(channels, lambda: calls.append("ran"))
    assert calls == ["ran"]


def test_a_failing_meanwhile_is_not_the_callers(monkeypatch):
    channel = threading.Event()
    channel.set()

    def boom():
        raise RuntimeError("bug")

    api._while_answering([channel], boom)  # logged, not raised


def test_a_send_without_meanwhile_tells_nobody_of_its_writes(vendor):
    # The MCP server's lanes and plain send_plan callers: no callback, nothing set up per try.
    from mcp_push.deliver import send_plan
    from mcp_push.planner import plan_channel
    from mcp_push.selection import configured_channels

    [(spec, env)] = configured_channels({"NTFY_URL": vendor.url, "NTFY_TOPIC": "a"})
    channel_plan = plan_channel(spec, env, "t", "c", {}, 0.0)
    progress = Progress()
    assert send_plan(channel_plan, 5, progress=progress).result.ok
    assert progress.on_wire is None and progress.attempts == 1


def test_a_transport_that_never_tells_is_on_the_wire_when_its_send_is_over(monkeypatch, capsys):
    # The console transport writes to stderr and says nothing: meanwhile runs after its send, once.
    calls = []
    monkeypatch.setattr(api, "prepare_record", lambda source: calls.append("prepared"))
    result = dispatch("t", "c", {"CONSOLE": "true", "HITOKOTO": "false"})
    assert [r.channel for r in result] == ["console"] and result["console"].ok
    assert calls == ["prepared"]


def test_the_transports_library_is_imported_in_the_callers_thread_before_the_channels_start(vendor, monkeypatch):
    from mcp_push import channel_threads
    from mcp_push.transports import HttpTransport

    order = []
    load, start = HttpTransport.load, channel_threads.start

    def loading(self):
        order.append(("load", threading.current_thread() is threading.main_thread()))
        load(self)

    monkeypatch.setattr(HttpTransport, "load", loading)
    monkeypatch.setattr(channel_threads, "start", lambda task, name: (order.append(("start", name)), start(task, name)))
    env = {"NTFY_URL": vendor.url, "NTFY_TOPIC": "a", "GOTIFY_URL": vendor.url, "GOTIFY_TOKEN": "tok",
           "HITOKOTO": "false"}
    result = dispatch("t", "c", env)
    assert [r.ok for r in result] == [True, True]
    # One load for both HTTP channels, in the caller's thread, before either channel's thread.
    assert order[0] == ("load", True) and [step for step, _ in order] == ["load", "start", "start"]


def test_a_transport_that_cannot_load_ahead_is_left_to_its_channels(vendor, monkeypatch):
    from mcp_push.transports import HttpTransport

    def broken(self):
        raise ImportError("no urllib3 here")

    monkeypatch.setattr(HttpTransport, "load", broken)
    result = dispatch("t", "c", {"NTFY_URL": vendor.url, "NTFY_TOPIC": "a", "HITOKOTO": "false"})
    assert (result["ntfy"].ok, result["ntfy"].status) == (True, "delivered")


def test_a_history_that_cannot_open_is_said_once_per_send(vendor, tmp_path, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    env = {"NTFY_URL": vendor.url, "NTFY_TOPIC": "a", "HITOKOTO": "false", "MCP_PUSH_STATE_DIR": str(blocker / "s")}
    with caplog.at_level("INFO", logger="mcp_push"):
        result = dispatch("t", "c", env)
    assert result["ntfy"].ok and result.message_id is None
    assert len([r for r in caplog.records if "history: cannot keep it in" in r.getMessage()]) == 1


def test_a_postgresql_history_is_left_to_the_record(monkeypatch):
    # Its connection may wait for a server: opened once, by the record, not also while the vendors answer.
    opened = []
    monkeypatch.setattr(history, "store_for", lambda source, quiet=False: opened.append(source))
    history.prepare_store({"MCP_PUSH_DATABASE_URL": "postgresql://127.0.0.1:9/none"})
    history.prepare_store({"MCP_PUSH_STATE_DIR": "/nowhere"})
    assert opened == [{"MCP_PUSH_STATE_DIR": "/nowhere"}]


def test_an_event_opens_its_history_while_the_vendor_answers_too(holding, tmp_path, monkeypatch):
    from mcp_push.events import RunLog, send_event

    replies = []
    prepare, real_send = history.prepare_store, send_http

    def prepare_and_signal(source):
        prepare(source)
        holding.signal.set()

    def spy(request, timeout):
        reply = real_send(request, timeout)
        replies.append(reply.text)
        return reply

    monkeypatch.setattr(history, "prepare_store", prepare_and_signal)
    monkeypatch.setattr("mcp_push.transports.http.send_http", spy)
    env = _env(holding.url, str(tmp_path / "state"))
    result = send_event({"run_id": "r1", "event": "start", "message": "go"}, env=env, runs=RunLog())
    assert result["ntfy"].ok
    assert replies == ['{"id": 1, "signalled": true}']
    rows = history.store_for(env).query("SELECT message_id, state FROM deliveries")
    assert rows == [{"message_id": result.message_id, "state": "delivered"}]
