"""Checks what the schema alone cannot: every channel spec loads as the runtimes load it, uses no keyword
of spec format 1 (tools/spec_format.py names the new one), has its conformance cases, names a hook both
runtimes have (hooks/<name>.py and hooks/<name>.js) with parameters its function takes, gives a shared env
var one meaning, marks its credentials secret, and has no TODO left from tools/new_channel.py; every hook
file has its twin in the other runtime and a docstring.

    python tools/lint_specs.py [--root DIR]

Prints one line per problem, `spec/channels/x.yaml: problem`, and exits 1 when there is any.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import json
import os
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jsonschema
import runtime_hooks
import runtime_specs as runtime_spec_loader
import spec_format
import yaml

ROOT = Path(__file__).resolve().parents[1]


runtime_specs = runtime_spec_loader.load()
runtime_config = runtime_spec_loader.load("config")

MIN_CASES = 3

# An env var whose name has one of these words (as a `_`-separated part, or ending a part: FSKEY,
# SENDKEY; AM: WeCom's QYWX_AM, which carries the corpsecret) holds a credential and must be `secret: true`.
CREDENTIAL_WORDS = ("TOKEN", "SECRET", "PASSWORD", "PASSWD", "PASS", "PWD", "AUTH", "CREDENTIAL", "CREDENTIALS",
                    "KEY", "SENDKEY", "PUSHKEY", "APIKEY", "SPT", "COOKIE", "SIGNATURE", "AM")
CREDENTIAL_ENDINGS = ("KEY", "TOKEN", "SECRET")
# So does a webhook URL: it carries its credential in the path (Slack, Discord, Teams, Google Chat).
WEBHOOK_URL = re.compile(r"(^|_)(WEB)?HOOK(_URL)?$")
# ...unless its last part says it is a setting about the credential rather than the credential.
SETTING_PARTS = ("TYPE", "METHOD", "MODE", "VERSION", "ENABLED", "HOST", "PORT", "NAME")
# Known names that look like credentials and are not, with the reason.
NOT_SECRETS = {
    "PUSH_PLUS_WEBHOOK": "names a webhook configured in PushPlus (its code), not a URL; the token is PUSH_PLUS_TOKEN",
    "GOOGLE_CHAT_THREAD_KEY": "Google Chat's threadKey: names the thread messages go to, grants nothing",
}


# A secret whose description says it is composed of parts needs the `secret_parts` mark that names them,
# or a vendor that echoes one part alone shows it (spec/README.md, "Secrets").
COMPOSITE_HINTS = (
    ("userinfo", re.compile(r"user(name)?:pass(word)?", re.I)),
    ("header_values", re.compile(r"header: value", re.I)),
    ("list", re.compile(r"comma-separated|separated by ,", re.I)),
)


def secret_shape_problems(var: Any) -> list[str]:
    parts = tuple(getattr(var, "secret_parts", ()) or ())
    if parts and not var.secret:
        return [f"env {var.name} has secret_parts but is not secret: true (secret_parts names a secret's parts)"]
    return [
        f"env {var.name} looks composed ({hint.pattern!r} in its description): add secret_parts: [{shape}]"
        for shape, hint in COMPOSITE_HINTS
        if var.secret and shape not in parts and hint.search(var.description)
    ]


def looks_like_credential(name: str) -> bool:
    if name in NOT_SECRETS:
        return False
    parts = name.split("_")
    if parts[-1] in SETTING_PARTS:
        return False
    return bool(WEBHOOK_URL.search(name)) or any(p in CREDENTIAL_WORDS or p.endswith(CREDENTIAL_ENDINGS) for p in parts)


@contextlib.contextmanager
def spec_dir(folder: Path) -> Iterator[None]:
    """The runtime's loader reading `folder` (MCP_PUSH_SPEC_DIR), its caches cleared before and after."""
    cached = (runtime_specs.channel_schema, runtime_specs.load_channels, runtime_specs.load_settings)
    before = os.environ.get("MCP_PUSH_SPEC_DIR")
    os.environ["MCP_PUSH_SPEC_DIR"] = str(folder)
    for fn in cached:
        fn.cache_clear()
    try:
        yield
    finally:
        if before is None:
            del os.environ["MCP_PUSH_SPEC_DIR"]
        else:
            os.environ["MCP_PUSH_SPEC_DIR"] = before
        for fn in cached:
            fn.cache_clear()


