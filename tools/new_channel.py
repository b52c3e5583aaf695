"""Scaffolds a new channel: its spec, three conformance case skeletons and, with --hook, the hook's two
files, python/mcp_push/hooks/<hook>.py and js/src/hooks/<hook>.js (hooks are found by file name: nothing
else to edit). Every placeholder is marked TODO, and tools/lint_specs.py fails until none is left.

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
  encoding: json  # TODO: json | form | multipart | text | none, as the vendor documents
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
"""{display_name}: TODO one or two lines on what this hook computes and why data cannot say it."""

from __future__ import annotations

from . import HookInput


def {hook}(data: HookInput) -> dict:
    """TODO what it returns, as spec/README.md's hook table shows it (tools/gen_docs.py copies this
    paragraph there): `sign` = Base64(HMAC-SHA256(key=secret, msg=...)); empty without a secret.
    """
    # TODO: compute what the spec's templates read as hook.*, from data.env, data.title, data.content,
    # data.now (Unix seconds), data.params and data.data. No I/O. Values derived from a credential go
    # under "secrets" too, so they are masked like the spec's secret env vars. Parameters from the spec,
    # `hook: {{use: {hook}, secret_var: X}}`, arrive as keyword-only arguments: (data, *, secret_var).
    return {{}}
'''

JS_HOOK = """\
'use strict';
// {display_name}: TODO one or two lines on what this hook computes and why data cannot say it.

// Parameters from the spec, `hook: {{use: {hook}, secret_var: X}}`, arrive as a second argument:
// ({{ env, now }}, {{ secret_var }}).
function {hook}({{ env, title, content, now, params, data }}) {{
  // TODO: the same values as python/mcp_push/hooks/{hook}.py, byte for byte; no I/O.
  return {{}};
}}

module.exports = {{ {hook} }};
"""


def _yaml_scalar(text: str) -> str:
    """The text as a plain YAML scalar when it reads back unchanged, else as a quoted (JSON) string."""
    if "#" not in text and ": " not in text and yaml.safe_load(text) == text:
        return text
    return json.dumps(text, ensure_ascii=False)


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
    if hook:
        # Found by file name in both runtimes (spec/README.md, Hooks): the two files are the whole hook.
        py_file = root / "python" / "mcp_push" / "hooks" / f"{hook}.py"
        js_file = root / "js" / "src" / "hooks" / f"{hook}.js"
        taken = [p for p in (py_file, js_file) if p.exists()]
        if taken:
            where = taken[0].relative_to(root).as_posix()
            raise SystemExit(f"hook {hook!r} exists already ({where}): use it, with parameters if its function "
                             f"takes them (hook: {{use: {hook}, ...}}), or pick another name")
        names = {"display_name": display_name, "hook": hook}
        files[py_file] = PY_HOOK.format(**names)
        files[js_file] = JS_HOOK.format(**names)
    existing = [p for p in files if p.exists()]
    if existing:
        raise SystemExit(f"refusing to overwrite {existing[0].relative_to(root)}: the channel exists already")
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
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
        print(f"wrote {path.relative_to(args.root).as_posix()}")
    spec = f"spec/channels/{args.name}.yaml"
    steps = [
        f"fill in {spec} from the vendor's API docs (format: spec/README.md); mark every credential secret: true",
        f"fill in conformance/cases/{args.name}/cases.yaml: real success reply, special characters, documented error",
    ]
    if args.hook:
        steps.append(
            f"write the hook in python/mcp_push/hooks/{args.hook}.py and js/src/hooks/{args.hook}.js "
            "(the same values in both; the Python docstring becomes its row in spec/README.md's hook table)"
        )
    steps += [
        "delete every TODO, then: python tools/lint_specs.py",
        f"python tools/conformance.py -k {args.name}   (both runtimes must match the cases)",
        "python tools/gen_docs.py   (README channel table, docs/CHANNEL_CONFIG.md, spec/README.md hook table)",
        "nox   (lint, tests, wheel, js, conformance)",
    ]
    print("\nNext steps:")
    for number, step in enumerate(steps, 1):
        print(f"  {number}. {step}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
