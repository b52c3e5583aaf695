"""Makes `conformance.runners` importable from a checkout (the repository root on sys.path: tools/*.py put it
there, pytest's `pythonpath`). A regular package, so that it wins over tools/conformance.py when both folders are
on sys.path. Not part of the installed mcp_push package."""
