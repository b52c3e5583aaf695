"""history.sqlite3's WAL when every process leaves it open (a script's writer is a daemon thread: nothing
closes the database at exit): each open checkpoints what the earlier ones left, so the WAL starts anew
instead of growing by every script's records."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from mcp_push.service.history import FILE_NAME, WAL_LIMIT

REPO = Path(__file__).resolve().parents[2]

# One script's record, as the library makes it, in a process that exits without closing the store.
SCRIPT = """
import sys
from pathlib import Path
from mcp_push import result as R
from mcp_push.service.history import Message, SqliteHistory
store = SqliteHistory(Path(sys.argv[1]))
store.record(Message(sys.argv[2], "message", None, "t", "c", "library"),
             [R.ChannelResult(f"c{i}", True, R.DELIVERED, None, 1, 200, 200) for i in range(11)], {})
assert store.sync()
"""


def _one_script(path: Path, message_id: str) -> int:
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(path), message_id], capture_output=True, text=True,
                          timeout=60, env={"PATH": "", "PYTHONPATH": str(REPO / "python")})
    assert done.returncode == 0, done.stderr
    return os.path.getsize(f"{path}-wal")


def test_scripts_that_never_close_the_history_do_not_grow_its_wal(tmp_path):
    path = tmp_path / "state" / FILE_NAME
    sizes = [_one_script(path, f"m{n}") for n in range(6)]
    # The first scripts' WAL (written from its start each time after a checkpoint), not six scripts' worth.
    assert sizes[-1] == max(sizes[:2])
    # Every record is in the database.
    import sqlite3

    db = sqlite3.connect(path)
    assert db.execute("SELECT COUNT(*) FROM messages").fetchone()[0] == 6
    assert db.execute("SELECT COUNT(*) FROM deliveries").fetchone()[0] == 66
    db.close()


def test_a_wal_once_grown_is_cut_back_when_it_starts_anew(tmp_path):
    from mcp_push.service.history import SqliteHistory

    store = SqliteHistory(tmp_path / FILE_NAME)
    assert store._db.execute("PRAGMA journal_size_limit").fetchone()[0] == WAL_LIMIT
    store.close()
