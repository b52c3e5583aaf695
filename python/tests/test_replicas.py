"""The replicated setup end to end, with real processes (docs/DEPLOYMENT.md): 3 `mcp-push serve --transport
http` replicas and 2 `mcp-push worker`s on one real PostgreSQL (pg_helpers.py). Several runs (start, 200
updates, end) are posted at once through the REST endpoint of every replica to a WeCom robot (20 messages a
minute, its spec's real limit) and ntfy (which edits a run's card), both loopback vendors; a worker and a
replica are SIGKILLed mid-burst, once each. Then: every accepted start, end and error arrived exactly once, the
quota held in every 60-second window, each run's updates arrived in order and none after its end, ntfy's
run cards were edited (posted only for the start; the end edits it last) whichever replica accepted the update, and
an Idempotency-Key sent again to another replica got the first answer and sent nothing."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable

import httpx2
import pytest

from .local_server import Behaviour, VendorServer
from .mcp_helpers import REPO, child_env, free_port, listens_on
from .pg_helpers import fresh_schema

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")

RUNS = ("alpha", "bravo", "charlie")
UPDATES = 200
MESSAGE = re.compile(r"(alpha|bravo|charlie) (start|end|error|update (\d+))")
LAST = {"alpha": "end", "bravo": "end", "charlie": "error"}  # how each run ends
WECOM_PATH, NTFY_TOPIC = "/cgi-bin/webhook/send", "runs"


def process(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "mcp_push", *args], env=child_env(env), cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def wait_listening(proc: subprocess.Popen, port: int) -> bool:
    """True once `proc` itself listens on `port`; False when another process took the port first (another
    xdist worker's server: a connection alone would reach it), and ours then cannot bind it."""
    deadline = time.monotonic() + 30
    while True:
        if proc.poll() is not None:
            stderr = proc.stderr.read().decode()
            if "in use" in stderr:
                return False
            raise AssertionError(stderr[-2000:])
        try:
            httpx2.get(f"http://127.0.0.1:{port}/v1/openapi.json", timeout=1)
            return listens_on(proc.pid, port) is not False
        except httpx2.HTTPError:
            assert time.monotonic() < deadline, "a replica did not start listening"
            time.sleep(0.1)


def started_listening(count: int, start: Callable[[list[int]], list[subprocess.Popen]]) -> list[int]:
    """Ports on which the processes start(ports) made all listen, each its own; started again on new ports
    when another process had taken one first (rare: all are killed and started anew)."""
    for _ in range(5):
        ports = [free_port() for _ in range(count)]
        procs = start(ports)
        if all([wait_listening(proc, port) for proc, port in zip(procs, ports, strict=True)]):
            return ports
        for proc in procs:
            proc.kill()
            proc.wait()
    raise AssertionError(f"{count} free ports could not be listened on in 5 tries")


def events_of(vendor: VendorServer, prefix: str) -> list[tuple[str, str, int | None, float, str]]:
    """(run, kind, update number, arrival, path) of what the vendor accepted at paths under `prefix`."""
    found = []
    for received in list(vendor.received):
        if received.status != 200 or not received.path.startswith(prefix):
            continue
        match = MESSAGE.search(received.body.decode("utf-8", "replace"))
        if match:
            kind = "update" if match.group(3) else match.group(2)
            found.append((match.group(1), kind, int(match.group(3)) if match.group(3) else None, received.at,
                          received.path))
    return found


class Client:
    """Posts a run's events round-robin over the replicas; a replica that is gone is skipped (the same
    Idempotency-Key sent to the next one)."""

    def __init__(self, ports: list[int], dead: set[int]):
        self.ports, self.dead = ports, dead
        self.answers: dict[str, tuple[int, bool]] = {}  # key: (status, replayed)

    def post(self, key: str, body: dict, first: int) -> tuple[int, bool]:
        for step in range(len(self.ports) * 3):
            port = self.ports[(first + step) % len(self.ports)]
            if port in self.dead:
                continue
            try:
                answer = httpx2.post(f"http://127.0.0.1:{port}/v1/events", json=body, timeout=30,
                                     headers={"Idempotency-Key": key})
            except httpx2.HTTPError:
                continue  # killed under us: the next replica gets the same key
            return answer.status_code, answer.headers.get("idempotent-replayed") == "true"
        raise AssertionError(f"no replica answered {key}")

    def run(self, index: int, run: str, progress: list[int]) -> None:
        def send(kind: str, message: str, key: str, seq: int) -> None:
            self.answers[key] = self.post(key, {"run_id": run, "event": kind, "message": message}, index + seq)

        send("start", f"{run} start", f"{run}-start", 0)
        for number in range(1, UPDATES + 1):
            send("update", f"{run} update {number}", f"{run}-u{number}", number)
            progress[index] = number
        send(LAST[run], f"{run} {LAST[run]}", f"{run}-end", UPDATES + 1)
        # The start's key again, at another replica: the first answer, nothing sent.
        self.answers[f"{run}-start-again"] = self.post(f"{run}-start", {"run_id": run, "event": "start",
                                                                        "message": f"{run} start"}, index + 1)


def test_replicas_and_workers_on_postgresql_survive_kills_within_quota_and_in_order(tmp_path):
    schemas = fresh_schema()
    url = next(schemas)
    vendor = VendorServer(routes={f"/{NTFY_TOPIC}": Behaviour(body='{"id":"Ab3dE","event":"message"}'),
                                  WECOM_PATH: Behaviour(body='{"errcode":0,"errmsg":"ok"}')}).start()
    env = {"MCP_PUSH_DATABASE_URL": url, "QYWX_KEY": "key_wb_replicas", "QYWX_ORIGIN": vendor.url,
           "NTFY_URL": vendor.url, "NTFY_TOPIC": NTFY_TOPIC, "MCP_PUSH_EDIT_PROGRESS": "true"}
    procs: list[subprocess.Popen] = []
    try:
        workers = [process(["worker", "--concurrency", "4"], {**env, "MCP_PUSH_STATE_DIR": str(tmp_path / f"w{i}")})
                   for i in range(2)]
        procs += workers
        replicas: list[subprocess.Popen] = []

        def start(ports: list[int]) -> list[subprocess.Popen]:
            replicas[:] = [process(["serve", "--transport", "http", "--port", str(port)],
                                   {**env, "MCP_PUSH_WORKERS": "0", "MCP_PUSH_STATE_DIR": str(tmp_path / f"r{port}")})
                           for port in ports]
            procs.extend(replicas)
            return replicas

        ports = started_listening(3, start)

        dead: set[int] = set()
        client = Client(ports, dead)
        progress = [0] * len(RUNS)
        threads = [threading.Thread(target=client.run, args=(i, run, progress)) for i, run in enumerate(RUNS)]
        for thread in threads:
            thread.start()
        killed_worker = killed_replica = False
        while any(thread.is_alive() for thread in threads):
            if not killed_worker and min(progress) >= 60:
                workers[0].send_signal(signal.SIGKILL)
                killed_worker = True
            if not killed_replica and min(progress) >= 120:
                dead.add(ports[2])
                replicas[2].send_signal(signal.SIGKILL)
                killed_replica = True
            time.sleep(0.05)
        for thread in threads:
            thread.join()
        assert killed_worker and killed_replica

        # Every start and end accepted; the second start of each run was the first answer, replayed.
        for run in RUNS:
            assert client.answers[f"{run}-start"][0] == 202 and client.answers[f"{run}-end"][0] == 202
            assert client.answers[f"{run}-start-again"] == (202, True)

        def finished() -> bool:
            both = events_of(vendor, WECOM_PATH) + events_of(vendor, f"/{NTFY_TOPIC}")
            ends = [e for e in both if e[1] in ("end", "error")]
            return len(ends) >= 2 * len(RUNS)

        # A guard against a hang, not a timing check: 600 REST calls and the 20/min quota take about a minute
        # alone, several on a CI machine busy with the other tests.
        deadline = time.monotonic() + 480
        while not finished():
            assert time.monotonic() < deadline, f"not all ends arrived: {events_of(vendor, WECOM_PATH)[-5:]}"
            assert workers[1].poll() is None, workers[1].stderr.read().decode()[-2000:]
            time.sleep(0.2)
        time.sleep(1.0)  # anything that would wrongly come after an end

        wecom, ntfy = events_of(vendor, WECOM_PATH), events_of(vendor, f"/{NTFY_TOPIC}")
        for channel in (wecom, ntfy):
            for run in RUNS:
                mine = [e for e in channel if e[0] == run]
                kinds = [e[1] for e in mine]
                assert kinds.count("start") == 1 and kinds.count(LAST[run]) == 1, kinds
                assert kinds[0] == "start" and kinds[-1] == LAST[run]  # nothing before its start or after its end
                numbers = [e[2] for e in mine if e[1] == "update"]
                assert numbers == sorted(numbers), numbers  # in order; a resent one at most repeats the last
        # The quota: at most 20 requests in any 60 seconds, across all replicas and workers.
        times = sorted(e[3] for e in wecom)
        for index, at in enumerate(times):
            assert sum(1 for other in times[index:] if other < at + 60) <= 20
        assert len(wecom) > 2 * len(RUNS)  # updates went out too, coalesced
        # Run cards: posted once, for the start; every update and then the end edited the card.
        for run in RUNS:
            posts = [e[1] for e in ntfy if e[0] == run and e[4] == f"/{NTFY_TOPIC}"]
            edits = [e for e in ntfy if e[0] == run and e[4] != f"/{NTFY_TOPIC}"]
            assert posts == ["start"] and edits and all(e[1] == "update" for e in edits[:-1])
            assert edits[-1][1] == LAST[run]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        vendor.stop()
        schemas.close()
