"""Contributor tooling: the new-channel scaffold, the spec lint and the docs generator, each run on a
temporary copy of the repository (`--root`) so a test can break it on purpose."""

from __future__ import annotations

import importlib.util
import json
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
    """A small copy of the repository: the schemas, settings, a few finished channels and both hook folders."""
    for name in ("spec/channel.schema.json", "spec/settings.yaml", "conformance/case.schema.json", "README.md"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / name, tmp_path / name)
    for channel in CHANNELS:
        (tmp_path / "spec" / "channels").mkdir(exist_ok=True)
        shutil.copy(REPO / "spec" / "channels" / f"{channel}.yaml", tmp_path / "spec" / "channels")
        shutil.copytree(REPO / "conformance" / "cases" / channel, tmp_path / "conformance" / "cases" / channel)
    shutil.copytree(REPO / "python" / "mcp_push" / "hooks", tmp_path / "python" / "mcp_push" / "hooks",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "js" / "src" / "hooks", tmp_path / "js" / "src" / "hooks")
    return tmp_path


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


def test_the_scaffold_with_a_hook_writes_both_stubs_and_registers_them(tree):
    new_channel.main(["acme_bot", "--hook", "acme_bot_sign", "--root", str(tree)])
    assert lint_specs.python_hooks(tree)["acme_bot_sign"] == "acme_bot"
    assert lint_specs.js_hooks(tree)["acme_bot_sign"] == "acme_bot"
    py_ok, js_ok, problems = lint_specs.hook_problems(tree)
    assert "acme_bot_sign" in py_ok & js_ok
    assert problems == []
    compile((tree / "python" / "mcp_push" / "hooks" / "acme_bot.py").read_text(encoding="utf-8"), "acme_bot.py", "exec")
    assert yaml.safe_load((tree / "spec" / "channels" / "acme_bot.yaml").read_text(encoding="utf-8"))["hook"] == (
        "acme_bot_sign"
    )


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_scaffolded_node_hook_loads_through_the_registry(tree):
    new_channel.main(["acme_bot", "--hook", "acme_bot_sign", "--root", str(tree)])
    script = "console.log(JSON.stringify(require('./index').runHook('acme_bot_sign', {env: {}, now: 0})))"
    out = subprocess.run(["node", "-e", script], cwd=tree / "js" / "src" / "hooks", capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "{}"


def test_the_scaffold_refuses_to_overwrite_an_existing_channel(tree):
    before = (tree / "spec" / "channels" / "gotify.yaml").read_text(encoding="utf-8")
    with pytest.raises(SystemExit, match="refusing to overwrite spec/channels/gotify.yaml"):
        new_channel.main(["gotify", "--root", str(tree)])
    assert (tree / "spec" / "channels" / "gotify.yaml").read_text(encoding="utf-8") == before


def test_the_scaffold_refuses_a_hook_name_already_registered(tree):
    with pytest.raises(SystemExit, match="already registered"):
        new_channel.main(["acme_bot", "--hook", "feishu_sign", "--root", str(tree)])
    assert not (tree / "spec" / "channels" / "acme_bot.yaml").exists()


@pytest.mark.parametrize("name", ["Acme", "1acme", "acme-bot", "acme bot", ""])
def test_the_scaffold_refuses_a_name_that_is_not_a_channel_id(tree, name):
    with pytest.raises(SystemExit, match="must match"):
        new_channel.main([name, "--root", str(tree)])
    assert sorted(p.stem for p in (tree / "spec" / "channels").glob("*.yaml")) == sorted(CHANNELS)


# --- the spec lint --------------------------------------------------------------------------------------

def test_lint_passes_on_the_repository():
    assert lint_specs.lint(REPO) == []


def test_lint_passes_on_the_clean_copy(tree):
    assert lint_specs.lint(tree) == []


def test_lint_reports_a_scaffolded_spec_until_its_todos_are_gone(tree):
    new_channel.main(["acme_bot", "--root", str(tree)])
    assert _problems_about(tree, "spec/channels/acme_bot.yaml: 14 TODO left from the scaffold")
    assert _problems_about(tree, "conformance/cases/acme_bot/cases.yaml:")


def test_lint_reports_a_channel_with_fewer_than_three_cases(tree):
    _edit_yaml(tree / "conformance" / "cases" / "gotify" / "cases.yaml", lambda d: d.update(cases=d["cases"][:2]))
    assert _problems_about(tree, "spec/channels/gotify.yaml: 2 conformance case(s) in conformance/cases/gotify/")


def test_lint_reports_a_channel_without_a_cases_folder(tree):
    shutil.rmtree(tree / "conformance" / "cases" / "gotify")
    assert _problems_about(tree, "spec/channels/gotify.yaml: 0 conformance case(s)")


def test_lint_reports_a_hook_that_neither_runtime_has(tree):
    _edit_yaml(tree / "spec" / "channels" / "gotify.yaml", lambda d: d.update(hook="gotify_sign"))
    assert _problems_about(tree, "spec/channels/gotify.yaml: hook gotify_sign is missing in Python and Node")


def test_lint_reports_a_hook_missing_in_node(tree):
    index = tree / "js" / "src" / "hooks" / "index.js"
    text = index.read_text(encoding="utf-8")
    index.write_text(text.replace("  feishu_sign: () => require('./feishu').feishu_sign,\n", ""), encoding="utf-8")
    assert _problems_about(tree, "spec/channels/feishu.yaml: hook feishu_sign is missing in Node")
    assert _problems_about(tree, "hooks/__init__.py: hook feishu_sign has no Node twin in js/src/hooks/index.js")


def test_lint_reports_a_registered_hook_its_module_does_not_define(tree):
    (tree / "python" / "mcp_push" / "hooks" / "feishu.py").write_text("def other(data):\n    return {}\n")
    assert _problems_about(tree, "hooks/__init__.py: hook feishu_sign is registered but feishu.py lacks it")
    assert _problems_about(tree, "spec/channels/feishu.yaml: hook feishu_sign is missing in Python")


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
    # An edited spec also needs validating again: its digest in spec/validated.sha256 is stale too.
    assert capsys.readouterr().err.strip().splitlines() == [
        "docs/CHANNEL_CONFIG.md is stale: run python tools/gen_docs.py",
        "spec/validated.sha256 is stale: run python tools/gen_docs.py",
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
