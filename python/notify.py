"""Drop-in for QingLong's notify.py: `from notify import send; send(title, content)`.

Same env vars, same signature; `send` also returns per-channel results (QingLong's returns None).

Importing it freezes the objects alive at that moment (gc.freeze: the interpreter's modules, classes and
functions, mcp-push's among them): the garbage collector no longer walks them, neither during the
script nor in the collections the interpreter runs at exit, which walked every one of them several
times (about a tenth of a one-shot script's CPU). Objects made after the import are collected as before.
"""

from __future__ import annotations

import gc

from mcp_push import ChannelResult, SendResult, plan, send
from mcp_push.logs import log_to_stderr

log_to_stderr()
gc.freeze()

__all__ = ["send", "plan", "SendResult", "ChannelResult"]


def main() -> None:
    send("title", "content")


if __name__ == "__main__":
    main()
