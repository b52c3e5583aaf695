"""The composite action (action.yml): its `run:` script, taken from the file and run in bash with the
variables GitHub sets (fixture values), against a loopback vendor (the custom webhook, {"title", "content"})."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from .mcp_helpers import REPO, child_env, webhook_env

GITHUB = {"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "acme/shop", "GITHUB_RUN_ID": "4242",
          "GITHUB_RUN_NUMBER": "17", "GITHUB_WORKFLOW": "CI", "GITHUB_JOB": "test"}
INPUT = re.compile(r"^\$\{\{ inputs\.([a-z-]+) \}\}$")


def action() -> dict:
    return yaml.safe_load((Path(REPO) / "action.yml").read_text(encoding="utf-8"))


def run_action(vendor, tmp_path, **inputs: str) -> subprocess.CompletedProcess:
    """The step as the runner runs it: its env from the inputs (their defaults where not given), our
    installed mcp-push (install: false) on PATH as python3."""
    spec = action()
    (step,) = spec["runs"]["steps"]
    given = {"install": "false", **inputs}
    env = {}
    for name, value in step["env"].items():
        wanted = INPUT.match(value).group(1)
        env[name] = given.get(wanted, spec["inputs"][wanted].get("default", ""))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    shim = bin_dir / "python3"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    shim.chmod(0o755)
    path = f"{bin_dir}{os.pathsep}{os.environ['PATH']}"
    full = child_env({**GITHUB, **env, **webhook_env(vendor), "MCP_PUSH_RETRY_ATTEMPTS": "1",
                      "RUNNER_TEMP": str(tmp_path), "GITHUB_ACTION_PATH": REPO, "PATH": path})
    assert step["shell"] == "bash"
    return subprocess.run(["bash", "-c", step["run"]], env=full, cwd=tmp_path, capture_output=True, text=True,
                          timeout=60)


@pytest.mark.parametrize(("status", "title", "first_line", "code"), [
    ("failure", "❌ acme/shop#4242 failed", "CI / test: failed (run 17)", "failure"),
    ("cancelled", "❌ acme/shop#4242 failed", "CI / test: cancelled (run 17)", "cancelled"),
    ("success", "✅ acme/shop#4242 finished", "CI / test: succeeded (run 17)", None),
    ("start", "🚀 acme/shop#4242 started", "CI / test: started (run 17)", None),
])
def test_the_job_status_becomes_the_event(vendor, tmp_path, status, title, first_line, code):
    process = run_action(vendor, tmp_path, status=status)
    assert process.returncode == 0, process.stderr + process.stdout
    (message,) = vendor.json_bodies()
    assert message["title"] == title
    lines = message["content"].splitlines()
    assert lines[0] == first_line
    assert "Artifact: https://github.com/acme/shop/actions/runs/4242" in lines
    assert ("Error code: " + code in lines) if code else not any(x.startswith("Error code") for x in lines)


def test_inputs_name_the_run_the_message_and_the_channels(vendor, tmp_path):
    process = run_action(vendor, tmp_path, status="failure", **{"run-id": "nightly", "message": "deploy failed",
                                                                 "channels": "webhook"})
    assert process.returncode == 0, process.stderr
    (message,) = vendor.json_bodies()
    assert message["title"] == "❌ nightly failed" and message["content"].startswith("deploy failed\n")


def test_an_unknown_status_is_an_error_naming_the_input(vendor, tmp_path):
    process = run_action(vendor, tmp_path, status="skipped")
    assert process.returncode == 2
    assert "status: must be success, failure, cancelled or start" in process.stdout
    assert vendor.received == []


def test_a_channel_that_fails_warns_unless_fail_on_error(vendor, tmp_path):
    from .local_server import Behaviour

    vendor.routes["/hook"] = Behaviour(status=500, body="{}")
    warned = run_action(vendor, tmp_path, status="success")
    assert warned.returncode == 0
    assert "::warning::mcp-push: the end event was not delivered" in warned.stdout
    failed = run_action(vendor, tmp_path, status="success", **{"fail-on-error": "true"})
    assert failed.returncode == 1


def test_a_configuration_error_fails_the_step(vendor, tmp_path):
    process = run_action(vendor, tmp_path, status="success", channels="gotify")
    assert process.returncode == 2
    assert "gotify" in process.stderr and vendor.received == []


def test_the_action_installs_mcp_push_from_its_own_checkout():
    script = action()["runs"]["steps"][0]["run"]
    assert '-m pip install --quiet --disable-pip-version-check "$GITHUB_ACTION_PATH"' in script
    assert "${{" not in script  # inputs come in as env vars, never pasted into the script

