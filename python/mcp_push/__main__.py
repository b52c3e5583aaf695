"""`python -m mcp_push`: the same as the `mcp-push` command (with no arguments: serve MCP over stdio)."""

import sys

from .service.cli import main

sys.exit(main())
