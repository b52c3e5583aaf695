"""The floor for the MCP server's per-call figures: a bare server on the MCP SDK mcp-push uses
(`mcp.server.mcpserver.MCPServer`, stdio), with two tools and nothing else:

- `notify_event` (run_id, event, message, data?): echoes its arguments back; the floor for calls/s.
- `post` (title, content): POSTs {title, content} as JSON to FLOOR_POST_URL with one pooled
  `requests` session (the HTTP library mcp-push uses) and answers with the HTTP status; the floor for
  "agent call -> the vendor has the request".

    FLOOR_POST_URL=http://127.0.0.1:PORT/floor python bench/floor_server.py
"""

from __future__ import annotations

import os
from typing import Any

import requests
from mcp.server.mcpserver import MCPServer

server = MCPServer("bench-floor")
_session = requests.Session()


@server.tool()
def notify_event(run_id: str, event: str, message: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
    """Echo the event."""
    return {"run_id": run_id, "event": event, "message": message, "data": data}


@server.tool()
def post(title: str, content: str) -> dict[str, Any]:
    """POST the message to FLOOR_POST_URL."""
    reply = _session.post(os.environ["FLOOR_POST_URL"], json={"title": title, "content": content}, timeout=10)
    return {"status": reply.status_code}


if __name__ == "__main__":
    server.run()
