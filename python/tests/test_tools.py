"""Contributor tooling: the new-channel scaffold, the spec lint and the docs generator, each run on a
temporary copy of the repository (`--root`) so a test can break it on purpose."""

from __future__ import annotations

import importlib.util
import inspect
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import jsonschema
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
# Finished channels that exercise every check: a hook, a shared env var (QYWX_ORIGIN), a plain channel.
CHANNELS = ("dingtalk", "feishu", "gotify", "wecom_app", "wecom_bot")


def _tool(name: str) -> ModuleType:
    # As when run as a script, the tool's own folder is importable (tools/runtime_specs.py); appended, not put
    # first, so that `conformance` stays the repository's package, not tools/conformance.py.
    if str(REPO / "tools") not in sys.path:
        sys.path.append(str(REPO / "tools"))
    location = importlib.util.spec_from_file_location(f"tools_{name}", REPO / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(location)
    location.loader.exec_module(module)
    return module


new_channel, lint_specs, gen_docs = _tool("new_channel"), _tool("lint_specs"), _tool("gen_docs")
conformance_tool = _tool("conformance")


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A small copy of the repository: the schemas, settings, spec/README.md, a few finished channels and
    both runtimes' sources (the lint imports the Python hooks, which import the package's pure modules)."""
    for name in ("spec/channel.schema.json", "spec/settings.yaml", "spec/README.md", "conformance/case.schema.json",
                 "README.md", "spec/templates/event.yaml"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / name, tmp_path / name)
    for channel in CHANNELS:
        (tmp_path / "spec" / "channels").mkdir(exist_ok=True)
        shutil.copy(REPO / "spec" / "channels" / f"{channel}.yaml", tmp_path / "spec" / "channels")
        shutil.copytree(REPO / "conformance" / "cases" / channel, tmp_path / "conformance" / "cases" / channel)
        cards = REPO / "conformance" / "cases" / "cards" / f"{channel}.yaml"  # a channel with an event card
        if cards.is_file():
            (tmp_path / "conformance" / "cases" / "cards").mkdir(parents=True, exist_ok=True)
            shutil.copy(cards, tmp_path / "conformance" / "cases" / "cards")
        markdown_case = REPO / "conformance" / "cases" / "markdown" / f"{channel}.yaml"
        if markdown_case.is_file():
            (tmp_path / "conformance" / "cases" / "markdown").mkdir(parents=True, exist_ok=True)
            shutil.copy(markdown_case, tmp_path / "conformance" / "cases" / "markdown")
    shutil.copytree(REPO / "python" / "mcp_push", tmp_path / "python" / "mcp_push",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "js" / "src", tmp_path / "js" / "src")
    return tmp_path


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and "node_modules" not in p.parts}


def _edit_yaml(path: Path, change) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def _problems_about(tree: Path, text: str) -> list[str]:
    return [line for line in lint_specs.lint(tree) if text in line]


# --- the scaffold ---------------------------------------------------------------------------------------

def test_the_scaffold_writes_a_schema_valid_spec_named_after_the_channel(tree):
    new_channel.main(["acme_bot", "--display-name", "Acme: bot #1", "--root", str(tree)])
    path = tree / "spec" / "channels" / "acme_bot.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    spec = lint_specs.runtime_specs.validate_spec(data, "spec/channels/acme_bot.yaml")
    assert (spec.name, spec.display_name) == ("acme_bot", "Acme: bot #1")
    assert [v.secret and v.required for v in spec.env.values()] == [True]
    assert "TODO" in path.read_text(encoding="utf-8")


def test_the_scaffold_writes_three_schema_valid_cases_for_the_channel(tree):
    new_channel.main(["acme_bot", "--root", str(tree)])
    data = yaml.safe_load((tree / "conformance" / "cases" / "acme_bot" / "cases.yaml").read_text(encoding="utf-8"))
    jsonschema.validate(data, json.loads((REPO / "conformance" / "case.schema.json").read_text(encoding="utf-8")))
    assert data["channel"] == "acme_bot"
    assert len(data["cases"]) == 3
    assert {r["channel"] for case in data["cases"] for r in case["requests"]} == {"acme_bot"}
    special = data["cases"][1]["input"]
    assert all(c in special["title"] + special["content"] for c in ("&", "=", "+", "%", "#", '"', "'", "\n"))
    assert all(s in special["content"] for s in ("中文", "😀", "{{ x }}"))


def test_the_scaffold_with_a_hook_writes_its_two_files_and_edits_nothing(tree):
    before = _files(tree)
    new_channel.main(["acme_bot", "--hook", "acme_bot_sign", "--root", str(tree)])
    after = _files(tree)
    assert {name: data for name, data in after.items() if name in before} == before  # no file edited
    assert sorted(set(after) - set(before)) == [
        "conformance/cases/acme_bot/cases.yaml",
        "js/src/hooks/acme_bot_sign.js",
        "python/mcp_push/hooks/acme_bot_sign.py",
        "spec/channels/acme_bot.yaml",
    ]
    assert yaml.safe_load(after["spec/channels/acme_bot.yaml"])["hook"] == "acme_bot_sign"
    py_names, js_names, functions, problems = lint_specs.hook_problems(tree)
    assert "acme_bot_sign" in py_names & js_names
    assert inspect.getdoc(functions["acme_bot_sign"]).startswith("TODO what it returns")
    assert problems == [
        "js/src/hooks/acme_bot_sign.js: 2 TODO left from the scaffold (first on line 2)",
        "python/mcp_push/hooks/acme_bot_sign.py: 3 TODO left from the scaffold (first on line 1)",
    ]


def _plan_in_both_runtimes(root: Path, env: dict[str, str]) -> dict[str, list[dict]]:
    """The redacted plan of root's own sources and specs, in a fresh Python and a fresh Node process."""
    settings = {"MCP_PUSH_SPEC_DIR": str(root / "spec"), "PATH": os.environ.get("PATH", "")}
    py = (f"import json, mcp_push; print(json.dumps(mcp_push.plan('t', 'c', env={env!r}, now=1700000000.0)))")
    js = (f"const {{ plan }} = require('./src'); "
          f"console.log(JSON.stringify(plan('t', 'c', {{ env: {json.dumps(env)}, now: 1700000000 }})))")
    runs = {
        "python": subprocess.run([sys.executable, "-c", py], env={**settings, "PYTHONPATH": str(root / "python")},
                                 capture_output=True, text=True, cwd=root),
        "node": subprocess.run(["node", "-e", js], env=settings, capture_output=True, text=True, cwd=root / "js"),
    }
    assert {name: (run.returncode, run.stderr) for name, run in runs.items() if run.returncode} == {}
    return {name: json.loads(run.stdout) for name, run in runs.items()}


