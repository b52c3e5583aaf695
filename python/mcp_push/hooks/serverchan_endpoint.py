"""ServerChan: a Server酱³ key (sctp<uid>t...) has its own host; Turbo keys (SCT...) use sctapi.ftqq.com."""

from __future__ import annotations

import re

from . import HookInput

# Spelled-out cases and ASCII digits: re.IGNORECASE would also match "ſ" (long s), JS's /i differently.
_SC3_KEY = re.compile(r"^[sS][cC][tT][pP]([0-9]+)[tT]")


def serverchan_endpoint(data: HookInput) -> dict:
    """`url`: `https://<uid>.push.ft07.com/send/<key>.send` for `sctp<uid>t…` keys in `PUSH_KEY`, else
    sctapi.ftqq.com."""
    key = data.env["PUSH_KEY"]
    match = _SC3_KEY.match(key)
    if match:
        return {"url": f"https://{match.group(1)}.push.ft07.com/send/{key}.send"}
    return {"url": f"https://sctapi.ftqq.com/{key}.send"}
