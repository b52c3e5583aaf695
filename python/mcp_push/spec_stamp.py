"""The spec files' digest (specs.specs_digest) without reading them, when they are as they were.

Every process checks that spec/validated.json was written from the spec files on disk, by their SHA-256:
reading and hashing 39 files, most of a millisecond of a one-shot script. So the digest is remembered in
<spec folder>/.validated.stat beside what each file looked like then (size, mtime, ctime, inode, as git's
index does): a later process that finds every file looking the same takes the digest from there, with a
stat per file. An edited, added, removed or replaced file looks different (an edit moves ctime, which no
tool sets back), and then the files are hashed again and the stamp rewritten.

A file changed within the same clock tick as it was hashed would look the same, so files changed in the
last RACY_NS are never stamped (git's "racy clean" rule): they are hashed until they have settled. A spec
folder that cannot be written (a read-only install) is hashed every time, as before."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

STAMP_FILE = ".validated.stat"
# Wider than any file system's timestamp step (FAT's is 2 s) and the clock's tick.
RACY_NS = 3_000_000_000
_FORMAT = 1


def _looks(root: Path) -> list[list[object]] | None:
    """[relative path, size, mtime_ns, ctime_ns, inode] of each source file, in specs.source_files'
    order; None when one cannot be looked at (then the files are hashed, which reports it)."""
    out: list[list[object]] = []
    base = str(root)
    try:
        for name in ("channel.schema.json", "settings.yaml"):
            try:
                st = os.stat(os.path.join(base, name))
            except FileNotFoundError:
                continue
            out.append([name, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino])
        for sub in ("channels", "templates"):
            folder = os.path.join(base, sub)
            try:
                names = sorted(name for name in os.listdir(folder) if name.endswith(".yaml"))
            except FileNotFoundError:
                continue
            for name in names:
                st = os.stat(os.path.join(folder, name))
                out.append([f"{sub}/{name}", st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino])
    except OSError:
        return None
    return out


def remembered_digest(root: Path, compute: Callable[[Path], str], listed: Callable[[Path], list[Path]]) -> str:
    """compute(root) (the files' SHA-256), or the digest the stamp holds when every file looks as it did;
    listed(root) is the files compute hashes (specs.source_files)."""
    looks = _looks(root)
    stamp = root / STAMP_FILE
    if looks is not None:
        try:
            saved = json.loads(stamp.read_bytes().decode("utf-8"))
        except (OSError, ValueError):
            saved = None
        if isinstance(saved, dict) and saved.get("format") == _FORMAT and saved.get("files") == looks:
            digest = saved.get("digest")
            if isinstance(digest, str):
                return digest
    started = time.time_ns()
    digest = compute(root)
    after = _looks(root)
    # Stamped only when the files did not move while they were hashed and none changed just now.
    settled = all(max(int(look[2]), int(look[3])) < started - RACY_NS for look in looks or ())
    if looks is not None and after == looks and settled and _same_files(root, looks, listed):
        _write(stamp, {"format": _FORMAT, "digest": digest, "files": looks})
    return digest


def _same_files(root: Path, looks: list[list[object]], listed: Callable[[Path], list[Path]]) -> bool:
    """Whether the files looked at are the ones hashed (specs.source_files, whose glob may match names
    differently on another platform): a file hashed but not looked at would go unnoticed when edited."""
    return [path.relative_to(root).as_posix() for path in listed(root)] == [look[0] for look in looks]


def _write(stamp: Path, data: dict[str, object]) -> None:
    """Written whole (a temporary file renamed over it): a process reading it at the same time sees the old
    stamp or the new one. Not written where the folder is read-only."""
    temporary = stamp.with_name(f"{STAMP_FILE}.{os.getpid()}.tmp")
    try:
        temporary.write_text(json.dumps(data, separators=(",", ":")), encoding="utf-8")
        os.replace(temporary, stamp)
    except OSError:
        try:
            temporary.unlink()
        except OSError:
            pass