def test_a_scaffolded_hook_is_found_by_both_runtimes_without_a_registry_edit(tree):
    # The runtimes as they are, from the copy: the Python package and the Node sources run from tree/,
    # with every spec file they read (the copy's channels only).
    shutil.copytree(REPO / "spec", tree / "spec", dirs_exist_ok=True, ignore=shutil.ignore_patterns("channels"))
    (tree / "js" / "node_modules").symlink_to(REPO / "js" / "node_modules", target_is_directory=True)
    shutil.copy(REPO / "js" / "package.json", tree / "js" / "package.json")
    new_channel.main(["acme_bot", "--hook", "acme_bot_sign", "--root", str(tree)])
    # What a contributor then writes: the hook's values, read by the spec's templates.
    py_hook, js_hook = tree / "python/mcp_push/hooks/acme_bot_sign.py", tree / "js/src/hooks/acme_bot_sign.js"
    py_hook.write_text(py_hook.read_text("utf-8").replace(
        "return {}", "return {'sign': f\"acme-{int(data.now)}-{len(data.env['ACME_BOT_TOKEN'])}\"}"), "utf-8")
    js_hook.write_text(js_hook.read_text("utf-8").replace(
        "return {};", "return { sign: `acme-${Math.floor(now)}-${env.ACME_BOT_TOKEN.length}` };"), "utf-8")
    spec = tree / "spec" / "channels" / "acme_bot.yaml"
    spec.write_text(spec.read_text("utf-8").replace("/send?key=", "/send?sign={{ hook.sign }}&key="), "utf-8")
    plans = _plan_in_both_runtimes(tree, {"ACME_BOT_TOKEN": "tok_acme_0001", "HITOKOTO": "false"})
    urls = {name: [entry["url"] for entry in plan if entry["channel"] == "acme_bot"] for name, plan in plans.items()}
    assert urls == {runtime: ["https://TODO.example.com/send?sign=acme-1700000000-13&key=***"]
                    for runtime in ("python", "node")}


