"""Runs every benchmark, prints the table and writes bench/RESULTS.md (what each one measures:
bench/README.md). `nox -s bench` runs it in a venv that also has Apprise; by hand:

    python bench/run.py [--runs 7] [--delay-ms 200] [--events 1000]
                        [--only qinglong,fanout,targets,plan,cold,throughput,floor,burst]
    QINGLONG_SAMPLE_DIR=/path/to/qinglong python bench/run.py    # with QingLong's notify.py and sendNotify.js
    python bench/run.py --profile      # pyinstrument: the stdio server from start to the tools/list reply
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import burst  # noqa: E402
import cold_start  # noqa: E402
import qinglong  # noqa: E402
import throughput  # noqa: E402
from channels import (  # noqa: E402
    FANOUT_CHANNELS,
    chronocat_targets_env,
    every_channel_env,
    every_http_channel_env,
    fanout_env,
)
from mcp_stdio import TOOLS_LIST, child_env, encode, initialize_messages  # noqa: E402
from sink import SinkProcess  # noqa: E402

SECTIONS = ("qinglong", "fanout", "targets", "plan", "cold", "throughput", "floor", "burst")
NOTES: list[str] = []  # sentences for RESULTS.md, added by the sections that ran


@dataclass
class Row:
    section: str
    subject: str
    value: str
    spread: str = ""
    target: str = ""
    meets: str = ""
    note: str = ""


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def _median(values: list[float]) -> float:
    return statistics.median(values)


def _verdict(value: float, target: float | None, higher_is_better: bool = False) -> str:
    if target is None:
        return ""
    return "yes" if (value >= target if higher_is_better else value <= target) else "**no**"


def _run_json(command: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> dict:
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"{shlex.join(command)} exited {done.returncode}: {done.stderr[-600:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- 0. beside QingLong (issue 13) --------------------------------------------------------------------


def _ratio(ours: list[float], theirs: list[float]) -> tuple[float, str]:
    """median(ours) / median(theirs), and the min–max of the per-round ratios (paired runs)."""
    value = qinglong.median(ours) / qinglong.median(theirs)
    paired = [a / b for a, b in zip(ours, theirs, strict=False)]
    return value, f"{min(paired):.2f}–{max(paired):.2f} per round" if paired else ""


def qinglong_rows(runs: int, delay_ms: float) -> list[Row]:
    section = "0. beside QingLong (ratio)"
    subjects, why = qinglong.measure(runs, warm_rounds=3, warm_runs=runs, delay_ms=delay_ms, progress=log)
    if not subjects:
        log(f"QingLong rows not run: {why}")
        names = ["one-shot script, Python: mcp-push / QingLong notify.py, wall and CPU",
                 "one-shot script, Node: mcp-push bundle / QingLong sendNotify.js, wall and peak RSS",
                 "first send in a fresh process (wall / D)", "warm fan-out, 11 channels, mcp-push / QingLong (wall)"]
        return [Row(section, name, "not run", note=f"{why} (bench/README.md: QingLong's files)") for name in names]
    delay = delay_ms / 1000
    n = len(qinglong.QINGLONG_CHANNELS)
    NOTES.append(
        f"Beside QingLong: the same {n} channels for both ({', '.join(qinglong.QINGLONG_CHANNELS)}), "
        f"QingLong's files from {qinglong.ENV_VAR}; one-shot processes {runs} rounds, warm fan-out 3 rounds of "
        f"{runs} sends, every subject in turn each round. Ratios: mcp-push's median / QingLong's."
    )
    broken = [s for s in subjects if s.error]
    rows = []
    for subject in broken:
        rows.append(Row(section, subject.name, "—", note=f"FAILED: {subject.error[:300]}"))
    by = {(s.language, s.ours): s for s in subjects if not s.error}

    def missing(*pair: qinglong.Subject) -> str:
        lost = [f"{s.name}: {m}" for s in pair for m in s.missing[:2]]
        return ("; NOT ALL ARRIVED: " + "; ".join(lost))[:300] if lost else ""

    py, py_ql = by.get(("python", True)), by.get(("python", False))
    if py and py_ql:
        wall, spread = _ratio(py.walls, py_ql.walls)
        cpu, cpu_spread = _ratio(py.cpus, py_ql.cpus)
        rows.append(Row(section, f"one-shot script, Python: `from notify import send`, one send to {n} channels, exit; "
                        "mcp-push / QingLong `notify.py`, wall", f"{wall:.2f}", spread, "≤ 0.90", _verdict(wall, 0.90),
                        f"wall {qinglong.median(py.walls):.3f} s / {qinglong.median(py_ql.walls):.3f} s; "
                        f"peak RSS {qinglong.median(py.rss):.0f} / {qinglong.median(py_ql.rss):.0f} MiB"
                        + missing(py, py_ql)))
        rows.append(Row(section, "same, CPU (user + system)", f"{cpu:.2f}", cpu_spread, "", "",
                        f"CPU {qinglong.median(py.cpus):.3f} s / {qinglong.median(py_ql.cpus):.3f} s"))
    js, js_ql = by.get(("node", True)), by.get(("node", False))
    if js and js_ql:
        wall, spread = _ratio(js.walls, js_ql.walls)
        rss, rss_spread = _ratio(js.rss, js_ql.rss)
        rows.append(Row(section, f"one-shot script, Node: `require('./sendNotify')`, one send to {n} channels, exit; "
                        "mcp-push bundle / QingLong `sendNotify.js`, wall", f"{wall:.2f}", spread, "≤ 1.0",
                        _verdict(wall, 1.0), f"wall {qinglong.median(js.walls):.3f} s / "
                        f"{qinglong.median(js_ql.walls):.3f} s; CPU {qinglong.median(js.cpus):.3f} s / "
                        f"{qinglong.median(js_ql.cpus):.3f} s" + missing(js, js_ql)))
        rows.append(Row(section, "same, peak RSS", f"{rss:.2f}", rss_spread, "≤ 1.0", _verdict(rss, 1.0),
                        f"peak RSS {qinglong.median(js.rss):.0f} MiB / {qinglong.median(js_ql.rss):.0f} MiB"))
    for subject in (s for s in subjects if not s.error):
        ratios = [f / delay for f in subject.first]
        value = qinglong.median(ratios)
        rows.append(Row(section, f"first send in a fresh process (wall / D): {subject.name}", f"{value:.2f}",
                        f"{min(ratios):.2f}–{max(ratios):.2f}", "≤ 1.10" if subject.ours else "",
                        _verdict(value, 1.10) if subject.ours else "", "the send() call of the one-shot script"))
    for subject in (s for s in subjects if not s.error):
        ratios = [w / delay for w in subject.warm]
        rows.append(Row(section, f"warm fan-out, {n} channels (wall / D): {subject.name}",
                        f"{qinglong.median(ratios):.3f}", f"{min(ratios):.3f}–{max(ratios):.3f}", "", "",
                        missing(subject)[2:]))
    for ours, theirs, label in ((py, py_ql, "Python"), (js, js_ql, "Node")):
        if ours and theirs and ours.warm and theirs.warm:
            value, spread = _ratio(ours.warm, theirs.warm)
            rows.append(Row(section, f"warm fan-out, {n} channels, {label}: mcp-push / QingLong (wall)",
                            f"{value:.3f}", spread.replace("per round", "per send"), "≤ 0.97", _verdict(value, 0.97)))
    return rows


# --- 1. fan-out latency --------------------------------------------------------------------------------


def fanout(runs: int, delay_ms: float, n: int, have_apprise: bool) -> list[Row]:
    rows = []
    delay = delay_ms / 1000
    subjects = [("mcp-push Python: `mcp_push.dispatch`", [sys.executable, str(HERE / "fanout.py"), "mcp-push"]),
                ("mcp-push Node: `sendNotify`", ["node", str(HERE / "node_bench.js"), "fanout"])]
    if have_apprise:
        subjects += [
            ("Apprise `notify()` (default: worker-thread pool)", [sys.executable, str(HERE / "fanout.py"), "apprise"]),
            ("Apprise `async_notify()`", [sys.executable, str(HERE / "fanout.py"), "apprise-async"]),
        ]
    if have_apprise:
        NOTES.append(
            "Fan-out: mcp-push sends every channel on its own thread (Python) or promise (Node). Apprise (both "
            "`notify()` and `async_notify()`) runs its services on one shared `ThreadPoolExecutor()`, sized "
            f"min(32, cores + 4) = {min(32, (os.cpu_count() or 1) + 4)} workers here: with more services than "
            "workers a send takes more than one round of D. Each Apprise send builds a fresh `Apprise()`, "
            "because one object throttles repeated sends to ntfy, Bark and PushDeer (`request_rate_per_sec`, "
            "5.5 s). Apprise services: json, ntfy, gotify, bark, onebot, synology, pushdeer (the same services "
            "as seven of mcp-push's channels), then xml, form and second json, ntfy and gotify targets."
        )
    with SinkProcess(delay_ms) as sink:
        for name, command in subjects:
            log(f"fan-out: {name}")
            if command[0] == "node":
                channels = list(FANOUT_CHANNELS)[:n]
                out = _run_json(command + [str(runs)], env=child_env(fanout_env(sink.url, channels)), cwd=ROOT)
            else:
                out = _run_json(command + [sink.url, str(n), str(runs)], env=child_env({}))
            ratios = [w / delay for w in out["walls"]]
            note = f"first send in a fresh process: {out['first'] / delay:.2f}"
            if out["failed"]:
                note += "; FAILED: " + "; ".join(out["failed"])[:300]
            is_ours = name.startswith("mcp-push")
            median = _median(ratios)
            rows.append(Row("1. fan-out latency (wall / D)", f"{name}, {out['channels']} channels", f"{median:.3f}",
                            f"{min(ratios):.3f}–{max(ratios):.3f}", "≤ 1.1" if is_ours else "",
                            _verdict(median, 1.1) if is_ours else "", note))
    return rows


def fanout_every_http(runs: int, delay_ms: float) -> list[Row]:
    """Every HTTP channel (31) at once; fixed vendor hosts reach the sink as their HTTPS proxy."""
    from urllib.parse import urlsplit

    import tls

    from mcp_push import plan

    delay = delay_ms / 1000
    rows = []
    with tempfile.TemporaryDirectory(prefix="mcp-push-bench-tls-") as temp:
        probe_env, channels = every_http_channel_env("http://127.0.0.1:1")
        hosts = sorted({urlsplit(e["url"]).hostname for e in plan("Bench", "x", env=probe_env)
                        if str(e.get("url", "")).startswith("https://")} - {None})
        ca, cert, key = tls.make_certs(Path(temp), hosts)
        with SinkProcess(delay_ms, cert=(str(cert), str(key))) as sink:
            env, channels = every_http_channel_env(sink.url)
            # Every request stays here: 127.0.0.1 direct, anything else (https and http) to the sink as a
            # proxy, which answers it itself.
            env.update({"HTTPS_PROXY": sink.url, "HTTP_PROXY": sink.url, "NO_PROXY": "127.0.0.1",
                        "REQUESTS_CA_BUNDLE": str(ca), "NODE_EXTRA_CA_CERTS": str(ca)})
            n = len(channels)
            for name, command in [
                ("mcp-push Python: `mcp_push.dispatch`", [sys.executable, str(HERE / "fanout.py"), "environ", "-",
                                                         str(n), str(runs)]),
                ("mcp-push Node: `sendNotify`", ["node", str(HERE / "node_bench.js"), "fanout", str(runs)]),
            ]:
                log(f"fan-out, every HTTP channel ({n}): {name}")
                sink.reset()
                out = _run_json(command, env=child_env(env), cwd=ROOT)
                arrived = len(sink.arrivals())
                ratios = [w / delay for w in out["walls"]]
                median = _median(ratios)
                note = (f"first send in a fresh process: {out['first'] / delay:.2f}; {arrived} requests arrived in "
                        f"{runs + 1} sends; {len(hosts)} fixed vendor hosts over HTTPS through the sink as proxy")
                if out["failed"]:
                    note += "; FAILED: " + "; ".join(out["failed"])[:300]
                rows.append(Row("1. fan-out latency (wall / D)", f"{name}, every HTTP channel: {out['channels']}",
                                f"{median:.3f}", f"{min(ratios):.3f}–{max(ratios):.3f}", "≤ 1.15",
                                _verdict(median, 1.15), note))
    NOTES.append(
        f"Every-HTTP-channel fan-out: the {len(channels)} channels but console, SMTP and Apprise (not HTTP "
        "transports). Those whose URL an env var sets point at the sink over plain HTTP; the fixed vendor "
        "hosts (" + ", ".join(hosts) + ") reach "
        "it as their HTTPS_PROXY (CONNECT, then TLS with a certificate from a CA made for the run and trusted "
        "through REQUESTS_CA_BUNDLE / NODE_EXTRA_CA_CERTS in the child only), so their requests go over TLS "
        "(a handshake whenever the client opens a connection), as with a real vendor."
    )
    return rows


def _most_in_flight(arrivals: list[float], delay_s: float) -> int:
    """The most requests that arrived within one D of each other: how many the vendor had at once."""
    arrivals = sorted(arrivals)
    best, j = 0, 0
    for i, t in enumerate(arrivals):
        while arrivals[j] <= t - delay_s:
            j += 1
        best = max(best, i - j + 1)
    return best


def targets(runs: int, delay_ms: float, n: int = 100) -> list[Row]:
    """One channel, n targets (Chronocat, n QQ ids): wall / D of one send."""
    rows = []
    delay = delay_ms / 1000
    with SinkProcess(delay_ms) as sink:
        for name, command, env in [
            ("mcp-push Python: `mcp_push.dispatch`", [sys.executable, str(HERE / "fanout.py"), "targets",
                                                     sink.url, str(n), str(runs)], child_env({})),
            ("mcp-push Node: `sendNotify`", ["node", str(HERE / "node_bench.js"), "targets", str(n), str(runs)],
             child_env(chronocat_targets_env(sink.url, 1))),
        ]:
            log(f"targets: {name}, Chronocat with {n} QQ ids, {runs} sends")
            sink.reset()
            out = _run_json(command, env=env, cwd=ROOT)
            ratios = [w / delay for w in out["walls"]]
            median = _median(ratios)
            arrivals = sink.arrivals()
            note = (f"{len(arrivals)} requests arrived ({runs} × {n} + 1 warm-up); at most "
                    f"{_most_in_flight(arrivals, delay)} within one D of each other; "
                    "Chronocat's spec sets no rate limit")
            if out["failed"]:
                note += "; FAILED: " + "; ".join(out["failed"])[:300]
            rows.append(Row(f"1b. {n} targets inside one channel (wall / D)", f"{name}, Chronocat with {n} QQ ids",
                            f"{median:.2f}", f"{min(ratios):.2f}–{max(ratios):.2f}", "≤ 15", _verdict(median, 15),
                            note))
    return rows


# --- 2. plan() cost ------------------------------------------------------------------------------------


def plan_cost(samples: int) -> list[Row]:
    env, _ = every_channel_env()
    rows = []
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as fh:
        json.dump(env, fh)
    try:
        for name, command in [
            ("Python `mcp_push.plan`", [sys.executable, str(HERE / "plan_cost.py"), "200", str(samples), fh.name]),
            ("Node `plan`", ["node", str(HERE / "node_bench.js"), "plan", "200", str(samples), fh.name]),
        ]:
            log(f"plan cost: {name}")
            out = _run_json(command, env=child_env({}), cwd=ROOT)
            values = out["perChannelUs"]
            median = _median(values)
            note = f"{out['channels']} channels planned at once"
            if out["errors"]:
                note += "; config errors: " + "; ".join(out["errors"])[:200]
            spread = f"{min(values):.1f}–{max(values):.1f}"
            rows.append(Row("2. plan() CPU per channel (µs)", name, f"{median:.1f}", spread, "≤ 30",
                            _verdict(median, 30), note))
    finally:
        os.unlink(fh.name)
    return rows


# --- 3. cold start -------------------------------------------------------------------------------------


def cold(runs: int) -> list[Row]:
    rows = []
    measured = cold_start.measure(runs, log)
    by_command = {" ".join(s.command[1:]): s for s in measured if s.samples}
    server, sdk = by_command.get("-m mcp_push"), by_command.get("-c import os, mcp.server.mcpserver; os._exit(0)")
    if server and sdk:
        NOTES.append(
            f"Cold start: importing the MCP SDK alone takes {_median(sdk.samples):.3f} s of the server's "
            f"{_median(server.samples):.3f} s to its tools/list reply (interpreter start included in both); "
            "mcp-push's own share is the difference."
        )
    for subject in measured:
        if subject.error:
            rows.append(Row("3. cold start (s)", subject.name, "—", note=f"FAILED: {subject.error[:300]}"))
            continue
        median = _median(subject.samples)
        target = f"≤ {subject.target_s}" if subject.target_s else ""
        rows.append(Row("3. cold start (s)", subject.name, f"{median:.3f}",
                        f"{min(subject.samples):.3f}–{max(subject.samples):.3f}", target,
                        _verdict(median, subject.target_s), f"CPU {_median(subject.cpu):.3f} s"))
    return rows


# --- 4. throughput -------------------------------------------------------------------------------------


def throughput_rows(events: int, windows: list[int]) -> list[Row]:
    rows = []
    for window in windows:
        log(f"throughput: {events} notify_event calls, {window} in flight")
        result = throughput.measure(events, runs=10, window=window)
        how = "one call at a time" if window == 1 else f"{window} calls in flight"
        note = f"{result.delivered} of {result.events} reached the sink"
        if result.peak_rss_mib:
            note += f"; server peak RSS {result.peak_rss_mib:.0f} MiB"
        if result.statuses:
            note += "; statuses in the replies: " + ", ".join(f"{k} {v}" for k, v in result.statuses.most_common())
        if result.errors:
            note += f"; {result.errors} calls failed, first: {result.first_error}"
        rows.append(Row("4. throughput (events/s)", f"`notify_event` calls answered, {how}",
                        f"{result.calls_per_s:.0f}", "", "≥ 300", _verdict(result.calls_per_s, 300, True), note))
        rows.append(Row("4. throughput (events/s)", f"deliveries reaching the sink, {how}",
                        f"{result.deliveries_per_s:.0f}", "", "", ""))
    return rows


def floor_rows(events: int, rounds: int, calls: int) -> list[Row]:
    """mcp-push's MCP server beside a bare SDK server (floor_server.py), in the same run."""
    section = "4. beside the MCP SDK's floor (ratio)"
    log(f"beside the SDK floor: {rounds} rounds of {events} notify_event calls, floor then mcp-push")
    floors, ours, _ = throughput.versus_floor(events, rounds)
    value, spread = _ratio(ours, floors)
    rows = [Row(section, "`notify_event` calls/s over stdio, one call at a time: mcp-push / a bare SDK server's "
                "echo tool", f"{value:.2f}", spread, "≥ 0.60", _verdict(value, 0.60, True),
                f"{statistics.median(ours):.0f} / {statistics.median(floors):.0f} calls/s; {rounds} rounds, "
                "floor then mcp-push each round")]
    log(f"beside the SDK floor: agent call -> the sink has the request, {calls} calls each, alternately")
    mine, floor, problem = throughput.agent_to_vendor(calls)
    if mine and floor:
        p50, p50_floor = statistics.median(mine), statistics.median(floor)
        q = statistics.quantiles
        note = (f"p50 {p50 * 1000:.2f} ms / {p50_floor * 1000:.2f} ms; p90 {q(mine, n=10)[-1] * 1000:.2f} ms / "
                f"{q(floor, n=10)[-1] * 1000:.2f} ms; mcp-push `notify_send` (webhook) vs the floor's `post` tool")
        if problem:
            note += f"; PROBLEM: {problem[:200]}"
        rows.append(Row(section, "agent call → the vendor has the request, p50: mcp-push / a bare SDK tool that "
                        "POSTs", f"{p50 / p50_floor:.2f}", "", "≤ 1.3", _verdict(p50 / p50_floor, 1.3), note))
    else:
        rows.append(Row(section, "agent call → the vendor has the request, p50", "—", note=f"FAILED: {problem}"))
    return rows


