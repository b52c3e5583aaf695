"""Scaffolds a new channel: its spec, three conformance case skeletons and, with --hook, a hook stub in
both languages registered in both hook registries. Every placeholder is marked TODO, and
tools/lint_specs.py fails until none is left.

    python tools/new_channel.py NAME [--display-name "Vendor bot"] [--hook NAME_sign] [--root DIR]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
NAME = re.compile(r"^[a-z][a-z0-9_]*$")

SPEC = """\
# Scaffolded by tools/new_channel.py. Fill in every TODO from the vendor's API documentation, then
# delete the TODO comments: tools/lint_specs.py fails while one is left. Format: spec/README.md.
name: {name}
display_name: {display_name}  # TODO: the name people know the service by
docs: https://TODO.example.com/docs  # TODO: the vendor's documentation of the send-message API
env:
  # TODO: QingLong's variable name when QingLong supports the vendor, else {upper}_TOKEN, {upper}_URL, …
  {var}:
    required: true
    secret: true  # credentials (tokens, keys, passwords, webhook URLs that embed one) are secret: true
    description: TODO what the value is and where the user finds it in the vendor's console
active_when: [{var}]
{hook_line}request:
  method: POST
  url: "https://TODO.example.com/send?key={{{{ env.{var} }}}}"  # TODO: the vendor's endpoint
  encoding: json  # TODO: json | form | multipart | text | query | none, as the vendor documents
  body:  # TODO: the vendor's documented message body; string leaves are templates
    text: "{{{{ title }}}}\\n\\n{{{{ content }}}}"
success:  # TODO: read success from the reply body, not the status alone (HTTP 200 with an error code is a rejection)
  json:
    - {{path: TODO, equals: 0}}
error_paths: [TODO]  # TODO: where the vendor's reply explains a failure (errmsg, message, …)
limits:
  # TODO: {{max: N, unit: bytes or characters, source: "where the vendor says so"}}; null when undocumented
  message: null
  # TODO: {{count: N, per_seconds: S, source: "where the vendor says so"}}; null when undocumented
  rate: null
