"""What a fresh process imports before its first request is on the wire: only what the request needs. The
history (sqlite3), uuid and html are imported while the vendor answers, or not at all."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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

LATE = ("sqlite3", "mcp_push.service.history", "uuid", "platform", "html")


def test_the_first_request_goes_out_before_the_history_uuid_and_html_are_imported(vendor, tmp_path):
    env = {"PATH": "", "PYTHONPATH": str(REPO / "python"), "NTFY_URL": vendor.url, "NTFY_TOPIC": "t",
           "HITOKOTO": "false", "MCP_PUSH_STATE_DIR": str(tmp_path / "state")}
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60, env=env,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    modules = json.loads(done.stdout)
    assert [name for name in LATE if name in modules["before"]] == []
    # The send recorded its history (the state folder was set): imported meanwhile, after the write.
    assert {"sqlite3", "mcp_push.service.history"} <= set(modules["after"])
    assert len(vendor.received) == 1