def burst_rows() -> list[Row]:
    log(f"burst: 1 start, {burst.UPDATES} updates (one every {burst.EVERY_S} s), 1 end to a 20/min robot, real time")
    result = burst.run()
    ok = result["start_first"] and result["end_last"] and result["updates_in_order"]
    note = (f"{result['requests']} requests in all; start first, end last, updates in order: "
            f"{'yes' if ok else 'NO'}; the tests run this on a fake clock")
    return [
        Row("5. delivery burst (real time)", "requests in the first minute, 20/min robot", str(result["first_minute"]),
            f"max in any minute {result['max_in_any_minute']}", "≤ 20",
            _verdict(result["max_in_any_minute"], 20), note),
        Row("5. delivery burst (real time)", "the end's delay after it was sent (s)", f"{result['end_latency_s']:.3f}",
            "", "a few s", _verdict(result["end_latency_s"], 3.0)),
    ]


# --- machine, table, RESULTS.md ------------------------------------------------------------------------


def _version(command: list[str]) -> str:
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=30).stdout.strip().splitlines()[0]
    except (OSError, IndexError, subprocess.SubprocessError):
        return "not found"


def machine() -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            cpu = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), cpu)
    except OSError:
        pass
    os_name = platform.platform()
    try:
        with open("/etc/os-release", encoding="utf-8") as fh:
            pretty = dict(line.rstrip("\n").split("=", 1) for line in fh if "=" in line).get("PRETTY_NAME")
        if pretty:
            os_name = f"{pretty.strip(chr(34))} ({platform.system()} {platform.release()})"
    except OSError:
        pass
    versions = {}
    for package in ("mcp-push", "mcp", "pydantic", "requests", "apprise"):
        try:
            from importlib.metadata import version

            versions[package] = version(package)
        except Exception:  # noqa: BLE001, S112 - not installed: left out
            continue
    return {
        "CPU": cpu,
        "cores": str(os.cpu_count()),
        "OS": os_name,
        "Python": f"{platform.python_implementation()} {platform.python_version()}",
        "Node": _version(["node", "--version"]),
        "packages": ", ".join(f"{k} {v}" for k, v in versions.items()),
        "QingLong (`QINGLONG_SAMPLE_DIR`)": qinglong.describe(),
    }


