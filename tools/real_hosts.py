"""The agent hooks in the real hosts, offline: Claude Code and Codex CLI run one turn each against loopback
stand-ins for their model APIs, with mcp-push's hooks wired as docs/INTEGRATIONS.md says, and a loopback
vendor (the custom webhook channel) records what the hooks sent. Not part of the test suite: it needs the
hosts' binaries, which are large and not on PyPI.

    npm install --prefix /tmp/hosts @anthropic-ai/claude-code @openai/codex
    python tools/real_hosts.py --claude /tmp/hosts/node_modules/.bin/claude --codex /tmp/hosts/node_modules/.bin/codex

Checks: `claude plugin validate --strict` on the plugin and the marketplace; `claude -p` with
`--plugin-dir integrations/claude-code` sends start and end (with the model's answer); `codex exec
--strict-config` with the documented config.toml runs `notify` and sends the end with the last message.
Then each host once more with a vendor that never answers: how long the host took beside the first run
(the hooks must not hold it). mcp-push must be on PATH (the venv's bin first). Exit 1 when a check fails.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLAUDE_TEXT = "All done: the stand-in model says hi."
CODEX_TEXT = "Renamed it; cargo build passes (stand-in model)."


class _Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # a host closing a kept-alive connection is no news


def _serve(handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
    server = _Server(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server


def _url(server: ThreadingHTTPServer) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


class _Quiet(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _answer(self, status: int, body: bytes, kind: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _read(self) -> dict:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        return json.loads(raw or b"{}")

    def do_GET(self):
        self._answer(404, b"{}")

    do_HEAD = do_GET


def _sse(events: list[dict]) -> bytes:
    return b"".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events)


class Anthropic(_Quiet):
    """POST /v1/messages: one text turn, streamed (SSE) when asked."""

    def do_POST(self):
        body = self._read()
        if "count_tokens" in self.path:
            return self._answer(200, b'{"input_tokens": 10}')
        if not self.path.startswith("/v1/messages"):
            return self._answer(404, b"{}")
        message = {"id": "msg_1", "type": "message", "role": "assistant", "model": body.get("model", "claude"),
                   "content": [], "stop_reason": None, "stop_sequence": None,
                   "usage": {"input_tokens": 10, "output_tokens": 1}}
        if not body.get("stream"):
            message.update(content=[{"type": "text", "text": CLAUDE_TEXT}], stop_reason="end_turn")
            return self._answer(200, json.dumps(message).encode())
        self._answer(200, _sse([
            {"type": "message_start", "message": message},
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": CLAUDE_TEXT}},
            {"type": "content_block_stop", "index": 0},
            {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
             "usage": {"output_tokens": 9}},
            {"type": "message_stop"},
        ]), "text/event-stream")


class Responses(_Quiet):
    """POST /v1/responses: one assistant message, streamed (SSE)."""

    def do_POST(self):
        self._read()
        if not self.path.rstrip("/").endswith("/responses"):
            return self._answer(404, b"{}")
        usage = {"input_tokens": 1, "input_tokens_details": None, "output_tokens": 1, "output_tokens_details": None,
                 "total_tokens": 2}
        self._answer(200, _sse([
            {"type": "response.created", "response": {"id": "resp_1"}},
            {"type": "response.output_item.done", "item": {"type": "message", "role": "assistant", "id": "msg_1",
                                                           "content": [{"type": "output_text", "text": CODEX_TEXT}]}},
            {"type": "response.completed", "response": {"id": "resp_1", "usage": usage}},
        ]), "text/event-stream")


def vendor(hang: threading.Event | None = None) -> tuple[ThreadingHTTPServer, list[dict]]:
    """The custom webhook's vendor: records each JSON body; with `hang`, answers only once it is set."""
    got: list[dict] = []

    class Vendor(_Quiet):
        def do_POST(self):
            got.append(self._read())
            if hang is not None:
                hang.wait(120)
            try:
                self._answer(200, b"{}")
            except OSError:
                pass

    return _serve(Vendor), got


def _env(home: str, hook_url: str, state: str, **extra: str) -> dict[str, str]:
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return {"PATH": path, "HOME": home, "WEBHOOK_URL": hook_url, "WEBHOOK_CONTENT_TYPE": "application/json",
            "WEBHOOK_BODY": "title: $title\ncontent: $content", "MCP_PUSH_STATE_DIR": state,
            "MCP_PUSH_HOOK_EVENTS": "start,update,end,error", "HITOKOTO": "false", **extra}


def _wait_for(got: list[dict], count: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        time.sleep(0.05)


class Report:
    def __init__(self) -> None:
        self.failed = 0

    def check(self, name: str, ok: bool, detail: str = "", shown: bool = False) -> None:
        """`detail` is printed when the check fails, or always when `shown`."""
        self.failed += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {name}" + (f": {detail}" if detail and (shown or not ok) else ""),
              flush=True)


