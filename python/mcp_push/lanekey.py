"""Lane keys: one lane, one rate limit, per channel credential, without keeping the credential.

A lane key is the channel and an HMAC of its secret values under a salt: an unsalted hash of a short
or guessable token, stored in the outbox, could be tested against guesses by anyone who reads the file.
The MCP server's outbox salts with a random value kept in its state folder (`lane-salt`, 0600), so the
key stays the same across restarts and for every server sharing that folder (the rate limiter and the
adoption of a dead peer's rows depend on that); in-process edits (send_event) salt per process.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

SALT_FILE = "lane-salt"
PROCESS_SALT = secrets.token_bytes(32)


def lane_key(spec: Any, env: Mapping[str, str], salt: bytes) -> str:
    """`channel:<16 hex digits>` of HMAC-SHA256(salt, the secret values joined by NUL)."""
    joined = "\0".join(env.get(name, "") for name in spec.secret_env)
    # The channel id, not an instance's name: two instances with one credential share the vendor's limits.
    digest = hmac.new(salt, joined.encode("utf-8"), hashlib.sha256).hexdigest()[:16]
    return f"{getattr(spec, 'channel_id', spec.name)}:{digest}"


def folder_salt(folder: Path | None) -> bytes:
    """The state folder's salt, made on first use; a process-wide one without a folder. Two processes
    starting at once agree: the salt is written to a private file and linked into place, once."""
    if folder is None:
        return PROCESS_SALT
    path = folder / SALT_FILE
    if not path.exists():
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        temp = folder / f".{SALT_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(secrets.token_hex(32) + "\n")
        try:
            os.link(temp, path)
        except FileExistsError:
            pass  # another process was first: its salt wins
        finally:
            temp.unlink()
    text = path.read_text(encoding="ascii").strip()
    return bytes.fromhex(text)
