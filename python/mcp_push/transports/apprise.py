"""Apprise transport: one planned request is one Apprise URL (`url`) and its title, body and format (the
body tree). The apprise library is an optional extra (`pip install 'mcp-push[apprise]'`), imported on
the first send. Apprise says only whether the service took the message: the reply is {"ok": true}, or
{"ok": false, "error": <the last warning Apprise logged>} (the spec's success rule reads it); no reply is
retryable, since a failure cannot tell whether the service has the message. js/src/transports/apprise.js
sends through the `apprise` command instead."""

from __future__ import annotations

import logging
import threading

from .. import result as R
from ..planner import PlannedRequest
from ..wire import to_json
from . import Reply, TransportError

MISSING = "the apprise channel needs the Apprise library: pip install 'mcp-push[apprise]'"
UNKNOWN_URL = "not an Apprise URL Apprise can use (check APPRISE_URLS; the Apprise wiki lists the services)"
# Apprise's log is per process: one capture at a time, so each send reads its own warnings.
_capturing = threading.Lock()


def send_apprise(request: PlannedRequest, timeout: float) -> Reply:
    try:
        import apprise
    except ImportError:
        raise TransportError(R.CONFIG_ERROR, MISSING) from None
    plugin = apprise.Apprise.instantiate(request.url, suppress_exceptions=True)
    if not plugin:
        raise TransportError(R.CONFIG_ERROR, UNKNOWN_URL)
    # MCP_PUSH_TIMEOUT bounds each of the service's own connects and reads, as for any channel.
    for attribute in ("socket_connect_timeout", "socket_read_timeout"):
        if hasattr(plugin, attribute):
            setattr(plugin, attribute, timeout)
    body = request.body
    with _capturing, apprise.LogCapture(level=logging.WARNING) as captured:
        sent = plugin.notify(body=body["body"], title=body["title"], body_format=body["format"])
        said = [line for line in captured.getvalue().splitlines() if line.strip()]
    if sent:
        return Reply(200, to_json({"ok": True}))
    return Reply(200, to_json({"ok": False, "error": said[-1].split(" - ", 2)[-1] if said else "not delivered"}))