"""

CASES = """\
# Scaffolded by tools/new_channel.py: the three cases every channel needs (conformance/README.md).
# Fill in every TODO, then delete the TODO markers. Requests are exactly what plan() returns, byte for byte.
channel: {name}
cases:
  - description: >-
      TODO plain message: the documented request, answered with the vendor's real success reply
    env: {{{var}: tok_{name}_0001}}
    input: {{title: Backup, content: done in 3 min}}
    requests:
      - channel: {name}
        step: send
        method: POST
        url: https://TODO.example.com/send?key=tok_{name}_0001
        headers: {{Content-Type: application/json}}
        body: '{{"text":"Backup\\n\\ndone in 3 min"}}'  # TODO: the exact wire bytes
    replies:
      - {{status: 200, body: '{{"TODO":0}}'}}  # TODO: the vendor's real success reply, from its docs
    result: {{ok: true, status: delivered, http_status: 200, attempts: 1}}

  - description: >-
      TODO special characters reach the vendor exactly as given: & = + % # " ' and a newline,
      CJK and emoji, and "{{{{ x }}}}" sent literally, not evaluated
    env: {{{var}: tok_{name}_0001}}
    input: {{title: "a&b=c+d%e#f\\"g'h", content: "line1\\nline2 中文 😀 {{{{ x }}}}"}}
    requests:
      - channel: {name}
        step: send
        method: POST
        url: https://TODO.example.com/send?key=tok_{name}_0001
        headers: {{Content-Type: application/json}}
        # TODO: the exact wire bytes (JSON: \\" and \\n escaped, CJK and emoji raw; form: percent-encoded)
        body: '{{"text":"a&b=c+d%e#f\\"g''h\\n\\nline1\\nline2 中文 😀 {{{{ x }}}}"}}'
    replies:
      - {{status: 200, body: '{{"TODO":0}}'}}  # TODO: the vendor's real success reply
    result: {{ok: true, status: delivered, http_status: 200, attempts: 1}}

  - description: >-
      TODO the vendor's documented error reply (say so when the vendor documents none and it is invented):
      a rejection that carries the vendor's own explanation
    env: {{{var}: tok_{name}_0001}}
    input: {{title: t, content: c}}
    requests:
      - channel: {name}
        step: send
        method: POST
        url: https://TODO.example.com/send?key=tok_{name}_0001
        headers: {{Content-Type: application/json}}
        body: '{{"text":"t\\n\\nc"}}'  # TODO: the exact wire bytes
    replies:
      - {{status: 400, body: '{{"TODO":1,"message":"TODO the vendor error text"}}'}}  # TODO: the documented error
    result: {{ok: false, status: rejected, http_status: 400, attempts: 1, error_contains: TODO the vendor error text}}
"""

PY_HOOK = '''\
"""{display_name}: TODO one or two lines on what this hook computes (a signature, parsed targets) and why."""

from __future__ import annotations

from . import HookInput


def {hook}(data: HookInput) -> dict:
    # TODO: compute what the spec's templates read as hook.*, from data.env, data.title, data.content,
    # data.now (Unix seconds), data.params and data.data. No I/O. Values derived from a credential go
    # under "secrets" too, so they are masked like the spec's secret env vars.
    return {{}}
'''

JS_HOOK = """\
'use strict';
// {display_name}: TODO one or two lines on what this hook computes (a signature, parsed targets) and why.

function {hook}({{ env, title, content, now, params, data }}) {{
  // TODO: the same values as python/mcp_push/hooks/{module}.py, byte for byte; no I/O.
  return {{}};
}}

module.exports = {{ {hook} }};
"""


def _yaml_scalar(text: str) -> str:
    """The text as a plain YAML scalar when it reads back unchanged, else as a quoted (JSON) string."""
    if "#" not in text and ": " not in text and yaml.safe_load(text) == text:
        return text
    return json.dumps(text, ensure_ascii=False)


def _insert_before_close(path: Path, opener: str, closer: str, line: str) -> None:
    """Inserts `line` as the last entry of the block that starts at `opener` and ends at `closer`."""
    text = path.read_text(encoding="utf-8")
    start = text.find(opener)
    if start < 0:
        raise SystemExit(f"{path}: cannot find {opener.strip()!r} to register the hook")
    end = text.find(closer, start)
    if end < 0:
        raise SystemExit(f"{path}: cannot find the end of {opener.strip()!r}")
    path.write_text(text[:end] + line + text[end:], encoding="utf-8")


def scaffold(root: Path, name: str, display_name: str, hook: str | None) -> list[Path]:
    """Writes the new channel's files under root and returns them. Refuses to overwrite anything."""
    for label, value in (("channel name", name), ("hook name", hook)):
        if value is not None and not NAME.match(value):
            raise SystemExit(f"{label} {value!r} must match ^[a-z][a-z0-9_]*$ (lower case, digits, _)")
    upper = name.upper()
    fields = {
        "name": name,
        "upper": upper,
        "var": f"{upper}_TOKEN",
        "display_name": _yaml_scalar(display_name),
        "hook_line": f"hook: {hook}  # computes hook.* values (spec/README.md, Hooks)\n" if hook else "",
    }
    files = {
        root / "spec" / "channels" / f"{name}.yaml": SPEC.format(**fields),
        root / "conformance" / "cases" / name / "cases.yaml": CASES.format(**fields),
    }
    py_registry = root / "python" / "mcp_push" / "hooks" / "__init__.py"
    js_registry = root / "js" / "src" / "hooks" / "index.js"
    if hook:
        # A hook module is named after its channel (hooks/feishu.py defines feishu_sign), as in both registries.
        names = {"display_name": display_name, "hook": hook, "module": name}
        files[root / "python" / "mcp_push" / "hooks" / f"{name}.py"] = PY_HOOK.format(**names)
        files[root / "js" / "src" / "hooks" / f"{name}.js"] = JS_HOOK.format(**names)
        registered = [p for p in (py_registry, js_registry) if re.search(rf"\b{hook}\b", p.read_text("utf-8"))]
        if registered:
            raise SystemExit(f"hook {hook!r} is already registered in {registered[0].relative_to(root)}")
    existing = [p for p in files if p.exists()]
    if existing:
        raise SystemExit(f"refusing to overwrite {existing[0].relative_to(root)}: the channel exists already")
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    if hook:
        _insert_before_close(py_registry, "REGISTRY = {", "\n}", f'\n    "{hook}": "{name}",')
        js_line = f"\n  {hook}: () => require('./{name}').{hook},"
        _insert_before_close(js_registry, "const REGISTRY = {", "\n};", js_line)
        return [*files, py_registry, js_registry]
    return list(files)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name", help="the channel's id: lower case, digits and _ (e.g. google_chat)")
    parser.add_argument("--display-name", help="for people; default: the name in title case")
    parser.add_argument("--hook", metavar="HOOKNAME", help="also scaffold a hook of this name in Python and Node")
    parser.add_argument("--root", type=Path, default=ROOT, help="the repository to write into (default: this one)")
    args = parser.parse_args(argv)
    display_name = args.display_name or args.name.replace("_", " ").title()
    written = scaffold(args.root, args.name, display_name, args.hook)
    for path in written:
        verb = "registered the hook in" if path.name in ("__init__.py", "index.js") else "wrote"
        print(f"{verb} {path.relative_to(args.root)}")
    spec = f"spec/channels/{args.name}.yaml"
    steps = [
        f"fill in {spec} from the vendor's API docs (format: spec/README.md); mark every credential secret: true",
        f"fill in conformance/cases/{args.name}/cases.yaml: real success reply, special characters, documented error",
    ]
    if args.hook:
        steps.append(
            f"write the hook in python/mcp_push/hooks/{args.name}.py and js/src/hooks/{args.name}.js "
            "(the same values in both), and add it to spec/README.md's hook table"
        )
    steps += [
        "delete every TODO, then: python tools/lint_specs.py",
        f"python tools/conformance.py -k {args.name}   (both runtimes must match the cases)",
        "python tools/gen_docs.py   (README channel table and docs/CHANNEL_CONFIG.md)",
        "nox   (lint, tests, wheel, js, conformance)",
    ]
    print("\nNext steps:")
    for number, step in enumerate(steps, 1):
        print(f"  {number}. {step}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
