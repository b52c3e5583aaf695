"""The `mcp-push` program ends without the interpreter's heap-wide garbage collection (service/program_exit.py);
a Python program that calls cli.main([...]) itself keeps its own exit."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from .mcp_helpers import REPO, child_env

# Registered before the program arms its own handler, so it runs after it (atexit is last in, first out).
_PROBE = textwrap.dedent("""
    import atexit, gc, runpy, sys
    atexit.register(lambda: print("frozen at exit:", gc.get_freeze_count() > 0, file=sys.stderr))
    {run}
""")


def _run(run: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", _PROBE.format(run=run)], capture_output=True, text=True,
                          cwd=REPO, env=child_env(), timeout=60)


def test_the_program_freezes_its_heap_at_exit_after_its_output_is_written():
    done = _run("sys.argv = ['mcp-push', 'channels', '--json']; runpy.run_module('mcp_push', run_name='__main__')")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("[") and done.stdout.rstrip().endswith("]")  # all of it, flushed
    assert "frozen at exit: True" in done.stderr


def test_a_program_calling_main_with_its_own_arguments_keeps_its_exit():
    done = _run("from mcp_push.service.cli import main; code = main(['channels', '--json'])")
    assert done.returncode == 0, done.stderr
    assert '"channel": "aibotk"' in done.stdout
    assert "frozen at exit: False" in done.stderr