def table(rows: list[Row]) -> str:
    header = ["measurement", "subject", "median", "min–max", "target", "meets", "notes"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        cells = [r.section, r.subject, r.value, r.spread, r.target, r.meets, r.note]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


def results_md(rows: list[Row], args: argparse.Namespace, command: str, elapsed: float, load: str) -> str:
    facts = {**machine(), "load average (1 min) before → after": load}
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    n = args.channels
    return f"""# Benchmark results

Written by `{command}` on {when} in {elapsed:.0f} s. What each row measures, and how: [README.md](README.md).

| machine | |
|---|---|
""" + "\n".join(f"| {k} | {v} |" for k, v in facts.items()) + f"""

Settings: D = {args.delay_ms:g} ms, {n} channels in the fan-out, {args.runs} timed runs per subject (medians),
{args.events} events per throughput run. Every request went to a server on 127.0.0.1.

{table(rows)}
""" + ("\nNotes\n\n" + "\n".join(f"- {note}" for note in NOTES) + "\n" if NOTES else "")


def profile() -> int:
    """pyinstrument over `python -m mcp_push` serving stdio until it has answered tools/list."""
    script = (
        "import os, sys\n"
        "r, w = os.pipe()\n"
        f"os.write(w, {encode(*initialize_messages(), TOOLS_LIST)!r})\n"
        "os.close(w); os.dup2(r, 0)\n"
        "from mcp_push.service.cli import main\n"
        "main(['serve'])\n"
    )
    with tempfile.TemporaryDirectory(prefix="mcp-push-bench-") as temp:
        path = Path(temp) / "serve.py"
        path.write_text(script, encoding="utf-8")
        env = child_env({"HITOKOTO": "false", "MCP_PUSH_STATE_DIR": str(Path(temp) / "state")})
        return subprocess.call([sys.executable, "-m", "pyinstrument", "-i", "0.0005", str(path)],
                               env=env, stdout=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="timed runs per subject (default 7)")
    parser.add_argument("--delay-ms", type=float, default=200, help="fan-out: the sink's reply delay D")
    parser.add_argument("--channels", type=int, default=len(FANOUT_CHANNELS),
                        help=f"fan-out: channels (at most {len(FANOUT_CHANNELS)})")
    parser.add_argument("--target-runs", type=int, default=3,
                        help="100 targets: timed sends per runtime (default 3; one after another, each is 100 · D)")
    parser.add_argument("--events", type=int, default=1000, help="throughput: notify_event calls per run")
    parser.add_argument("--windows", default="1,16", help="throughput: calls in flight, one run each (default 1,16)")
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated: {', '.join(SECTIONS)}")
    parser.add_argument("--no-write", action="store_true", help="print the table; leave bench/RESULTS.md alone")
    parser.add_argument("--command", default=None, help="the command to record in RESULTS.md")
    parser.add_argument("--profile", action="store_true", help="profile the MCP server's cold start and exit")
    args = parser.parse_args(argv)
    if args.profile:
        return profile()
    args.channels = max(1, min(args.channels, len(FANOUT_CHANNELS)))
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    try:
        import apprise  # noqa: F401

        have_apprise = True
    except ImportError:
        have_apprise = False
        log("apprise is not installed: its rows are left out (`nox -s bench` installs it)")
    started = time.monotonic()
    load_before = os.getloadavg()[0]
    rows: list[Row] = []
    if "qinglong" in only:
        rows += qinglong_rows(args.runs, args.delay_ms)
    if "fanout" in only:
        rows += fanout(args.runs, args.delay_ms, args.channels, have_apprise)
    if "fanout" in only:
        rows += fanout_every_http(args.runs, args.delay_ms)
    if "targets" in only:
        rows += targets(args.target_runs, args.delay_ms)
    if "plan" in only:
        rows += plan_cost(args.runs)
    if "cold" in only:
        rows += cold(args.runs)
    if "throughput" in only:
        rows += throughput_rows(args.events, [int(w) for w in args.windows.split(",") if w.strip()])
    if "floor" in only:
        rows += floor_rows(args.events, 3, 200)
    if "burst" in only:
        rows += burst_rows()
    rows.append(Row("6. test suite", "`nox` on a fresh clone (wall)", "not run", note=(
        "not run by the bench (minutes, much of it package installs); take it from CI logs (bench/README.md)")))
    elapsed = time.monotonic() - started
    print(table(rows))
    if not args.no_write:
        command = args.command or shlex.join(["python", *sys.argv])
        load = f"{load_before:.2f} → {os.getloadavg()[0]:.2f}"
        (HERE / "RESULTS.md").write_text(results_md(rows, args, command, elapsed, load), encoding="utf-8")
        log(f"wrote {HERE / 'RESULTS.md'} ({elapsed:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