def _load(path: Path, root: Path, problems: list[str]) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        problems.append(f"{path.relative_to(root).as_posix()}: cannot be read as YAML: {' '.join(str(exc).split())}")
        return None


def _schema_errors(validator: jsonschema.protocols.Validator, data: Any) -> list[str]:
    errors = sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path])
    return [f"{'/'.join(str(p) for p in e.absolute_path) or '(top level)'}: {e.message}" for e in errors]


# A plain (unquoted) description with " #" in it: YAML reads the rest of the line as a comment.
CUT_DESCRIPTION = re.compile(r"^\s*description:\s+[^\s\"'|>].*\s#")


def _cut_descriptions(path: Path) -> list[int]:
    text = path.read_text(encoding="utf-8")
    return [n for n, line in enumerate(text.splitlines(), 1) if CUT_DESCRIPTION.match(line)]


def _todo_lines(path: Path) -> list[int]:
    text = path.read_text(encoding="utf-8")
    return [n for n, line in enumerate(text.splitlines(), 1) if "TODO" in line]


def hook_problems(root: Path) -> tuple[set[str], set[str], dict[str, Callable], list[str]]:
    """The hooks each runtime has (by file name), the Python functions, and problems with the hook files:
    a hook without its twin in the other runtime, a Python file without its function or docstring, a TODO."""
    problems: list[str] = []
    py_names, js_names = runtime_hooks.python_names(root), runtime_hooks.js_names(root)
    for name in sorted(py_names - js_names):
        problems.append(f"{runtime_hooks.python_path(name).as_posix()}: hook {name} has no Node twin "
                        f"{runtime_hooks.js_path(name).as_posix()}")
    for name in sorted(js_names - py_names):
        problems.append(f"{runtime_hooks.js_path(name).as_posix()}: hook {name} has no Python twin "
                        f"{runtime_hooks.python_path(name).as_posix()}")
    functions: dict[str, Callable] = {}
    for name, found in runtime_hooks.load_python(root).items():
        where = runtime_hooks.python_path(name).as_posix()
        if isinstance(found, str):
            problems.append(f"{where}: {found}")
            continue
        functions[name] = found
        if not inspect.getdoc(found):
            problems.append(f"{where}: {name} has no docstring (spec/README.md's hook table is written from it)")
    for path in sorted([runtime_hooks.python_path(n) for n in py_names] + [runtime_hooks.js_path(n) for n in js_names]):
        todos = _todo_lines(root / path)
        if todos:
            problems.append(f"{path.as_posix()}: {len(todos)} TODO left from the scaffold (first on line {todos[0]})")
    return py_names, js_names, functions, problems


def hook_use_problems(spec: Any, py_names: set[str], js_names: set[str], functions: dict[str, Callable]) -> list[str]:
    """A spec's hook: a file in both runtimes, and parameters its Python function takes; a parameter named
    *_var names an env var of the spec (the one the hook reads)."""
    name, params = spec.hook, spec.hook_params
    files = {"Python": (py_names, runtime_hooks.python_path(name)), "Node": (js_names, runtime_hooks.js_path(name))}
    missing = [lang for lang, (found, _) in files.items() if name not in found]
    if missing:
        paths = ", no ".join(files[lang][1].as_posix() for lang in missing)
        return [f"hook {name} is missing in {' and '.join(missing)} (no {paths})"]
    problems = [f"hook parameter {key}: {value!r} is not an env var of this spec"
                for key, value in params.items() if key.endswith("_var") and value not in spec.env]
    if name in functions:
        signature = inspect.signature(functions[name])
        try:
            signature.bind(None, **params)
        except TypeError as exc:
            takes = ", ".join(p.name for p in signature.parameters.values() if p.kind is p.KEYWORD_ONLY) or "none"
            problems.append(f"hook {name} does not take these parameters ({exc}); it takes: {takes}")
    return problems


_EXPRESSION = re.compile(r"\{[{%](.*?)[}%]\}", re.S)
_TOKEN_WORD = re.compile(r"(?<![.\w])token\b")


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)