def _timed(command: list[str], env: dict[str, str], cwd: str) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=180)
    return done, time.monotonic() - started


def claude(binary: str, report: Report, work: Path) -> None:
    for target in (ROOT / "integrations" / "claude-code", ROOT):
        done = subprocess.run([binary, "plugin", "validate", "--strict", str(target)], capture_output=True,
                              text=True, timeout=120, env={**os.environ, "HOME": str(work / "home")})
        report.check(f"claude plugin validate --strict {target.relative_to(ROOT.parent)}", done.returncode == 0,
                     " ".join(done.stdout.split())[-200:])
    api = _serve(Anthropic)
    project = work / "shop"
    project.mkdir(exist_ok=True)
    times = {}
    for mode in ("answering", "hung"):
        hang = threading.Event() if mode == "hung" else None
        server, got = vendor(hang)
        env = _env(str(work / "home"), f"{_url(server)}/hook", str(work / f"state-claude-{mode}"),
                   ANTHROPIC_API_KEY="sk-ant-stand-in", ANTHROPIC_BASE_URL=_url(api),
                   CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1", DISABLE_AUTOUPDATER="1", DISABLE_TELEMETRY="1")
        done, times[mode] = _timed([binary, "-p", "say hi", "--plugin-dir", str(ROOT / "integrations" / "claude-code"),
                                    "--output-format", "json"], env, str(project))
        _wait_for(got, 2)
        titles = [(g.get("title", ""), g.get("content", "")) for g in got]
        report.check(f"claude -p with the plugin, vendor {mode}: exit 0", done.returncode == 0, done.stderr[-300:])
        report.check(f"claude -p, vendor {mode}: SessionStart and Stop hooks sent start and end",
                     len(titles) == 2 and titles[0][0].startswith("🚀 shop (") and titles[1][0].endswith("finished")
                     and titles[1][1] == CLAUDE_TEXT, repr(titles))
        if hang is not None:
            hang.set()
        server.shutdown()
    report.check("claude -p is no slower with a hung vendor", times["hung"] < times["answering"] + 2.0,
                 f"{times['answering']:.1f} s answering, {times['hung']:.1f} s hung", shown=True)
    api.shutdown()


CODEX_CONFIG = """notify = ["mcp-push", "hook", "codex"]
model = "gpt-stand-in"
model_provider = "stand-in"

[model_providers.stand-in]
name = "stand-in"
base_url = "{base}/v1"
env_key = "STAND_IN_OPENAI_KEY"
wire_api = "responses"

[mcp_servers.mcp-push]
command = "mcp-push"
args = ["serve"]
env_vars = ["NTFY_TOPIC"]
"""


def codex(binary: str, report: Report, work: Path) -> None:
    api = _serve(Responses)
    home = work / "codex-home"
    home.mkdir(exist_ok=True)
    (home / "config.toml").write_text(CODEX_CONFIG.format(base=_url(api)), encoding="utf-8")
    project = work / "api"
    project.mkdir(exist_ok=True)
    times = {}
    for mode in ("answering", "hung"):
        hang = threading.Event() if mode == "hung" else None
        server, got = vendor(hang)
        env = _env(str(work / "home"), f"{_url(server)}/hook", str(work / f"state-codex-{mode}"),
                   CODEX_HOME=str(home), STAND_IN_OPENAI_KEY="sk-stand-in", NTFY_TOPIC="unused")
        done, times[mode] = _timed([binary, "exec", "--strict-config", "--skip-git-repo-check", "rename foo to bar"],
                                   env, str(project))
        _wait_for(got, 1)
        titles = [(g.get("title", ""), g.get("content", "")) for g in got]
        report.check(f"codex exec --strict-config, vendor {mode}: exit 0", done.returncode == 0, done.stderr[-300:])
        report.check(f"codex exec, vendor {mode}: notify sent the end with the last message",
                     titles == [(titles[0][0], CODEX_TEXT)] and titles[0][0].startswith("✅ api ("), repr(titles))
        if hang is not None:
            hang.set()
        server.shutdown()
    report.check("codex exec is no slower with a hung vendor", times["hung"] < times["answering"] + 2.0,
                 f"{times['answering']:.1f} s answering, {times['hung']:.1f} s hung", shown=True)
    api.shutdown()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--claude", help="the claude binary (npm i @anthropic-ai/claude-code)")
    parser.add_argument("--codex", help="the codex binary (npm i @openai/codex)")
    args = parser.parse_args(argv)
    if not shutil.which("mcp-push", path=os.pathsep.join([str(Path(sys.executable).parent),
                                                          os.environ.get("PATH", "")])):
        print("mcp-push is not on PATH (install it: pip install -e .)", file=sys.stderr)
        return 1
    report = Report()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        (work / "home").mkdir()
        if args.claude:
            claude(args.claude, report, work)
        if args.codex:
            codex(args.codex, report, work)
    if not (args.claude or args.codex):
        parser.error("name --claude and/or --codex")
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