def test_the_scaffold_refuses_to_overwrite_an_existing_channel(tree):
    before = (tree / "spec" / "channels" / "gotify.yaml").read_text(encoding="utf-8")
    with pytest.raises(SystemExit, match="refusing to overwrite spec/channels/gotify.yaml"):
        new_channel.main(["gotify", "--root", str(tree)])
    assert (tree / "spec" / "channels" / "gotify.yaml").read_text(encoding="utf-8") == before


def test_the_scaffold_refuses_a_hook_that_exists_and_points_to_its_parameters(tree):
    with pytest.raises(SystemExit, match=r"hook 'feishu_sign' exists already \(python/mcp_push/hooks/feishu_sign.py\)"
                       r": use it, with parameters if its function takes them \(hook: \{use: feishu_sign, ...\}\)"):
        new_channel.main(["acme_bot", "--hook", "feishu_sign", "--root", str(tree)])
    assert not (tree / "spec" / "channels" / "acme_bot.yaml").exists()


# --- the spec lint --------------------------------------------------------------------------------------

def test_lint_passes_on_the_repository():
    assert lint_specs.lint(REPO) == []


def test_lint_passes_on_the_clean_copy(tree):
    assert lint_specs.lint(tree) == []


def test_lint_reports_an_event_card_whose_styles_differ_or_that_has_no_cases(tree):
    _edit_yaml(tree / "spec" / "channels" / "feishu.yaml", lambda data: data["event"]["style"]["end"].pop("colour"))
    (tree / "conformance" / "cases" / "cards" / "wecom_bot.yaml").unlink()
    assert _problems_about(tree, "event") == [
        "spec/channels/feishu.yaml: event.style: give every event kind (start, update, end, error) the same keys",
        "spec/channels/wecom_bot.yaml: event: no card cases in conformance/cases/cards/wecom_bot.yaml",
    ]


def test_lint_reports_a_markdown_dialect_its_templates_do_not_read_or_pin(tree):
    path = tree / "spec" / "channels" / "wecom_bot.yaml"
    _edit_yaml(path, lambda d: d["request"].update(body={"msgtype": "text", "text": {"content": "{{ content }}"}}))
    (tree / "conformance" / "cases" / "markdown" / "wecom_bot.yaml").unlink()
    assert _problems_about(tree, "spec/channels/wecom_bot.yaml: markdown: wecom_markdown needs the request to read "
                                 "`markup`")
    assert _problems_about(tree, "spec/channels/wecom_bot.yaml: markdown: wecom_markdown has no conformance case")
    gotify = tree / "spec" / "channels" / "gotify.yaml"
    _edit_yaml(gotify, lambda d: d["request"]["body"].update(title="{% if markup == 'html' %}x{% endif %}"))
    assert _problems_about(tree, "spec/channels/gotify.yaml: request reads `markup`, but the spec names no "
                                 "`markdown` dialect")


def test_lint_reports_a_scaffolded_spec_until_its_todos_are_gone(tree):
    new_channel.main(["acme_bot", "--root", str(tree)])
    assert _problems_about(tree, "spec/channels/acme_bot.yaml: 14 TODO left from the scaffold")
    assert _problems_about(tree, "conformance/cases/acme_bot/cases.yaml:")


def test_lint_reports_a_token_that_does_not_stand_alone_or_goes_into_a_multipart_body(tree):
    path = tree / "spec" / "channels" / "wecom_app.yaml"
    _edit_yaml(path, lambda d: d["request"]["query"].update(access_token="{{ token|upper }}"))
    assert _problems_about(tree, "spec/channels/wecom_app.yaml: request: {{ token|upper }} uses the token; it is put "
                                 "in at send time, so it stands alone as {{ token }}")

    def multipart(doc):
        doc["request"].update(encoding="multipart", body={"token": "{{ token }}"})
        doc["request"]["query"]["access_token"] = "{{ token }}"

    _edit_yaml(path, multipart)
    assert _problems_about(tree, "spec/channels/wecom_app.yaml: request: a fetched token cannot go into a multipart "
                                 "body")


def test_lint_reports_a_channel_with_fewer_than_three_cases(tree):
    _edit_yaml(tree / "conformance" / "cases" / "gotify" / "cases.yaml", lambda d: d.update(cases=d["cases"][:2]))
    assert _problems_about(tree, "spec/channels/gotify.yaml: 2 conformance case(s) in conformance/cases/gotify/")


