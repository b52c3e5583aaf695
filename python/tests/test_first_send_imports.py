"""What a fresh process imports before its first request is on the wire: only what the request needs. The
history (sqlite3), uuid and html are imported while the vendor answers, or not at all."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# Runs in a fresh interpreter: notes the modules loaded when the first request is written (the HTTP
# transport's connections call transports.request_written then), sends once, prints both lists.
SCRIPT = """
import json, sys
import mcp_push.transports as transports
seen = []
told = transports.request_written
def first_write():
    if not seen:
        seen.append(sorted(sys.modules))
    told()
transports.request_written = first_write
from notify import send
result = send("T", "C")
assert result["ntfy"].ok and result.message_id, result
print(json.dumps({"before": seen[0], "after": sorted(sys.modules)}))
"""

# Lane keys (edits in place, the outbox) are not a plain send's: post_or_edit needs none of edits.py's.
LATE = ("sqlite3", "mcp_push.service.history", "uuid", "platform", "html", "mcp_push.lanekey")


def test_the_first_request_goes_out_before_the_history_uuid_and_html_are_imported(vendor, tmp_path):
    modules = _first_send(vendor, tmp_path)
    assert [name for name in LATE if name in modules["before"]] == []
    # The send recorded its history (the state folder was set): imported meanwhile, after the write.
    assert {"sqlite3", "mcp_push.service.history"} <= set(modules["after"])
    assert len(vendor.received) == 1


# The config file's reader (mcp-push.yaml, docs/ROUTING.md) and routing: a process without a config file
# looks for one with a stat or two (config_lookup.py) and imports neither.
CONFIG_ONLY = ("mcp_push.configfile", "mcp_push.routed", "mcp_push.routing")


def _first_send(vendor, tmp_path, script=SCRIPT):
    env = {"PATH": "", "PYTHONPATH": str(REPO / "python"), "NTFY_URL": vendor.url, "NTFY_TOPIC": "t",
           "HITOKOTO": "false", "MCP_PUSH_STATE_DIR": str(tmp_path / "state"),
           "XDG_CONFIG_HOME": str(tmp_path / "config")}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=env,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_without_a_config_file_its_reader_and_routing_are_never_imported(vendor, tmp_path):
    modules = _first_send(vendor, tmp_path)
    assert [name for name in CONFIG_ONLY if name in modules["after"]] == []


def test_without_proxy_variables_urllib_request_is_never_imported(vendor, tmp_path):
    # On Linux urllib.request.getproxies reads only the environment: with no *_proxy variable there is
    # no proxy (the answers with each kind of variable: test_http_pool).
    modules = _first_send(vendor, tmp_path)
    assert "urllib.request" not in modules["after"]


@pytest.mark.parametrize("where", ["working folder", "user folder"])
def test_a_config_file_found_is_read_and_routes_the_send(vendor, tmp_path, where):
    folder = tmp_path if where == "working folder" else tmp_path / "config" / "mcp-push"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "mcp-push.yaml").write_text(
        f"channels:\n  alerts: {{type: ntfy, env: {{NTFY_URL: '{vendor.url}', NTFY_TOPIC: alerts}}}}\n",
        encoding="utf-8")
    script = SCRIPT.replace('result["ntfy"].ok', 'result["alerts"].ok')
    modules = _first_send(vendor, tmp_path, script)
    assert set(CONFIG_ONLY) <= set(modules["after"])
    # Both the instance and the env-configured ntfy channel went (routing with no routes sends to all).
    assert sorted(request.path for request in vendor.received) == ["/alerts", "/t"]


# Patterns only some replies and channels need are compiled at their first use: an IMF-fixdate
# Retry-After (retry.imf_fixdate) and an e-mail subject's line breaks (templates.line_breaks).
LAZY_PATTERNS = """
import json
from notify import send
from mcp_push import retry, templates
assert send("T", "C")["ntfy"].ok
before = [retry.imf_fixdate.cache_info().currsize, templates.line_breaks.cache_info().currsize]
assert retry.header_wait("Wed, 21 Oct 2015 07:28:00 GMT", 0) > 0
assert templates._one_line("a\\r\\nb") == "a b"
after = [retry.imf_fixdate.cache_info().currsize, templates.line_breaks.cache_info().currsize]
print(json.dumps({"before": before, "after": after}))
"""


def test_patterns_for_retry_after_dates_and_mail_subjects_are_compiled_at_their_first_use(vendor, tmp_path):
    compiled = _first_send(vendor, tmp_path, LAZY_PATTERNS)
    assert compiled == {"before": [0, 0], "after": [1, 1]}


def test_value_classes_made_at_import_and_only_read_are_plain_classes():
    # A dataclass's methods are compiled from source when it is defined: about half a millisecond of a
    # fresh process each. These are only constructed and read (their behaviour: test_markdown, test_long_messages).
    import dataclasses

    from mcp_push.markdown import Dialect, _Node
    from mcp_push.overflow import Fit
    from mcp_push.retry import Pace
    from mcp_push.transports import Reply

    plain = (Dialect, _Node, Fit, Pace, Reply)
    assert [cls.__name__ for cls in plain if dataclasses.is_dataclass(cls)] == []
    assert Reply(200, "").headers == {} and Pace(at_once=1).at_once == 1 and Pace().sleep is time.sleep
    assert Fit([("t", "c")]).truncated is False and Dialect(
        esc=str, marks={}, code=str, link=str, image=str, heading=str, quote=str, code_block=str).tags == {}
