"""specs.py: every channel's spec loads and is valid, hooks named in specs exist, credentials are marked
secret, and a broken spec is refused naming the field."""

from __future__ import annotations

import copy

import pytest
import yaml

from mcp_push.hooks import get_hook
from mcp_push.specs import SpecError, load_channels, spec_dir, validate_spec

QINGLONG_CHANNELS = {
    "bark", "console", "dingtalk", "feishu", "gocqhttp", "gotify", "igot", "serverchan", "pushdeer",
    "synology_chat", "pushplus", "weplus", "qmsg", "wecom_app", "wecom_bot", "telegram", "aibotk", "smtp",
    "pushme", "chronocat", "ntfy", "wxpusher", "wxpusher_spt", "openilink", "webhook",
}


def test_every_qingLong_channel_has_a_valid_spec():
    assert QINGLONG_CHANNELS <= set(load_channels())


def test_every_hook_named_in_a_spec_exists():
    for spec in load_channels().values():
        if spec.hook:
            assert callable(get_hook(spec.hook)), spec.name


def test_every_credential_env_var_is_marked_secret():
    words = ("TOKEN", "SECRET", "PASSWORD", "KEY", "_AM")
    for spec in load_channels().values():
        for name, var in spec.env.items():
            # A Google Chat thread key names a thread; it grants nothing.
            if any(word in name for word in words) and name not in ("NTFY_USERNAME", "GOOGLE_CHAT_THREAD_KEY"):
                assert var.secret, f"{spec.name}: {name} looks like a credential but is not secret: true"


def test_an_invalid_spec_is_rejected_with_the_field_named():
    doc = yaml.safe_load((spec_dir() / "channels" / "dingtalk.yaml").read_text(encoding="utf-8"))
    broken = copy.deepcopy(doc)
    broken["success"]["json"][0] = {"path": "errcode", "equal": 0}
    with pytest.raises(SpecError, match=r"dingtalk.yaml: success/json/0"):
        validate_spec(broken, "spec/channels/dingtalk.yaml")


def test_a_spec_activated_by_an_undeclared_env_var_is_rejected():
    doc = yaml.safe_load((spec_dir() / "channels" / "dingtalk.yaml").read_text(encoding="utf-8"))
    doc["active_when"] = ["DD_TOKEN_TYPO"]
    with pytest.raises(SpecError, match="DD_TOKEN_TYPO"):
        validate_spec(doc, "spec/channels/dingtalk.yaml")


def test_specs_validated_by_gen_docs_skip_the_schema_check_and_edited_ones_do_not(tmp_path, monkeypatch):
    import shutil

    from mcp_push import specs as specs_module

    copy = tmp_path / "spec"
    shutil.copytree(spec_dir(), copy)
    assert specs_module._validated_before(copy)  # tools/gen_docs.py recorded the current files
    broken = copy / "channels" / "dingtalk.yaml"
    broken.write_text(broken.read_text(encoding="utf-8").replace("display_name:", "display_nam:"), encoding="utf-8")
    assert not specs_module._validated_before(copy)
    monkeypatch.setenv("MCP_PUSH_SPEC_DIR", str(copy))
    specs_module.load_channels.cache_clear()
    try:
        with pytest.raises(SpecError, match="dingtalk.yaml"):
            specs_module.load_channels()
    finally:
        specs_module.load_channels.cache_clear()


# --- spec/validated.json: the validated specs, parsed (spec/README.md, "The parsed specs") -------------


@pytest.fixture
def spec_copy(tmp_path, monkeypatch):
    """A copy of spec/ that the loader reads (MCP_PUSH_SPEC_DIR), its caches cleared before and after."""
    import shutil

    from mcp_push import specs as specs_module

    copy = tmp_path / "spec"
    shutil.copytree(spec_dir(), copy)
    monkeypatch.setenv("MCP_PUSH_SPEC_DIR", str(copy))
    specs_module.clear_caches()
    yield copy
    specs_module.clear_caches()


def _replace(path, old, new):
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_current_parsed_specs_are_what_the_loader_reads(spec_copy):
    from mcp_push import specs as specs_module

    # Changed in the JSON only, its digest kept: had the YAML been read, the name would be ntfy's own.
    _replace(spec_copy / "validated.json", '"display_name":"ntfy"', '"display_name":"ntfy from the JSON"')
    assert specs_module.load_channel("ntfy").display_name == "ntfy from the JSON"


def test_stale_parsed_specs_are_ignored_when_a_spec_changed(spec_copy):
    from mcp_push import specs as specs_module

    _replace(spec_copy / "validated.json", '"display_name":"ntfy"', '"display_name":"ntfy from the JSON"')
    _replace(spec_copy / "channels" / "ntfy.yaml", "display_name: ntfy", "display_name: ntfy edited")
    assert specs_module.load_channel("ntfy").display_name == "ntfy edited"


def test_an_unreadable_parsed_file_is_ignored(spec_copy):
    from mcp_push import specs as specs_module

    (spec_copy / "validated.json").write_text('<<<<<<< HEAD\n{"digest":\n', encoding="utf-8")  # a merge conflict
    assert specs_module.load_channel("ntfy").display_name == "ntfy"


def test_a_parsed_file_that_is_not_utf8_is_ignored(spec_copy):
    from mcp_push import specs as specs_module

    path = spec_copy / "validated.json"
    path.write_bytes(path.read_bytes().replace(b'"display_name":"ntfy"', b'"display_name":"ntfy \xff"', 1))
    assert specs_module.load_channel("ntfy").display_name == "ntfy"


@pytest.mark.parametrize("changed", ["settings.yaml", "templates/event.yaml", "channel.schema.json"])
def test_parsed_specs_are_stale_when_settings_templates_or_the_schema_change(spec_copy, changed):
    from mcp_push import specs as specs_module

    _replace(spec_copy / "validated.json", '"display_name":"ntfy"', '"display_name":"ntfy from the JSON"')
    with (spec_copy / changed).open("a", encoding="utf-8") as fh:
        fh.write("\n" if changed.endswith(".json") else "\n# edited\n")
    assert specs_module.load_channel("ntfy").display_name == "ntfy"


def test_a_stale_parsed_file_with_a_broken_spec_reports_the_spec(spec_copy):
    from mcp_push import specs as specs_module

    _replace(spec_copy / "channels" / "dingtalk.yaml", "display_name:", "display_nam:")
    with pytest.raises(SpecError, match="dingtalk.yaml"):
        specs_module.load_channel("ntfy")  # every channel is validated when the YAML is read


def test_values_json_cannot_carry_are_refused_when_the_parsed_specs_are_written(spec_copy):
    from mcp_push import specs as specs_module

    with (spec_copy / "settings.yaml").open("a", encoding="utf-8") as fh:
        fh.write("released: 2026-12-01\n")  # YAML reads a date
    with pytest.raises(SpecError, match="JSON cannot carry"):
        specs_module.parsed_json(spec_copy)


def test_a_send_reads_no_yaml_and_builds_only_the_configured_channels():
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from mcp_push import plan\n"
        "from mcp_push import specs\n"
        "entries = plan('t', 'c', env={'NTFY_TOPIC': 'x', 'HITOKOTO': 'false'})\n"
        "print([e['channel'] for e in entries], 'yaml' in sys.modules, sorted(specs._cache['source']['specs']))\n"
    )
    env = {"PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.split("\n")[0] == "['ntfy'] False ['ntfy']", out.stderr
