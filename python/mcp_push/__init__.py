"""mcp-push: push notifications to DingTalk, Feishu, WeCom, Telegram, e-mail, ntfy, Bark and more.

    from mcp_push import send, plan
    result = send("Backup", "finished in 3 min")   # per-channel results; bool(result) = any delivered
"""

from __future__ import annotations

from .api import dispatch, plan, send
from .asking import ask
from .logs import logger as _logger
from .result import ChannelResult, SendResult

_logger()  # attach the redacting filter before anything logs


def __getattr__(name: str) -> str:
    # __version__ is looked up when asked for: importlib.metadata costs a one-shot script about 10 ms.
    if name != "__version__":
        raise AttributeError(f"module 'mcp_push' has no attribute '{name}'")
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("mcp-push")
    except PackageNotFoundError:  # running from a source checkout
        found = "0.0.0+source"
    globals()["__version__"] = found
    return found


__all__ = ["send", "plan", "dispatch", "ask", "SendResult", "ChannelResult", "__version__"]