def test_lint_reports_a_channel_without_a_cases_folder(tree):
    shutil.rmtree(tree / "conformance" / "cases" / "gotify")
    assert _problems_about(tree, "spec/channels/gotify.yaml: 0 conformance case(s)")


def test_lint_reports_a_hook_that_neither_runtime_has(tree):
    _edit_yaml(tree / "spec" / "channels" / "gotify.yaml", lambda d: d.update(hook="gotify_sign"))
    assert _problems_about(tree, "spec/channels/gotify.yaml: hook gotify_sign is missing in Python and Node "
                                 "(no python/mcp_push/hooks/gotify_sign.py, no js/src/hooks/gotify_sign.js)")


def test_lint_reports_a_hook_missing_in_node_by_its_file(tree):
    (tree / "js" / "src" / "hooks" / "feishu_sign.js").unlink()
    assert _problems_about(tree, "spec/channels/feishu.yaml: hook feishu_sign is missing in Node "
                                 "(no js/src/hooks/feishu_sign.js)")
    assert _problems_about(tree, "python/mcp_push/hooks/feishu_sign.py: hook feishu_sign has no Node twin "
                                 "js/src/hooks/feishu_sign.js")


def test_lint_reports_a_node_hook_file_without_its_python_twin(tree):
    shutil.copy(tree / "js" / "src" / "hooks" / "ntfy_auth.js", tree / "js" / "src" / "hooks" / "gotify_auth.js")
    assert lint_specs.lint(tree) == [
        "js/src/hooks/gotify_auth.js: hook gotify_auth has no Python twin python/mcp_push/hooks/gotify_auth.py"
    ]


def test_lint_reports_a_python_hook_file_without_its_function(tree):
    (tree / "python" / "mcp_push" / "hooks" / "feishu_sign.py").write_text('def other(data):\n    """x"""\n')
    assert _problems_about(tree, "python/mcp_push/hooks/feishu_sign.py: defines no function feishu_sign")


def test_lint_reports_a_python_hook_that_cannot_be_imported(tree):
    (tree / "python" / "mcp_push" / "hooks" / "feishu_sign.py").write_text("from . import Missing\n")
    [line] = _problems_about(tree, "python/mcp_push/hooks/feishu_sign.py: cannot be imported: ImportError")
    assert "Missing" in line


def test_lint_reports_a_hook_without_a_docstring(tree):
    path = tree / "python" / "mcp_push" / "hooks" / "dingtalk_sign.py"
    text = path.read_text(encoding="utf-8")
    doc = text[text.index('    """`timestamp` (ms)'):text.index('    secret = data.env.get("DD_BOT_SECRET", "")')]
    path.write_text(text.replace(doc, ""), encoding="utf-8")
    assert lint_specs.lint(tree) == ["python/mcp_push/hooks/dingtalk_sign.py: dingtalk_sign has no docstring "
                                     "(spec/README.md's hook table is written from it)"]


def test_lint_reports_hook_parameters_the_function_does_not_take(tree):
    _edit_yaml(tree / "spec" / "channels" / "feishu.yaml",
               lambda d: d.update(hook={"use": "feishu_sign", "secret_var": "FSSECRET", "salt": "x"}))
    assert lint_specs.lint(tree) == [
        "spec/channels/feishu.yaml: hook feishu_sign does not take these parameters (got an unexpected keyword "
        "argument 'salt'); it takes: secret_var"
    ]


def test_lint_reports_a_hook_named_without_the_parameter_it_needs(tree):
    _edit_yaml(tree / "spec" / "channels" / "feishu.yaml", lambda d: d.update(hook="feishu_sign"))
    assert lint_specs.lint(tree) == [
        "spec/channels/feishu.yaml: hook feishu_sign does not take these parameters (missing a required argument: "
        "'secret_var'); it takes: secret_var"
    ]


def test_lint_reports_a_var_parameter_naming_an_env_var_the_spec_lacks(tree):
    _edit_yaml(tree / "spec" / "channels" / "feishu.yaml",
               lambda d: d.update(hook={"use": "feishu_sign", "secret_var": "LARK_SECRET"}))
    assert lint_specs.lint(tree) == [
        "spec/channels/feishu.yaml: hook parameter secret_var: 'LARK_SECRET' is not an env var of this spec"
    ]


