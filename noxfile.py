"""Developer and CI sessions. `nox` runs them all: lint, the Python tests, the installed-wheel check,
the Node tests and the cross-runtime conformance suite."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import nox

nox.options.sessions = ["lint", "tests", "wheel", "js", "conformance"]
nox.options.reuse_existing_virtualenvs = True
# uv makes each session's venv and installs into it in a fraction of pip's time (.ci/run installs nox[uv]);
# virtualenv and pip where uv is missing.
nox.options.default_venv_backend = "uv|virtualenv"
ROOT = Path(__file__).parent
JS = ROOT / "js"


def _node_modules_match_lock() -> bool:
    """True when js/node_modules holds exactly what js/package-lock.json pins: npm's own record of the
    install (node_modules/.package-lock.json, rewritten by every npm ci/install) has each locked package
    with the same entry, bar the optional ones this platform skipped (esbuild's other binaries)."""
    try:
        locked = json.loads((JS / "package-lock.json").read_text(encoding="utf-8"))["packages"]
        installed = json.loads((JS / "node_modules" / ".package-lock.json").read_text(encoding="utf-8"))["packages"]
    except (OSError, ValueError, KeyError):
        return False
    locked = {name: entry for name, entry in locked.items() if name}
    if set(installed) - set(locked):
        return False
    return all(installed[name] == entry if name in installed else entry.get("optional", False)
               for name, entry in locked.items())


def npm_ci(session: nox.Session) -> None:
    """Installs js/ exactly as package-lock.json says (the Node runtime and its build tools). Skipped when
    node_modules already matches the lockfile: `npm ci` would delete and rebuild it (about 20 s), and four
    sessions need it."""
    if _node_modules_match_lock():
        session.log("js/node_modules matches js/package-lock.json: npm ci skipped")
        return
    with session.chdir(JS):
        session.run("npm", "ci", "--no-audit", "--no-fund", external=True)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff; the specs against their schema, cases, hooks and secret marking; generated docs up to date;
    ESLint and Prettier on js/."""
    # lint_specs.py loads specs with the runtime's own loader (python/ on sys.path): it needs only these.
    # jinja2: gen_docs.py parses the spec templates to write python/mcp_push/compiled_templates.py.
    session.install("ruff>=0.6", "pyyaml", "jsonschema>=4.18", "jinja2>=3.1")
    session.run("ruff", "check", "python", "tools", "bench", "conformance", "noxfile.py")
    session.run("python", "tools/lint_specs.py")
    session.run("python", "tools/gen_docs.py", "--check")
    # The Node runtime: ESLint (bugs) and Prettier (format), configured in js/.
    npm_ci(session)
    with session.chdir(JS):
        session.run("npm", "run", "--silent", "lint", external=True)


# Exit codes of sessions' commands that another session ran beside its own (see tests): name -> code.
RAN_BESIDE: dict[str, int] = {}


@nox.session
def tests(session: nox.Session) -> None:
    """pytest, the whole suite; beside it (without posargs) the js session's `node --test`, which mostly
    waits on its loopback servers: the two overlap instead of running one after the other."""
    session.install("-e", ".[test]")
    # Some tests plan in both runtimes (the scaffold test, the one-pipeline replay, the cross-check) and the
    # Inspector CLI is a devDependency: they need js/node_modules.
    npm_ci(session)
    # Two pytest-xdist workers per core (tests use free ports, their own tmp state folders and env): about half of
    # a test's wall is waiting on subprocesses, sockets, PostgreSQL and rate limits (the suite's tests took ~465 s
    # of wall for ~215 s of CPU, children included), so one worker per core leaves the cores half idle.
    # Work-stealing keeps the few slow tests from ending up in a row.
    # MCP_PUSH_REQUIRE_NODE: the cross-check and Inspector tests fail rather than skip without node.
    default = ["-q", "-n", str(2 * _cores()), "--dist", "worksteal"]
    # Bytecode caches get written even where the shell sets PYTHONDONTWRITEBYTECODE (empty means unset): uv
    # installs no .pyc, and the suite starts well over a hundred Python processes (servers, CLIs, hooks,
    # workers), each compiling what it imports again; every xdist worker would also rewrite all test asserts.
    env = {"PYTHONDONTWRITEBYTECODE": ""}
    if session.posargs:
        session.run("pytest", *session.posargs, env=env)
        return
    node = _start_node_tests()
    try:
        session.run("pytest", *default, env={**env, "MCP_PUSH_REQUIRE_NODE": "1"})
    finally:
        RAN_BESIDE["js"] = _finish_node_tests(session, *node)
    if RAN_BESIDE["js"] != 0:  # this session may be the only one run (`nox -s tests`)
        session.error(f"node --test test/ (run beside pytest) exited {RAN_BESIDE['js']}")


def _cores() -> int:
    """The cores this process may run on (a container's CPU set, not the host's count)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _start_node_tests() -> tuple[subprocess.Popen, object]:
    output = tempfile.TemporaryFile()
    process = subprocess.Popen(["node", "--test", "test/"], cwd=JS, stdout=output, stderr=subprocess.STDOUT)
    return process, output


def _finish_node_tests(session: nox.Session, process: subprocess.Popen, output) -> int:
    """Waits for the background `node --test`, prints what it printed (after pytest's output, not
    interleaved with it) and returns its exit code."""
    code = process.wait()
    output.seek(0)
    session.log("node --test test/ (run beside pytest; the js session reports it):")
    sys.stdout.flush()
    sys.stdout.buffer.write(output.read())
    sys.stdout.flush()
    output.close()
    return code


@nox.session
def wheel(session: nox.Session) -> None:
    """Builds the wheel, installs it (not editable) in this fresh venv, and sends to a local server
    from a folder outside the repo: proves the specs travel inside the package."""
    # Under uv, build's isolated build env and the reinstall of a reused venv go through uv too.
    uv = session.venv_backend == "uv"
    session.install("build[uv]" if uv else "build")
    installer = ["--installer", "uv"] if uv else []
    with tempfile.TemporaryDirectory() as out:
        session.run("python", "-m", "build", "--wheel", *installer, "--outdir", out, str(ROOT))
        [wheel_file] = Path(out).glob("mcp_push-*.whl")
        reinstall = ["--reinstall-package", "mcp-push"] if uv else ["--force-reinstall"]
        session.install(*reinstall, str(wheel_file))
    with tempfile.TemporaryDirectory() as elsewhere, session.chdir(elsewhere):
        session.run("python", str(ROOT / "tools" / "wheel_smoke.py"), env={"MCP_PUSH_SPEC_DIR": ""})


@nox.session
def js(session: nox.Session) -> None:
    """The Node runtime's own tests (node --test), including the single-file bundle in a bare folder and
    the npm package: `npm pack`, the tarball installed offline into an empty folder outside the repo
    (its dependencies from the npm cache `npm ci` just filled), then planning and sending from there.
    After the tests session in the same `nox` run this only reports the run it started beside pytest."""
    if "js" in RAN_BESIDE:
        if RAN_BESIDE["js"] != 0:
            session.error(f"node --test test/ (run beside pytest in the tests session) exited {RAN_BESIDE['js']}")
        session.log("node --test test/ passed beside pytest in the tests session")
        return
    npm_ci(session)
    with session.chdir(JS):
        session.run("node", "--test", "test/", external=True)


@nox.session
def conformance(session: nox.Session) -> None:
    """Every conformance case against both runtimes (they must agree exactly). The randomized cross-check
    (generated titles and contents must give byte-identical plans in Python and Node) and the MCP Inspector
    CLI as an independent client are pytest tests: they run in the tests session."""
    session.install("-e", ".[test]")
    npm_ci(session)
    session.run("python", "tools/conformance.py")


def _stale(target: Path, *sources: Path) -> bool:
    """True when `target` is missing or older than any file in `sources` (files or folders)."""
    if not target.exists():
        return True
    built = target.stat().st_mtime
    for source in sources:
        files = source.rglob("*") if source.is_dir() else [source]
        if any(f.is_file() and f.stat().st_mtime > built for f in files):
            return True
    return False


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks, not run by plain `nox`: fan-out latency, plan() CPU cost, cold start and MCP throughput,
    beside Apprise, the MCP SDK's floor and (with QINGLONG_SAMPLE_DIR) QingLong's notify.py and sendNotify.js;
    prints a table and writes bench/RESULTS.md (bench/README.md says what each row means).
    `nox -s bench -- --only cold --no-write` runs a part; `nox -s bench -- --profile` profiles the start."""
    session.install("-e", ".", "apprise", "pyinstrument", "cryptography")
    if not (JS / "node_modules").is_dir():
        npm_ci(session)
    if _stale(JS / "dist" / "sendNotify.js", JS / "src", JS / "sendNotify.js", JS / "build.js", ROOT / "spec"):
        with session.chdir(JS):
            session.run("npm", "run", "build", external=True)
    command = " ".join(["nox -s bench", *(["--", *session.posargs] if session.posargs else [])])
    session.run("python", "bench/run.py", "--command", command, *session.posargs)
