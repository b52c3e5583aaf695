"""Run by `nox -s wheel` from a folder outside the repo, against the installed wheel: send through
`from notify import send` and `mcp_push.send` to a local HTTP server and check what arrived."""

from __future__ import annotations

import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

received: list[tuple[str, bytes]] = []


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        received.append((self.path, body))
        payload = b'{"id":1}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


def main() -> int:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    os.environ.update({"HITOKOTO": "false", "NTFY_URL": base, "NTFY_TOPIC": "wheel"})
    os.environ.pop("MCP_PUSH_SPEC_DIR", None)

    import mcp_push
    from mcp_push.specs import spec_dir
    from notify import send

    here = Path(mcp_push.__file__).resolve().parent
    assert spec_dir().resolve() == here / "spec", f"specs loaded from {spec_dir()}, not from the package"
    assert "site-packages" in str(here), f"mcp_push imported from {here}, not the installed wheel"

    first = send("Wheel 测试", "from notify")
    second = mcp_push.send("Wheel", "from mcp_push", GOTIFY_URL=base, GOTIFY_TOKEN="wheel_token_1")
    server.shutdown()
    print(json.dumps({"notify": first.to_dict(), "mcp_push": second.to_dict()}, ensure_ascii=False),
          file=sys.stderr)
    assert bool(first) and [r.channel for r in first] == ["ntfy"], first
    assert sorted(r.channel for r in second) == ["gotify", "ntfy"] and all(r.ok for r in second), second
    # The installed package reads spec/validated.json (written by tools/gen_docs.py): no YAML parser.
    assert "yaml" not in sys.modules, "a send parsed YAML: spec/validated.json is missing or stale in the wheel"
    paths = sorted(path for path, _ in received)
    assert paths == ["/message?token=wheel_token_1", "/wheel", "/wheel"], paths
    print(f"wheel OK: {len(received)} requests delivered from the installed package at {here}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
