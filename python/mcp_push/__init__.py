"""mcp-push: push notifications to DingTalk, Feishu, WeCom, Telegram, e-mail, ntfy, Bark and more.

    from mcp_push import send, plan
    result = send("Backup", "finished in 3 min")   # per-channel results; bool(result) = any delivered
"""

from __future__ import annotations

from .api import dispatch, plan, send
from .logs import logger as _logger
from .result import ChannelResult, SendResult

try:
    from importlib.metadata import PackageNotFoundError, version

    __version__ = version("mcp-push")
except PackageNotFoundError:  # running from a source checkout
    __version__ = "0.0.0+source"

_logger()  # attach the redacting filter before anything logs

__all__ = ["send", "plan", "dispatch", "SendResult", "ChannelResult", "__version__"]
