"""channel_threads.py: a send's channels run on daemon worker threads kept between sends; one stuck past
every timeout neither holds the next send up nor keeps the process alive."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading

from mcp_push import channel_threads, dispatch

from .local_server import Behaviour


def _env(vendor) -> dict[str, str]:
    return {"HITOKOTO": "false", "GOTIFY_URL": vendor.url, "GOTIFY_TOKEN": "gotify_tok_w1",
            "NTFY_URL": vendor.url, "NTFY_TOPIC": "t1", "WEBHOOK_URL": f"{vendor.url}/hook?t=$title"}


def test_a_second_send_runs_its_channels_on_the_first_sends_workers(vendor, monkeypatch):
    ran_on: list[threading.Thread] = []
    real = channel_threads.start
    monkeypatch.setattr(channel_threads, "start",
                        lambda task, name: real(lambda: (ran_on.append(threading.current_thread()), task()), name))
    first = dispatch("a", "b", _env(vendor))
    assert [r.status for r in first] == ["delivered"] * 3
    before = set(threading.enumerate())  # the first send's workers among them, idle
    workers = set(ran_on)
    ran_on.clear()
    second = dispatch("c", "d", _env(vendor))
    assert [r.status for r in second] == ["delivered"] * 3
    assert len(workers) == 3 and all(t.daemon for t in workers)
    assert set(ran_on) <= before  # no thread started for the second send


def test_a_worker_stuck_on_a_hung_vendor_does_not_hold_the_next_send(vendor):
    held = threading.Event()
    vendor.routes["/hung"] = Behaviour(gate=held)
    stuck = threading.Thread(target=dispatch, args=("t", "c", {"HITOKOTO": "false",
                                                                "WEBHOOK_URL": f"{vendor.url}/hung?t=$title"}))
    stuck.start()
    try:
        for _ in range(1000):  # until the hung request is in (at most 10 s)
            if vendor.received:
                break
            threading.Event().wait(0.01)
        result = dispatch("t", "c", {"HITOKOTO": "false", "GOTIFY_URL": vendor.url, "GOTIFY_TOKEN": "g2"})
        assert result["gotify"].status in ("delivered", "rejected")  # answered, not waiting on the stuck one
    finally:
        held.set()
        stuck.join(10)


def test_an_error_in_a_task_is_reported_and_the_worker_goes_on(monkeypatch):
    done = threading.Event()
    reported: list[BaseException] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: reported.append(args.exc_value))

    def boom():
        raise RuntimeError("task failed on purpose")

    channel_threads.start(boom, "mcp-push-test-boom")
    for _ in range(1000):  # until the worker is idle again (at most 10 s)
        if reported and channel_threads.idle_count():
            break
        threading.Event().wait(0.01)
    ran_on = []
    channel_threads.start(lambda: (ran_on.append(threading.current_thread().name), done.set()), "mcp-push-test-after")
    assert done.wait(10)
    assert [str(e) for e in reported] == ["task failed on purpose"]
    assert ran_on == ["mcp-push-test-after"]


def test_a_script_with_a_channel_stuck_past_every_timeout_still_exits(tmp_path):
    # A vendor that accepts and never answers; the script's send gives up at its budget and the process ends.
    script = textwrap.dedent("""
        import socket, sys
        from mcp_push import dispatch
        listener = socket.create_server(("127.0.0.1", 0))
        url = "http://127.0.0.1:%d" % listener.getsockname()[1]
        env = {"HITOKOTO": "false", "MCP_PUSH_TIMEOUT": "0.2", "WEBHOOK_URL": url + "/x?t=$title"}
        result = dispatch("t", "c", env)
        print(result["webhook"].status)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "timeout"
