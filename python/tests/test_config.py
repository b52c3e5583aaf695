"""config.py: the words that switch a boolean setting off."""

from __future__ import annotations

import pytest

from mcp_push.config import is_true


@pytest.mark.parametrize("value", ["false", "False", "0", "no", "off", ""])
def test_false_words(value):
    assert is_true(value) is False


def test_a_setting_is_read_through_its_declaration():
    """config.setting: the value, else spec/settings.yaml's default, checked against the declared type as
    '<VAR>: <rule>'; a name settings.yaml does not declare is a bug (KeyError)."""
    from mcp_push.config import ConfigError, setting

    assert setting("MCP_PUSH_HTTP_MAX_BODY", {}) == "1048576"
    assert setting("MCP_PUSH_TOOL_NAMES", {"MCP_PUSH_TOOL_NAMES": " Dotted "}) == " Dotted "
    with pytest.raises(ConfigError, match=r"^MCP_PUSH_CHANNEL_TOOLS: must be true or false$|^MCP_PUSH_TOOL_NAMES"):
        setting("MCP_PUSH_TOOL_NAMES", {"MCP_PUSH_TOOL_NAMES": "both"})
    with pytest.raises(ConfigError, match=r"^MCP_PUSH_HTTP_IDLE_TIMEOUT: must be a number of seconds above 0$"):
        setting("MCP_PUSH_HTTP_IDLE_TIMEOUT", {"MCP_PUSH_HTTP_IDLE_TIMEOUT": "1e3"})
    with pytest.raises(KeyError, match="MCP_PUSH_NOPE: not declared in spec/settings.yaml"):
        setting("MCP_PUSH_NOPE", {})


def test_every_mcp_push_variable_the_python_code_names_is_declared_in_settings_yaml():
    import re

    from mcp_push.specs import load_settings

    from .mcp_helpers import REPO

    named = set()
    for path in (REPO / "python" / "mcp_push").rglob("*.py"):
        named.update(re.findall(r"\bMCP_PUSH_[A-Z0-9_]*[A-Z0-9]\b", path.read_text(encoding="utf-8")))
    assert sorted(named - set(load_settings()["env"])) == []
