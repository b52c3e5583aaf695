"""Drop-in for QingLong's notify.py: `from notify import send; send(title, content)`.

Same env vars, same signature; `send` also returns per-channel results (QingLong's returns None).
"""

from __future__ import annotations

from mcp_push import ChannelResult, SendResult, plan, send
from mcp_push.logs import log_to_stderr

log_to_stderr()

__all__ = ["send", "plan", "SendResult", "ChannelResult"]


def main() -> None:
    send("title", "content")


if __name__ == "__main__":
    main()