def token_use_problems(spec: Any) -> list[str]:
    """A fetched token is put into the planned requests at send time where `{{ token }}` rendered
    (spec/README.md, "Tokens"): it must stand alone, unfiltered, and never in a multipart body."""
    if not spec.token:
        return []
    problems = []
    event = spec.event or {}
    for label, request in (("request", spec.request), ("edit.request", (spec.edit or {}).get("request")),
                           ("event.request", event.get("request"))):
        if not request:
            continue
        for text in _strings(request):
            for expression in _EXPRESSION.findall(text):
                if _TOKEN_WORD.search(expression) and expression.strip() != "token":
                    problems.append(f"{label}: {{{{{expression}}}}} uses the token; it is put in at send time, "
                                    "so it stands alone as {{ token }}")
        if request.get("encoding") == "multipart" and any("{{ token }}" in t for t in _strings(request.get("body"))):
            problems.append(f"{label}: a fetched token cannot go into a multipart body (its boundary is derived "
                            "from the content)")
    return problems


EVENT_KINDS = ("start", "update", "end", "error")


def event_problems(spec: Any, cases_dir: Path) -> list[str]:
    """An event card (spec/README.md, "Event cards"): a style for every event kind or none, each naming
    the same keys (a template reading `style.colour` fails on a kind without it), and its conformance
    cases in conformance/cases/cards/<name>.yaml."""
    if not spec.event:
        return []
    problems = []
    styles = spec.event.get("style") or {}
    if styles and (sorted(styles) != sorted(EVENT_KINDS) or len({tuple(sorted(v)) for v in styles.values()}) > 1):
        problems.append("event.style: give every event kind (start, update, end, error) the same keys")
    if not (cases_dir / "cards" / f"{spec.name}.yaml").is_file():
        problems.append(f"event: no card cases in conformance/cases/cards/{spec.name}.yaml")
    return problems


# Dialects a vendor must be told about (a parse mode, a msgtype, a format field) or that a template would
# otherwise escape twice: a spec naming one reads `markup` in its request (spec/README.md, "Markdown in").
_FLAGGED_DIALECTS = ("telegram_html", "slack_mrkdwn", "html", "dingtalk_markdown", "wecom_markdown")
_MARKUP_WORD = re.compile(r"\bmarkup\b")


def markdown_use_problems(spec: Any, cases_dir: Path) -> list[str]:
    """A spec's `markdown` dialect and its templates agree, and conformance/cases/markdown/ pins it."""
    reads = any(_MARKUP_WORD.search(text) for text in _strings(spec.request))
    if spec.markdown == "text":
        return ["request reads `markup`, but the spec names no `markdown` dialect: it is always text"] if reads else []
    problems = []
    if spec.markdown in _FLAGGED_DIALECTS and not reads:
        problems.append(f"markdown: {spec.markdown} needs the request to read `markup` (the vendor must be told, "
                        "or the template escapes the converted text again)")
    if not (cases_dir / "markdown" / f"{spec.name}.yaml").is_file():
        problems.append(f"markdown: {spec.markdown} has no conformance case in "
                        f"conformance/cases/markdown/{spec.name}.yaml")
    return problems


def priority_problems(spec: Any) -> list[str]:
    """A spec's `priority` block (docs/ROUTING.md) against its own variables: each one it sets declared,
    each value one its type takes; body fields only on a JSON body."""
    problems = []
    for level, change in (spec.priority or {}).items():
        for name, value in (change.get("env") or {}).items():
            var = spec.env.get(name)
            problem = runtime_config.value_problem(var, value) if var else f"{name} is not a variable of this channel"
            if problem:
                problems.append(f"priority.{level}.env: {problem}")
        if "body" in change and not isinstance(spec.request.get("body"), dict):
            problems.append(f"priority.{level}.body: the request has no JSON body to add fields to")
    return problems


