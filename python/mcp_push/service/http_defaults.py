"""The streamable-HTTP server's default port, apart from http_app.py so the CLI's parser can name it without
importing uvicorn and Starlette (an MCP host starting `mcp-push` on stdio never needs them)."""

DEFAULT_PORT = 8765
