"""Developer and CI sessions. `nox` runs lint, tests and the installed-wheel check."""

from __future__ import annotations

import tempfile
from pathlib import Path

import nox

nox.options.sessions = ["lint", "tests", "wheel"]
nox.options.reuse_existing_virtualenvs = True
ROOT = Path(__file__).parent


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff>=0.6", "pyyaml")
    session.run("ruff", "check", "python", "tools", "noxfile.py")
    session.run("python", "tools/gen_docs.py", "--check")


@nox.session
def tests(session: nox.Session) -> None:
    session.install("-e", ".[test]")
    session.run("pytest", *(session.posargs or ["-q"]))


@nox.session
def wheel(session: nox.Session) -> None:
    """Builds the wheel, installs it (not editable) in this fresh venv, and sends to a local server
    from a folder outside the repo: proves the specs travel inside the package."""
    session.install("build")
    with tempfile.TemporaryDirectory() as out:
        session.run("python", "-m", "build", "--wheel", "--outdir", out, str(ROOT))
        [wheel_file] = Path(out).glob("mcp_push-*.whl")
        session.install("--force-reinstall", str(wheel_file))
    with tempfile.TemporaryDirectory() as elsewhere, session.chdir(elsewhere):
        session.run("python", str(ROOT / "tools" / "wheel_smoke.py"), env={"MCP_PUSH_SPEC_DIR": ""})
