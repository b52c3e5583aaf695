"""The Python service around the twinned core: the MCP server and its transports, the CLI, and the
delivery engine (lanes, rate limits, coalescing, the SQLite outbox). Nothing here has a Node twin; the
modules one level up (planner, deliver, edits, events, ...) are mirrored module for module in js/src/
and must stay in lockstep with it (README, "Layout")."""