def test_the_schema_takes_a_hook_name_or_a_use_with_scalar_parameters():
    schema = json.loads((REPO / "spec" / "channel.schema.json").read_text(encoding="utf-8"))
    hook = jsonschema.Draft202012Validator({**schema["properties"]["hook"], "$defs": schema["$defs"]})
    valid = ["dingtalk_sign", {"use": "feishu_sign", "secret_var": "LARK_SECRET"}, {"use": "x", "n": 1, "on": True}]
    invalid = ["Feishu", "../x", {"secret_var": "X"}, {"use": "feishu_sign", "secret_var": ["X"]},
               {"use": "feishu_sign", "Secret": "X"}]
    assert [hook.is_valid(v) for v in valid] == [True] * len(valid)
    assert [hook.is_valid(v) for v in invalid] == [False] * len(invalid)


def test_lint_reports_a_shared_env_var_with_two_meanings(tree):
    def change(doc):
        doc["env"]["QYWX_ORIGIN"]["default"] = "https://example.com"

    _edit_yaml(tree / "spec" / "channels" / "wecom_bot.yaml", change)
    [line] = _problems_about(tree, "QYWX_ORIGIN")
    assert line.startswith("spec/channels/wecom_bot.yaml: env QYWX_ORIGIN is shared with spec/channels/wecom_app.yaml")
    assert "default 'https://qyapi.weixin.qq.com' there, 'https://example.com' here" in line


def test_lint_accepts_a_shared_env_var_whose_descriptions_differ(tree):
    _edit_yaml(tree / "spec" / "channels" / "wecom_bot.yaml",
               lambda d: d["env"]["QYWX_ORIGIN"].update(description="another wording"))
    assert lint_specs.lint(tree) == []


def test_lint_reports_a_credential_not_marked_secret(tree):
    _edit_yaml(tree / "spec" / "channels" / "gotify.yaml", lambda d: d["env"]["GOTIFY_TOKEN"].pop("secret"))
    assert _problems_about(tree, "spec/channels/gotify.yaml: env GOTIFY_TOKEN looks like a credential")


def test_lint_reports_secret_parts_on_a_var_that_is_not_secret(tree):
    _edit_yaml(tree / "spec" / "channels" / "gotify.yaml",
               lambda d: d["env"]["GOTIFY_URL"].update(secret_parts=["list"]))
    assert _problems_about(tree, "spec/channels/gotify.yaml: env GOTIFY_URL has secret_parts but is not secret: true")


def test_lint_reports_a_composed_secret_without_its_secret_parts(tree):
    def change(data):
        data["env"]["GOTIFY_TOKEN"]["description"] = "Credentials as user:password"

    _edit_yaml(tree / "spec" / "channels" / "gotify.yaml", change)
    assert _problems_about(tree, "env GOTIFY_TOKEN looks composed")
    _edit_yaml(tree / "spec" / "channels" / "gotify.yaml",
               lambda d: d["env"]["GOTIFY_TOKEN"].update(secret_parts=["userinfo"]))
    assert lint_specs.lint(tree) == []


@pytest.mark.parametrize(
    ("name", "credential"),
    [("FSKEY", True), ("PUSH_KEY", True), ("TG_PROXY_AUTH", True), ("SMTP_PASSWORD", True),
     ("SLACK_WEBHOOK_URL", True), ("WEBHOOK_URL", True), ("QMSG_TYPE", False), ("NTFY_USERNAME", False),
     ("WEBHOOK_METHOD", False), ("PUSH_PLUS_WEBHOOK", False), ("GOTIFY_URL", False), ("AIBOTK_TYPE", False)],
)
def test_credential_names_are_told_from_settings(name, credential):
    assert lint_specs.looks_like_credential(name) is credential


def test_lint_reports_a_description_that_yaml_cuts_at_a_comment(tree):
    path = tree / "spec" / "channels" / "gotify.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("description: Application token", "description: Application token #1"), "utf-8")
    assert _problems_about(tree, "spec/channels/gotify.yaml: line 12: the description is cut at ' #'")


def test_lint_reports_a_spec_the_schema_rejects(tree):
    _edit_yaml(tree / "spec" / "channels" / "gotify.yaml", lambda d: d.update(success={"json": [{"path": "id"}]}))
    assert _problems_about(tree, "spec/channels/gotify.yaml: success/json/0:")


