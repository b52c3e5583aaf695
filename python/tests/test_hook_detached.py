"""`mcp-push hook` leaves the sending to a detached child (service/detached.py): the hook exits, and the
host's stdout and stderr close, while a vendor still holds the request; the delivery then arrives once;
the event is never in the child's argv; a child killed on the wire, or one that gives up at
MCP_PUSH_HOOK_DEADLINE, leaves the event in the outbox for the next hook or `mcp-push flush`; a server
slow to take the hand-off is asked again with the same Idempotency-Key.

No timing is asserted: each test holds the vendor on an Event it releases only after it has seen what it
checks (the hook's exit, the child's death). Timings are in bench/hook_detach.py."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from .hook_helpers import hook, hook_command, hook_env, hook_log, marked, stdin_bytes, wait_until
from .local_server import Behaviour, VendorServer
from .mcp_helpers import REPO, child_env, webhook_env

FIXTURES = Path(__file__).parent / "fixtures" / "agent_hooks"
RUN = "shop (3f2a9c1e)"


def fixture(name: str, **changes) -> dict:
    return {**json.loads((FIXTURES / name).read_text(encoding="utf-8")), **changes}


def titles(vendor: VendorServer) -> list[str]:
    return [json.loads(r.body)["title"] for r in vendor.received if r.path == "/hook"]


class HeldHook:
    """The hook started as a host starts it (pipes for stdin, stdout and stderr), against a vendor that
    holds every request until release()."""

    def __init__(self, host: str, *args: str, stdin=None, env: dict[str, str] | None = None):
        self.gate = threading.Event()
        self.vendor = VendorServer(routes={"/": Behaviour(gate=self.gate)}).start()
        self.mark = os.urandom(8).hex()
        self.process = subprocess.Popen(
            hook_command(host, *args), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=hook_env({**webhook_env(self.vendor), **(env or {})}, self.mark), cwd=REPO)
        self.stdin = stdin_bytes(stdin)

    def host_reads_to_eof(self) -> tuple[bytes, bytes]:
        """What the host does: writes the JSON, then reads stdout and stderr until they close and waits
        for the exit. A child holding the pipes would make this hang (the timeout is a hang guard)."""
        return self.process.communicate(self.stdin, timeout=60)

    def child(self) -> int:
        [pid] = wait_until(lambda: marked(self.mark), "the detached child")
        return pid

    def release(self) -> None:
        self.gate.set()

    def settle(self) -> None:
        wait_until(lambda: not marked(self.mark), "the detached delivery to end")

    def close(self) -> None:
        self.gate.set()
        for pid in marked(self.mark):
            os.kill(pid, signal.SIGKILL)
        self.vendor.stop()


@pytest.fixture
def held():
    started: list[HeldHook] = []

    def start(*args, **kwargs) -> HeldHook:
        started.append(HeldHook(*args, **kwargs))
        return started[-1]

    yield start
    for one in started:
        one.close()


CASES = {
    "claude-code": ((), fixture("claude_code_stop.json", last_assistant_message="Shipped."), b"",
                    f"✅ {RUN} finished"),
    "codex": ((json.dumps(fixture("codex_notify.json")),), None, b"", "✅ api (b5f6c1c2) finished"),
    "cursor": ((), fixture("cursor_stop.json"), b"{}\n", "✅ site (cdefee2d) finished"),
}


@pytest.mark.parametrize("host", sorted(CASES))
def test_the_hook_exits_and_the_hosts_pipes_close_while_a_hung_vendor_holds_the_request(held, host):
    args, stdin, answer, title = CASES[host]
    hooked = held(host, *args, stdin=stdin)
    stdout, stderr = hooked.host_reads_to_eof()  # EOF on both pipes, and the exit: the vendor still holds
    assert (hooked.process.returncode, stdout, stderr) == (0, answer, b"")
    wait_until(lambda: hooked.vendor.received, "the request at the vendor")
    assert not hooked.gate.is_set()  # the vendor has not answered: the hook did not wait for it
    # The child: in a session of its own, the event not in its argv (any user may read that), its
    # standard streams not the host's pipes.
    pid = hooked.child()
    assert os.getsid(pid) == pid
    assert Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[1:] == [b"-m", b"mcp_push.service.detached", b""]
    log = str(Path(os.environ["MCP_PUSH_STATE_DIR"]) / "hook.log")
    assert [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in (1, 2)] == [log, log]
    hooked.release()
    hooked.settle()
    assert titles(hooked.vendor) == [title]  # once
    assert hook_log() == ""


def test_the_delivery_log_says_what_happened_with_v(held):
    hooked = held("claude-code", "-v", stdin=fixture("claude_code_notification.json"))
    _, stderr = hooked.host_reads_to_eof()
    pid = hooked.child()
    assert f"delivering in the background (pid {pid}); problems go to ".encode() in stderr
    assert str(Path(os.environ["MCP_PUSH_STATE_DIR"]) / "hook.log").encode() in stderr
    hooked.release()
    hooked.settle()
    assert f"mcp-push hook claude-code[{pid}]: 1 of 1 channel delivered: webhook" in hook_log()


def kill_on_the_wire(hooked: HeldHook) -> None:
    """Waits for the child's request to be at the vendor (its outbox row committed before it went out),
    SIGKILLs the child, and only then lets the vendor answer (to nobody)."""
    hooked.host_reads_to_eof()
    wait_until(lambda: hooked.vendor.received, "the request at the vendor")
    pid = hooked.child()
    os.kill(pid, signal.SIGKILL)
    hooked.settle()
    hooked.release()


def test_an_end_whose_delivery_was_killed_is_sent_by_the_next_hook(held):
    hooked = held("claude-code", stdin=fixture("claude_code_stop.json", last_assistant_message="Shipped."))
    kill_on_the_wire(hooked)
    hooked.vendor.routes["/"] = Behaviour()  # the vendor is fine again
    other = fixture("claude_code_notification.json", session_id="99999999-other")
    process = hook("claude-code", stdin=other, env=webhook_env(hooked.vendor))
    assert (process.returncode, process.stderr) == (0, b"")
    # The killed one cannot be known to have arrived: it is sent again (at least once, never lost), before
    # the next hook's own event.
    assert titles(hooked.vendor) == [f"✅ {RUN} finished", f"✅ {RUN} finished", "⏳ shop (99999999) update"]


def flush(vendor: VendorServer) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mcp_push", "flush"], env=child_env(webhook_env(vendor)),
                          cwd=REPO, capture_output=True, timeout=60)


def test_an_end_whose_delivery_was_killed_is_sent_by_flush(held):
    hooked = held("codex", json.dumps(fixture("codex_notify.json")))
    kill_on_the_wire(hooked)
    hooked.vendor.routes["/"] = Behaviour()
    assert flush(hooked.vendor).returncode == 0
    assert titles(hooked.vendor) == ["✅ api (b5f6c1c2) finished"] * 2


def test_a_child_that_reaches_its_deadline_leaves_the_event_in_the_outbox(held):
    hooked = held("claude-code", stdin=fixture("claude_code_stop_failure.json"),
                  env={"MCP_PUSH_HOOK_DEADLINE": "1"})
    hooked.host_reads_to_eof()
    wait_until(lambda: hooked.vendor.received, "the request at the vendor")
    hooked.settle()  # the child gave up and exited while the vendor still holds the request
    assert not hooked.gate.is_set()
    log = hook_log()
    assert "gave up after 1 s (MCP_PUSH_HOOK_DEADLINE): accepted by 1 channel, delivering: webhook queued" in log
    assert "`mcp-push flush`" in log
    hooked.release()
    hooked.vendor.routes["/"] = Behaviour()
    assert flush(hooked.vendor).returncode == 0
    assert titles(hooked.vendor) == [f"❌ {RUN} failed"] * 2


ACCEPTED = json.dumps({"ok": True, "delivered": 0, "queued": 1, "total": 1, "skipped": None,
                       "summary": "accepted by 1 channel, delivering: webhook queued", "channels": []})


def test_a_server_slow_to_take_the_hand_off_is_asked_again_with_the_same_key(vendor):
    """The hook waits a moment only for a server (REST_TIMEOUT); one that took the connection but has not
    answered may have taken the event, so the child asks again with the same Idempotency-Key (the server
    answers a repeated key with its first result) instead of sending it itself."""
    gate = threading.Event()
    server = VendorServer(script=[Behaviour(status=202, body=ACCEPTED, gate=gate)],
                          routes={"/v1/": Behaviour(status=202, body=ACCEPTED)}).start()
    try:
        env = {**webhook_env(vendor), "MCP_PUSH_URL": server.url}
        mark = os.urandom(8).hex()
        process = subprocess.run(hook_command("claude-code", "-v"), input=stdin_bytes(
            fixture("claude_code_notification.json")), env=hook_env(env, mark), cwd=REPO, capture_output=True,
            timeout=60)
        assert process.returncode == 0
        assert b"did not answer within 0.4 s; asking it again in the background" in process.stderr
        wait_until(lambda: not marked(mark), "the detached hand-off to end")
        gate.set()
    finally:
        gate.set()
        server.stop()
    first, again = server.received
    assert first.headers["Idempotency-Key"] == again.headers["Idempotency-Key"]
    assert json.loads(first.body) == json.loads(again.body)
    assert vendor.received == []  # the server delivers, never the hook as well
    assert "claude-code[" in hook_log() and "accepted by 1 channel, delivering: webhook queued" in hook_log()  # -v


def test_a_state_folder_whose_outbox_cannot_be_opened_still_gets_the_event_out(vendor):
    (Path(os.environ["MCP_PUSH_STATE_DIR"]) / "outbox.sqlite3").mkdir(parents=True)  # not a file to open
    process = hook("claude-code", stdin=fixture("claude_code_notification.json"), env=webhook_env(vendor))
    assert (process.returncode, process.stderr) == (0, b"")
    assert titles(vendor) == [f"⏳ {RUN} update"]
    assert "the outbox cannot be opened" in hook_log() and "sending without it" in hook_log()


def test_a_host_that_never_closes_stdin_does_not_hold_the_hook(vendor):
    """The hook's own work is bounded too (agent_hooks.OWN_LIMIT): its JSON never ends, it gives up."""
    process = subprocess.Popen(hook_command("claude-code"), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env=hook_env(webhook_env(vendor), "never-closed"), cwd=REPO)
    try:
        process.stdin.write(b'{"hook_event_name": "Stop", ')  # and nothing more, never closed
        process.stdin.flush()
        assert process.wait(timeout=60) == 0
        assert b"gave up after 3 s (did its input never end?); nothing was sent" in process.stderr.read()
    finally:
        process.kill()
        process.stdin.close()
        process.stdout.close()
        process.stderr.close()
    assert vendor.received == [] and hook_log() == ""
