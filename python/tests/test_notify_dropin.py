"""notify.py, the QingLong drop-in, as a script's process sees it: what its import leaves to the garbage
collector (gc.freeze)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

SCRIPT = """
import gc, json
before = gc.get_freeze_count()
import notify
frozen = gc.get_freeze_count()
# An object made after the import, in a reference cycle with a finalizer: collected as ever.
class Node:
    finalized = []
    def __del__(self):
        Node.finalized.append(True)
node = Node()
node.me = node
del node
gc.collect()
print(json.dumps({"before": before, "frozen": frozen, "collected": Node.finalized}))
"""


def test_importing_notify_freezes_what_is_alive_then_and_later_objects_are_collected_as_before():
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60,
                          env={"PATH": "", "PYTHONPATH": str(REPO / "python")})
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["before"] == 0
    # The interpreter's and mcp-push's objects at the import: thousands, out of the collector's walks.
    assert seen["frozen"] > 1000
    assert seen["collected"] == [True]


def test_notify_imports_the_http_transport_at_once_and_mcp_push_alone_does_not():
    code = ("import sys\nimport mcp_push\nalone = 'urllib3' in sys.modules\nimport notify\n"
            "print(alone, 'urllib3' in sys.modules, 'mcp_push.transports.http' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={"PATH": "", "PYTHONPATH": str(REPO / "python")})
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "True", "True"]