def test_lint_reports_a_spec_whose_name_is_not_its_file_name(tree):
    _edit_yaml(tree / "spec" / "channels" / "gotify.yaml", lambda d: d.update(name="gotify2"))
    assert _problems_about(tree, "spec/channels/gotify.yaml: name 'gotify2' must match the file name")


def test_lint_exits_1_with_one_line_per_problem(tree, capsys):
    _edit_yaml(tree / "spec" / "channels" / "gotify.yaml", lambda d: d["env"]["GOTIFY_TOKEN"].pop("secret"))
    shutil.rmtree(tree / "conformance" / "cases" / "feishu")
    assert lint_specs.main(["--root", str(tree)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert all(line.startswith("spec/channels/") for line in lines)


# --- the docs generator ---------------------------------------------------------------------------------

def test_gen_docs_writes_both_files_and_then_check_passes(tree):
    assert gen_docs.main(["--check", "--root", str(tree)]) == 1  # the copy's README lists other channels
    assert gen_docs.main(["--root", str(tree)]) == 0
    assert gen_docs.main(["--check", "--root", str(tree)]) == 0
    doc = (tree / "docs" / "CHANNEL_CONFIG.md").read_text(encoding="utf-8")
    assert all(f'<a id="{name}"></a>' in doc and f"](#{name})" in doc for name in CHANNELS)


def test_gen_docs_names_a_spec_it_cannot_read(tree):
    (tree / "spec" / "channels" / "gotify.yaml").write_text("name: gotify\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="spec/channels/gotify.yaml: cannot be documented"):
        gen_docs.main(["--check", "--root", str(tree)])


def test_gen_docs_output_is_deterministic(tree):
    first = gen_docs.generated(tree)
    assert gen_docs.generated(tree) == first


def test_gen_docs_check_fails_when_channel_config_is_stale(tree, capsys):
    gen_docs.main(["--root", str(tree)])
    _edit_yaml(tree / "spec" / "channels" / "gotify.yaml",
               lambda d: d["env"]["GOTIFY_PRIORITY"].update(description="a new description"))
    assert gen_docs.main(["--check", "--root", str(tree)]) == 1
    # An edited spec also needs validating again: its digest in spec/validated.sha256 is stale too, and so
    # is its parsed form in spec/validated.json.
    assert capsys.readouterr().err.strip().splitlines() == [
        "docs/CHANNEL_CONFIG.md is stale: run python tools/gen_docs.py",
        "spec/validated.sha256 is stale: run python tools/gen_docs.py",
        "spec/validated.json is stale: run python tools/gen_docs.py",
    ]


def test_gen_docs_check_fails_when_the_readme_table_is_stale(tree, capsys):
    gen_docs.main(["--root", str(tree)])
    readme = tree / "README.md"
    readme.write_text(readme.read_text(encoding="utf-8").replace("| [Gotify]", "| [Gotify old]"), encoding="utf-8")
    assert gen_docs.main(["--check", "--root", str(tree)]) == 1
    assert capsys.readouterr().err.strip() == "README.md is stale: run python tools/gen_docs.py"


def test_gen_docs_check_fails_when_channel_config_is_missing(tree):
    gen_docs.main(["--root", str(tree)])
    (tree / "docs" / "CHANNEL_CONFIG.md").unlink()
    assert gen_docs.main(["--check", "--root", str(tree)]) == 1


def test_gen_docs_writes_the_hook_table_from_the_hooks_docstrings(tree, capsys):
    gen_docs.main(["--root", str(tree)])
    path = tree / "python" / "mcp_push" / "hooks" / "dingtalk_sign.py"
    path.write_text(path.read_text(encoding="utf-8").replace(
        '"""`timestamp` (ms), `sign`', '"""`timestamp` (ms, a | in it), `sign`'), encoding="utf-8")
    assert gen_docs.main(["--check", "--root", str(tree)]) == 1
    assert capsys.readouterr().err.strip() == "spec/README.md is stale: run python tools/gen_docs.py"
    gen_docs.main(["--root", str(tree)])
    table = (tree / "spec" / "README.md").read_text(encoding="utf-8").partition(gen_docs.HOOKS_START)[2]
    rows = table.partition(gen_docs.HOOKS_END)[0].strip().splitlines()
    assert rows[4].startswith("| `dingtalk_sign` | — | dingtalk | `timestamp` (ms, a \\| in it), `sign` = Base64(")
    assert [row.split(" | ")[:3] for row in rows[2:]] == [  # every hook file, found by name, with its users
        ["| `" + name + "`", params, users] for name, params, users in (
            ("apprise_targets", "—", "—"), ("chronocat_targets", "—", "—"), ("dingtalk_sign", "—", "dingtalk"),
            ("discord_webhook", "—", "—"),
            ("feishu_sign", "`secret_var`", "feishu"), ("gocqhttp_target", "—", "—"), ("matrix_txn_id", "—", "—"),
            ("ntfy_auth", "—", "—"), ("serverchan_endpoint", "—", "—"), ("smtp_server", "—", "—"),
            ("webhook_request", "—", "—"), ("wecom_app_config", "—", "wecom_app"), ("wxpusher_spt_targets", "—", "—"),
            ("wxpusher_targets", "—", "—"))]


def test_the_repository_hook_table_shows_lark_using_feishu_sign_with_its_own_secret():
    rows = gen_docs.hook_table(REPO, gen_docs.load_specs(REPO)).splitlines()
    assert [row for row in rows[2:] if "lark" in row.split(" | ")[2]] == [
        next(row for row in rows if row.startswith("| `feishu_sign` | `secret_var` | feishu, lark | `timestamp` (s)"))
    ]
    assert not (REPO / "python" / "mcp_push" / "hooks" / "lark_sign.py").exists()
    assert not (REPO / "js" / "src" / "hooks" / "lark_sign.js").exists()


def test_channel_config_shows_secrets_as_placeholders_only(tree):
    gen_docs.main(["--root", str(tree)])
    doc = (tree / "docs" / "CHANNEL_CONFIG.md").read_text(encoding="utf-8")
    assert "export DD_BOT_TOKEN='<your DD_BOT_TOKEN>'" in doc
    assert "9d2f...c4a1" not in doc  # the spec's example for a secret never appears
    assert "| `DD_BOT_SECRET` | no | — | yes |" in doc
    assert "# export QYWX_ORIGIN='https://qyapi.weixin.qq.com'" in doc


def test_channel_config_escapes_what_markdown_would_eat_in_a_table_cell(tree):
    gen_docs.main(["--root", str(tree)])
    doc = (tree / "docs" / "CHANNEL_CONFIG.md").read_text(encoding="utf-8")
    assert "(…/bot/v2/hook/\\<FSKEY>)" in doc  # a bare <FSKEY> is an HTML tag to a Markdown renderer


def test_channel_config_states_limits_with_their_unit(tree):
    gen_docs.main(["--root", str(tree)])
    doc = (tree / "docs" / "CHANNEL_CONFIG.md").read_text(encoding="utf-8")
    dingtalk = doc.partition('<a id="dingtalk"></a>')[2].partition("<a id=")[0]
    assert "- Message size: at most 20000 bytes" in dingtalk
    assert "- Rate: 20 per minute; exceeding it blocks sending for 10 min" in dingtalk
    gotify = doc.partition('<a id="gotify"></a>')[2].partition("<a id=")[0]
    assert "- Rate: not documented by the vendor" in gotify


def test_the_tools_run_as_scripts(tree):
    for args in (["tools/lint_specs.py"], ["tools/gen_docs.py"], ["tools/gen_docs.py", "--check"]):
        done = subprocess.run([sys.executable, *args, "--root", str(tree)], cwd=REPO, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr


# --- tools/conformance.py: the runners and the comparator of conformance/runners --------------------------

SIGNED_DINGTALK = "dingtalk/cases.yaml: signed message"


def _node_gives(monkeypatch, change=None) -> None:
    """Stands in for node_runner.js: Node's outputs are Python's, changed by `change` (no Node needed)."""
    from conformance.runners import python_runner

    def run_cases(cases):
        outputs = {case.id: python_runner.run_case(case) for case in cases}
        for output in outputs.values():
            (change or (lambda _: None))(output)
        return outputs

    monkeypatch.setattr(conformance_tool.node, "run_cases", run_cases)


def test_conformance_counts_the_cases_that_pass(monkeypatch, capsys):
    _node_gives(monkeypatch)
    assert conformance_tool.main(["-k", SIGNED_DINGTALK]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "conformance: 1 cases replayed against python and node", "1 passed, 0 failed"]


def test_conformance_fails_a_runtime_differing_in_one_field_naming_case_runtime_and_field(monkeypatch, capsys):
    def rejected(output):
        output["result"]["channels"][0]["status"] = "rejected"

    _node_gives(monkeypatch, rejected)
    assert conformance_tool.main(["-k", SIGNED_DINGTALK]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"FAIL {SIGNED_DINGTALK}")
    assert lines[1:] == [
        "  [node] result.status: expected 'delivered', got 'rejected'",
        "  [python vs node] result.channels[0].status: python 'delivered', node 'rejected'",
        "conformance: 1 cases replayed against python and node",
        "0 passed, 1 failed",
    ]


# --- spec format 2: the lint names the new keyword for each old one (tools/spec_format.py) ---------------

def test_lint_rejects_a_format_1_when_naming_the_rule_form(tree):
    def change(data):
        data["request"]["body"]["text"]["$when"] = "hook.is_text"
    _edit_yaml(tree / "spec" / "channels" / "wecom_app.yaml", change)
    assert lint_specs.lint(tree) == [
        "spec/channels/wecom_app.yaml: request.body.text: `$when: hook.is_text` is format 1; spec format 2's $when "
        "takes a rule: `$when: {path: hook.is_text, truthy: true}` (or `equals:` instead of a hook's is_* flag)"
    ]


def test_lint_rejects_a_removed_filter_naming_its_replacement(tree):
    _edit_yaml(tree / "spec" / "channels" / "gotify.yaml",
               lambda d: d["request"]["body"].update(title="{{ title|to_json }}"))
    assert lint_specs.lint(tree) == [
        "spec/channels/gotify.yaml: request.body.title: the filter `to_json` was removed in spec format 2: "
        "use the body form {$json: …}"
    ]


def test_lint_rejects_the_query_encoding_naming_none(tree):
    _edit_yaml(tree / "spec" / "channels" / "gotify.yaml", lambda d: d["request"].update(encoding="query"))
    assert lint_specs.lint(tree) == [
        "spec/channels/gotify.yaml: request: encoding `query` was removed in spec format 2: use `none` "
        "(query fields go in `query`)"
    ]


def test_lint_rejects_an_edit_request_that_repeats_the_request(tree):
    def change(data):
        data["edit"] = {"ref": "id", "request": {"method": data["request"]["method"], "url": "{{ ref }}",
                                                  "body": {"title": data["request"]["body"]["title"]}}}
    _edit_yaml(tree / "spec" / "channels" / "gotify.yaml", change)
    assert lint_specs.lint(tree) == [
        "spec/channels/gotify.yaml: edit.request repeats request (edit.request.method, edit.request.body.title): "
        "in spec format 2 edit.request is an override merged onto request; drop what it repeats"
    ]


def test_lint_rejects_a_settings_file_of_format_1(tree):
    settings = tree / "spec" / "settings.yaml"
    settings.write_text(settings.read_text(encoding="utf-8").replace("spec_format: 2\n", ""), encoding="utf-8")
    assert _problems_about(tree, "spec/settings.yaml: spec_format is 1; these tools read spec format 2")


def test_every_template_filter_is_used_by_a_channel():
    # A filter no spec uses is vocabulary to learn and code to keep in step in two runtimes: remove it.
    from mcp_push.templates import FILTERS

    counts, _ = _tool("vocab_inventory").inventory()
    assert sorted(name for name in FILTERS if not counts[f"filter {name}"]) == []


def test_lint_rejects_a_channel_retry_policy_naming_settings(tree):
    _edit_yaml(tree / "spec" / "channels" / "gotify.yaml", lambda d: d.update(retry={"attempts": 2}))
    assert lint_specs.lint(tree) == [
        "spec/channels/gotify.yaml: retry.attempts was removed in spec format 2: the retry policy is settings.yaml's "
        "`retry`, the same for every channel"
    ]


def test_lint_rejects_a_priority_that_breaks_the_variable_it_sets(tree):
    def change(data):
        data["priority"] = {"low": {"env": {"GOTIFY_PRIORITY": "11", "GOTIFY_PRIO": "1"}}, "high": {"body": {"x": 1}}}
    _edit_yaml(tree / "spec" / "channels" / "gotify.yaml", change)
    assert lint_specs.lint(tree) == [
        "spec/channels/gotify.yaml: priority.low.env: GOTIFY_PRIORITY: must be an integer from 0 to 10",
        "spec/channels/gotify.yaml: priority.low.env: GOTIFY_PRIO is not a variable of this channel",
    ]