def lint(root: Path = ROOT) -> list[str]:
    """Every problem found under root, one line each, in a stable order."""
    problems: list[str] = []
    channels_dir, cases_dir = root / "spec" / "channels", root / "conformance" / "cases"
    schema = json.loads((root / "spec" / "channel.schema.json").read_text(encoding="utf-8"))
    spec_validator = jsonschema.Draft202012Validator(schema)
    case_schema = json.loads((root / "conformance" / "case.schema.json").read_text(encoding="utf-8"))
    case_validator = jsonschema.Draft202012Validator(case_schema)
    py_hooks, js_hooks_found, hook_functions, hook_lines = hook_problems(root)
    problems += hook_lines

    # name -> (first file declaring it, its meaning), for env vars several channels share
    shared: dict[str, tuple[str, tuple[str, bool, str]]] = {}
    settings = _load(root / "spec" / "settings.yaml", root, problems) or {}
    problems += spec_format.settings_problems(settings)
    for name, props in (settings.get("env") or {}).items():
        shared[name] = ("spec/settings.yaml", (props.get("default", ""), props.get("secret", False),
                                               props.get("type", "string")))

    for path in sorted(channels_dir.glob("*.yaml")):
        where = path.relative_to(root).as_posix()
        data = _load(path, root, problems)
        if data is None:
            continue
        old = spec_format.old_vocabulary(data) if isinstance(data, dict) else []
        if old:  # a format-1 spec: name the new keywords rather than the schema's generic complaints
            problems += [f"{where}: {p}" for p in old]
            continue
        errors = _schema_errors(spec_validator, data)
        if errors:
            problems += [f"{where}: {e}" for e in errors]
            continue
        try:
            with spec_dir(root / "spec"):
                spec = runtime_specs.validate_spec(data, where)
        except runtime_specs.SpecError as exc:
            problems.append(str(exc))
            continue
        name = spec.name

        todos = _todo_lines(path)
        if todos:
            problems.append(f"{where}: {len(todos)} TODO left from the scaffold (first on line {todos[0]})")

        for line in _cut_descriptions(path):
            problems.append(f"{where}: line {line}: the description is cut at ' #', which YAML reads as a comment: "
                            "quote the text")

        case_files = sorted((cases_dir / name).glob("*.yaml"))
        count = 0
        for case_path in case_files:
            case_where = case_path.relative_to(root).as_posix()
            cases = _load(case_path, root, problems)
            if cases is None:
                continue
            case_errors = _schema_errors(case_validator, cases)
            problems += [f"{case_where}: {e}" for e in case_errors]
            if not case_errors:
                count += len(cases["cases"])
            todos = _todo_lines(case_path)
            if todos:
                problems.append(f"{case_where}: {len(todos)} TODO left from the scaffold (first on line {todos[0]})")
        if count < MIN_CASES:
            problems.append(
                f"{where}: {count} conformance case(s) in conformance/cases/{name}/, at least {MIN_CASES} needed "
                "(plain message with the real success reply, special characters, the documented error)"
            )

        if spec.hook:
            problems += [f"{where}: {p}" for p in hook_use_problems(spec, py_hooks, js_hooks_found, hook_functions)]
        problems += [f"{where}: {p}" for p in token_use_problems(spec)]
        problems += [f"{where}: {p}" for p in event_problems(spec, cases_dir)]
        problems += [f"{where}: {p}" for p in markdown_use_problems(spec, cases_dir)]
        problems += [f"{where}: {p}" for p in priority_problems(spec)]

        for var in spec.env.values():
            meaning = (var.default, var.secret, var.type)
            first = shared.setdefault(var.name, (where, meaning))
            if first[1] != meaning:
                diffs = [f"{label} {theirs!r} there, {ours!r} here"
                         for label, theirs, ours in zip(("default", "secret", "type"), first[1], meaning, strict=True)
                         if theirs != ours]
                problems.append(f"{where}: env {var.name} is shared with {first[0]} but differs: {'; '.join(diffs)}")
            default_problem = runtime_config.value_problem(var, var.default)
            if default_problem:
                problems.append(f"{where}: env {var.name}'s default breaks its own type: {default_problem}")
            problems += [f"{where}: {problem}" for problem in secret_shape_problems(var)]
            if not var.secret and looks_like_credential(var.name):
                problems.append(f"{where}: env {var.name} looks like a credential: mark it secret: true "
                                "(or add it to NOT_SECRETS in tools/lint_specs.py with the reason)")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=ROOT, help="the repository to check (default: this one)")
    args = parser.parse_args(argv)
    problems = lint(args.root.resolve())
    for line in problems:
        print(line)
    if problems:
        print(f"{len(problems)} problem(s)", file=sys.stderr)
        return 1
    count = len(list((args.root / "spec" / "channels").glob("*.yaml")))
    print(f"{count} channel specs: no problems")
    return 0


if __name__ == "__main__":
    sys.exit(main())
