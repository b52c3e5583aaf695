"""Drop-in for QingLong's notify.py: `from notify import send; send(title, content)`.

Same env vars, same signature; `send` also returns per-channel results (QingLong's returns None).

A script imports it to send, so it imports the HTTP transport (urllib3) at once, as QingLong's notify.py
imports requests: the send at the script's end does not wait for it (mcp_push itself imports it on the
first send only: planning and the MCP server's start need none of it).

Then it freezes the objects alive (gc.freeze: the interpreter's, urllib3's and mcp-push's modules,
classes and functions): the garbage collector no longer walks them, neither during the script nor in
the collections the interpreter runs at exit, which walked every one of them several times (about a
tenth of a one-shot script's CPU). Objects made after the import are collected as before.
"""

from __future__ import annotations

import gc

from mcp_push import ChannelResult, SendResult, plan, send
from mcp_push.logs import log_to_stderr
from mcp_push.transports import TRANSPORTS

log_to_stderr()
TRANSPORTS["http"].load()
gc.freeze()

__all__ = ["send", "plan", "SendResult", "ChannelResult"]


def main() -> None:
    send("title", "content")


if __name__ == "__main__":
    main()
