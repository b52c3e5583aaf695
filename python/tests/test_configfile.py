"""The routing config file (configfile.py): where it is found, how it is checked, the instances it makes;
conformance/cases/config/ pins the plans and the error wording in both runtimes."""

from __future__ import annotations

import os

import pytest

from mcp_push import plan
from mcp_push.api import dispatch
from mcp_push.configfile import ConfigFileError, config_path, inline_secrets, load_config, parse_config

THREE = """\
channels:
  ops-a: {type: dingtalk, env: {DD_BOT_TOKEN: "${OPS_A_TOKEN}"}, tags: [oncall]}
  ops-b: {type: dingtalk, env: {DD_BOT_TOKEN: tok_inline_0002}, tags: [oncall]}
  me: {type: telegram, env: {TG_BOT_TOKEN: "${TG_TOKEN}", TG_USER_ID: "42"}}
"""


def test_no_file_anywhere_means_no_config(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert config_path({}) is None
    assert load_config({}) is None


def test_the_variable_wins_then_the_working_folder_then_the_user_folder(tmp_path, monkeypatch):
    user = tmp_path / "config" / "mcp-push"
    user.mkdir(parents=True)
    (user / "mcp-push.yaml").write_text("{}\n")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    assert config_path({}) == user / "mcp-push.yaml"
    (work / "mcp-push.yaml").write_text("{}\n")
    assert config_path({}) == work / "mcp-push.yaml"
    named = tmp_path / "named.yaml"
    named.write_text("{}\n")
    assert config_path({"MCP_PUSH_CONFIG": str(named)}) == named


def test_a_named_file_that_is_not_there_is_an_error():
    with pytest.raises(ConfigFileError, match="MCP_PUSH_CONFIG: no file at /nowhere/mcp-push.yaml"):
        config_path({"MCP_PUSH_CONFIG": "/nowhere/mcp-push.yaml"})


def test_instances_read_their_own_settings_and_the_environment_only_through_references(tmp_path):
    path = tmp_path / "mcp-push.yaml"
    path.write_text(THREE)
    env = {"MCP_PUSH_CONFIG": str(path), "OPS_A_TOKEN": "tok_ref_0001", "TG_TOKEN": "1:tg", "DD_BOT_TOKEN": "tok_env",
           "HITOKOTO": "false"}
    planned = plan("t", "c", env=env, now=1700000000, redact=False)
    assert [(e["channel"], e["url"].split("?")[-1]) for e in planned if e["channel"].startswith("ops")] == [
        ("ops-a", "access_token=tok_ref_0001"), ("ops-b", "access_token=tok_inline_0002")]
    # DD_BOT_TOKEN in the environment is the env-configured dingtalk, an instance of its own.
    assert [e["channel"] for e in planned] == ["ops-a", "ops-b", "me", "dingtalk"]


def test_a_changed_file_is_read_again(tmp_path):
    path = tmp_path / "mcp-push.yaml"
    path.write_text(THREE)
    first = load_config({"MCP_PUSH_CONFIG": str(path)})
    assert list(first.channels) == ["ops-a", "ops-b", "me"]
    path.write_text("channels:\n  solo: {type: ntfy, env: {NTFY_TOPIC: t}}\n")
    os.utime(path, ns=(1, 1))
    assert list(load_config({"MCP_PUSH_CONFIG": str(path)}).channels) == ["solo"]


def test_a_file_that_cannot_be_used_sends_nothing_and_says_why_in_one_result(tmp_path):
    path = tmp_path / "mcp-push.yaml"
    path.write_text("channels:\n  me: {type: telegrm}\n")
    result = dispatch("t", "c", {"MCP_PUSH_CONFIG": str(path), "NTFY_TOPIC": "t", "HITOKOTO": "false"})
    assert not result
    [only] = result.channels
    assert (only.channel, only.status) == ("config", "config_error")
    assert only.error == f"{path}:2: channels.me.type: unknown channel 'telegrm'"


def test_text_that_is_no_yaml_names_its_line():
    with pytest.raises(ConfigFileError, match=r"^x.yaml:3: not valid YAML: "):
        parse_config("channels:\n  a: [\n", "x.yaml")


def test_inline_secrets_are_warned_about_and_references_are_not():
    config = parse_config(THREE, "mcp-push.yaml")
    assert inline_secrets(config) == [
        'mcp-push.yaml:3: channels.ops-b.env.DD_BOT_TOKEN: a secret written into the file; better '
        '"${DD_BOT_TOKEN}" and the value in the environment']
