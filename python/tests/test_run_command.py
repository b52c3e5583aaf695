"""`mcp-push run -- COMMAND`, run as a child process wrapping real child commands, against a loopback
vendor (the custom webhook, which posts {"title", "content"} as JSON): the events it sends, the exit code it
passes on, the stderr tail (bounded, secrets masked), --on error, --progress-regex, and signals."""

from __future__ import annotations

import re
import signal
import subprocess
import sys

import pytest

from mcp_push.service.run_command import Reporter, Tail, compile_progress, progress_of

from .mcp_helpers import REPO, child_env, webhook_env

SECRET = "wh_5e8d1c9a7b3f2e6d"  # the webhook URL's key: a channel secret


def run_env(vendor, **extra: str) -> dict[str, str]:
    return child_env({**webhook_env(vendor, f"/hook/{SECRET}"), "MCP_PUSH_RETRY_ATTEMPTS": "1", **extra})


def mcp_push_run(vendor, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mcp_push", "run", *args], env=env or run_env(vendor), cwd=REPO,
                          capture_output=True, text=True, timeout=60)


def py(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def events(vendor) -> list[dict]:
    return vendor.json_bodies()


def test_a_command_that_succeeds_sends_start_and_end_and_exits_0(vendor):
    process = mcp_push_run(vendor, "--run-id", "backup", "--title", "Nightly backup", "--",
                           *py("print('copied 3 files')"))
    assert process.returncode == 0, process.stderr
    assert process.stdout == "copied 3 files\n"  # the command's output, unchanged
    start, end = events(vendor)
    assert start["title"] == "🚀 backup started"
    assert start["content"].startswith("Nightly backup: started\ncommand: ")
    assert end["title"] == "✅ backup finished"
    assert re.match(r"Nightly backup: finished in \d+s\n", end["content"])


def test_a_failing_command_sends_error_with_its_exit_code_and_stderr_tail_and_exits_with_its_code(vendor):
    code = "import sys\nfor i in range(100): print(f'line {i}', file=sys.stderr)\nsys.exit(3)"
    process = mcp_push_run(vendor, "--run-id", "job", "--", *py(code))
    assert process.returncode == 3
    assert process.stderr.startswith("line 0\n")  # passed through, all of it
    start, error = events(vendor)
    assert start["title"] == "🚀 job started" and error["title"] == "❌ job failed"
    head, tail = error["content"].split("\n\nLast lines of stderr:\n")
    assert re.fullmatch(r".*: exit code 3 after \d+s", head)
    assert tail.splitlines()[:20] == [f"line {i}" for i in range(80, 100)]  # the last 20 lines only
    assert "Error code: 3" in tail


def test_the_stderr_tail_masks_the_configured_channels_secrets(vendor):
    process = mcp_push_run(vendor, "--run-id", "leak", "--on", "error", "--",
                           *py(f"import sys; print('posting to /hook/{SECRET} failed', file=sys.stderr); sys.exit(1)"))
    assert process.returncode == 1
    (error,) = events(vendor)
    assert SECRET not in error["content"]
    assert "posting to /hook/*** failed" in error["content"]


def test_a_long_stderr_line_is_bounded():
    tail = Tail(lines=20, chars=2000)
    for _ in range(5):
        tail.add("x" * 1500)
    assert len(tail.text()) == 2000 and tail.text().startswith("…")


def test_on_error_sends_nothing_for_a_success_and_only_the_error_for_a_failure(vendor):
    ok = mcp_push_run(vendor, "--on", "error", "--progress-regex", r"(\d+)%", "--", *py("print('50%')"))
    assert ok.returncode == 0, ok.stderr
    assert vendor.received == []
    failed = mcp_push_run(vendor, "--on", "error", "--run-id", "r", "--", *py("import sys; sys.exit(4)"))
    assert failed.returncode == 4
    assert [e["title"] for e in events(vendor)] == ["❌ r failed"]


def test_a_missing_command_exits_127_and_sends_an_error(vendor):
    process = mcp_push_run(vendor, "--run-id", "cron", "--", "no-such-command-mcp-push-test")
    assert process.returncode == 127
    assert "no-such-command-mcp-push-test: command not found" in process.stderr
    (error,) = events(vendor)
    assert error["title"] == "❌ cron failed"
    assert error["content"].startswith("no-such-command-mcp-push-test: command not found\nError code: 127")


def test_progress_regex_turns_matching_lines_into_updates_between_start_and_end(vendor):
    code = "import sys\nprint('downloading 25%')\nprint('noise')\nprint('downloading 50%', file=sys.stderr)"
    process = mcp_push_run(vendor, "--run-id", "dl", "--progress-regex", r"(\d+)%", "--", *py(code))
    assert process.returncode == 0, process.stderr
    assert process.stdout == "downloading 25%\nnoise\n"
    titles = [e["title"] for e in events(vendor)]
    assert titles[0] == "🚀 dl started" and titles[-1] == "✅ dl finished"
    updates = titles[1:-1]
    assert updates and set(updates) <= {"⏳ dl 25%", "⏳ dl 50%"}
    bars = {"25": "██░░░░░░░░", "50": "█████░░░░░"}  # stdout and stderr are read apart: either may come first
    for update in events(vendor)[1:-1]:
        percent = update["title"].split()[-1][:-1]
        assert update["content"].startswith(f"downloading {percent}%\nProgress: {bars[percent]} {percent}%")


def test_progress_values():
    first = compile_progress(r"(\S+) done")
    assert progress_of(first, "45% done") == 0.45
    assert progress_of(first, "3/12 done") == 0.25
    assert progress_of(first, "0.5 done") == 0.5
    assert progress_of(first, "70 done") == 0.7
    assert progress_of(first, "250% done") == 1.0
    assert progress_of(first, "many done") is None
    assert progress_of(first, "nothing here") is None
    assert progress_of(compile_progress(r"(?P<percent>\d+)"), "step 1") == 0.01
    assert progress_of(compile_progress(r"(\w+) (?P<fraction>[\d.]+)"), "at 1") == 1.0
    with pytest.raises(ValueError, match="--progress-regex: needs a group"):
        compile_progress(r"\d+%")
    with pytest.raises(ValueError, match="--progress-regex: not a regular expression"):
        compile_progress(r"(\d+")


def test_updates_are_throttled_and_one_still_waiting_at_the_end_is_dropped():
    import threading

    now, sent, first = [0.0], [], threading.Event()

    def deliver(envelope):
        sent.append(envelope["message"])
        first.set()

    reporter = Reporter(deliver, every=5.0, clock=lambda: now[0])
    reporter.event({"message": "start"})
    reporter.update({"message": "u1"})
    first.wait(10)
    while len(sent) < 2:  # u1 goes at once (no update yet); wait for it without a clock
        threading.Event().wait(0.01)
    reporter.update({"message": "u2"})
    reporter.update({"message": "u3"})  # replaces u2; neither is due before 5 s (the fake clock stands still)
    reporter.finish({"message": "end"})
    assert sent == ["start", "u1", "end"]

    now[0], sent[:] = 0.0, []
    reporter = Reporter(deliver, every=5.0, clock=lambda: now[0])
    reporter.update({"message": "u1"})
    while not sent:
        threading.Event().wait(0.01)
    reporter.update({"message": "u2"})
    now[0] = 5.0  # due now: the last waiting update goes before the end
    reporter.finish({"message": "end"})
    assert sent == ["u1", "u2", "end"]


def test_sigterm_is_passed_to_the_child_and_reported_as_killed(vendor):
    code = "import time\nprint('ready', flush=True)\ntime.sleep(60)"
    process = subprocess.Popen([sys.executable, "-m", "mcp_push", "run", "--run-id", "long", "--", *py(code)],
                               env=run_env(vendor), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout.readline() == "ready\n"
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 128 + signal.SIGTERM, stderr
    start, error = events(vendor)
    assert error["title"] == "❌ long failed"
    assert re.match(r".*: killed by SIGTERM after \d+s\nError code: SIGTERM", error["content"])


def test_sigint_is_passed_on_and_a_child_that_handles_it_decides_the_exit_code(vendor):
    code = ("import signal, sys, time\nsignal.signal(signal.SIGINT, lambda *a: sys.exit(5))\n"
            "print('ready', flush=True)\ntime.sleep(60)")
    process = subprocess.Popen([sys.executable, "-m", "mcp_push", "run", "--run-id", "i", "--", *py(code)],
                               env=run_env(vendor), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               stdin=subprocess.DEVNULL, text=True)
    assert process.stdout.readline() == "ready\n"
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=30)
    assert process.returncode == 5
    assert events(vendor)[-1]["content"].startswith(f"{sys.executable} -c")


def test_with_mcp_push_url_the_events_go_to_the_servers_rest_endpoint(vendor):
    from .local_server import Behaviour

    vendor.routes["/v1/events"] = Behaviour(status=202, body='{"ok": true, "summary": "accepted"}')
    env = child_env({"MCP_PUSH_URL": vendor.url + "/", "MCP_PUSH_HTTP_TOKEN": "tok_0123456789abcdef"})
    process = mcp_push_run(vendor, "--run-id", "r1", "--channel", "ntfy", "--", *py("pass"), env=env)
    assert process.returncode == 0, process.stderr
    assert [r.path for r in vendor.received] == ["/v1/events", "/v1/events"]
    assert vendor.received[0].headers["Authorization"] == "Bearer tok_0123456789abcdef"
    start, end = events(vendor)
    assert {k: start[k] for k in ("run_id", "event", "channels")} == {"run_id": "r1", "event": "start",
                                                                      "channels": ["ntfy"]}
    assert end["event"] == "end" and end["message"].startswith(f"{sys.executable} -c pass: finished in ")


def test_a_notification_that_fails_never_changes_the_exit_code(vendor):
    from .local_server import Behaviour

    vendor.routes["/hook"] = Behaviour(status=500, body="{}")
    process = mcp_push_run(vendor, "--", *py("import sys; sys.exit(0)"))
    assert process.returncode == 0
    assert "mcp-push run: the end event was not delivered" in process.stderr
    assert SECRET not in process.stderr


def test_usage_errors_exit_2_before_running_anything(vendor, tmp_path):
    marker = tmp_path / "ran"
    touch = py(f"open({str(marker)!r}, 'w').close()")
    for args in (["--progress-regex", "(", "--", *touch], ["--"], ["--channel", "gotify", "--", *touch]):
        process = mcp_push_run(vendor, *args)
        assert process.returncode == 2, (args, process.stderr)
        assert process.stderr.startswith("mcp-push: error: ")
    assert not marker.exists() and vendor.received == []


def test_when_no_server_answers_at_mcp_push_url_the_events_are_sent_from_this_process(vendor):
    from .mcp_helpers import free_port

    env = run_env(vendor, MCP_PUSH_URL=f"http://127.0.0.1:{free_port()}")
    process = mcp_push_run(vendor, "--run-id", "fallback", "--", *py("pass"), env=env)
    assert process.returncode == 0, process.stderr
    assert [e["title"] for e in events(vendor)] == ["🚀 fallback started", "✅ fallback finished"]


def test_a_signal_that_comes_while_the_child_is_being_started_reaches_it(monkeypatch):
    """In this process: the SIGTERM arrives before `run` has the child (the handler cannot pass it on yet);
    it must still reach the child once it is there, or the child sleeps on and `run` waits for it."""
    import os

    from mcp_push.service import run_command

    real = subprocess.Popen

    def popen(*args, **kwargs):
        child = real(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGTERM)  # the handler runs here, before run_command has the child
        return child

    monkeypatch.setattr(run_command.subprocess, "Popen", popen)
    sent: list[dict] = []
    code = run_command.run(py("import time\ntime.sleep(60)"), {}, run_id="early",
                           send=lambda envelope, env, channels: sent.append(envelope))
    monkeypatch.undo()
    assert code == 128 + signal.SIGTERM
    assert [e["event"] for e in sent] == ["start", "error"]
    assert "killed by SIGTERM" in sent[-1]["message"]
