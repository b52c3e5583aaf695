"""The install docs and host configurations are what a user copies: every JSON block must parse, every
host configuration must start a command the package really installs, and no example may switch a
channel on with a made-up credential (a placeholder token turns a channel on that can only fail)."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path, PureWindowsPath

import pytest

from mcp_push.specs import load_channels

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
INTEGRATION = ROOT / "docs" / "MCP_INTEGRATION.md"
# Text that only a placeholder contains: "your-token", "xxx", "<token>", "…", "...", example hosts.
PLACEHOLDER = re.compile(
    r"your|xxx|<|>|…|\.\.\.|\bexample\.(com|org|net)\b|changeme|change-me|replace|todo|placeholder|\*\*\*", re.I
)
# A value the host fills in: ${VAR}, ${VAR:-}, ${env:VAR}, ${input:id} (JSON); $VAR, "$VAR" (shell).
REFERENCE = re.compile(r"^\$\{(env:|input:)?[A-Za-z_][\w.-]*(:-[^}]*)?\}$|^\$[A-Za-z_]\w*$")


def console_scripts() -> set[str]:
    """[project.scripts] of pyproject.toml."""
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    try:
        import tomllib
    except ImportError:  # Python 3.10: the section is a flat `name = "module:function"` table
        section = text.split("[project.scripts]", 1)[1].split("\n[", 1)[0]
        return set(re.findall(r'^\s*"?([\w.-]+)"?\s*=', section, re.M))
    return set(tomllib.loads(text)["project"]["scripts"])


def channel_variables() -> set[str]:
    return {name for spec in load_channels().values() for name in spec.env}


def fenced_blocks(path: Path, language: str) -> list[tuple[int, str]]:
    """(line number, text) of each ```language block in a markdown file."""
    blocks, current, start = [], None, 0
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if current is None and line.strip() == f"```{language}":
            current, start = [], number
        elif current is not None and line.strip() == "```":
            blocks.append((start, "\n".join(current)))
            current = None
        elif current is not None:
            current.append(line)
    return blocks


def parse_json_block(text: str) -> list:
    """One JSON document, or one per line (tool calls listed one a line)."""
    try:
        return [json.loads(text)]
    except json.JSONDecodeError:
        return [json.loads(line) for line in text.splitlines() if line.strip()]


def host_configs() -> list[tuple[str, dict]]:
    """(where, server entry) for each server in a docs JSON block that is a host configuration."""
    found = []
    for path in DOCS:
        for line, text in fenced_blocks(path, "json"):
            for document in parse_json_block(text):
                if not isinstance(document, dict):
                    continue
                for key in ("mcpServers", "servers"):
                    for name, server in document.get(key, {}).items():
                        found.append((f"{path.name}:{line} {name}", server))
    return found


def command_runs_console_script(command: str, args: list[str], scripts: set[str]) -> bool:
    """`mcp-push` (bare or by absolute path), `uvx --from <checkout> mcp-push`, or `python -m mcp_push`."""
    program = PureWindowsPath(command).name  # splits on both / and \
    program = re.sub(r"\.exe$", "", program)
    if program in scripts:
        return True
    if program == "uvx":
        return len(args) >= 3 and args[0] == "--from" and args[2] in scripts
    return program.startswith("python") and args[:2] == ["-m", "mcp_push"]


def check_env_value(where: str, name: str, value: str, channel_vars: set[str]) -> list[str]:
    problems = []
    if PLACEHOLDER.search(value):
        problems.append(f"{where}: {name}={value!r} looks like a placeholder")
    if name in channel_vars and value and not REFERENCE.match(value):
        problems.append(f"{where}: {name}={value!r} turns a channel on with a made-up value (use empty or a reference)")
    return problems


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_every_json_block_in_the_docs_parses(path):
    for line, text in fenced_blocks(path, "json"):
        try:
            parse_json_block(text)
        except json.JSONDecodeError as error:
            pytest.fail(f"{path.name}:{line}: invalid JSON: {error}")


def test_host_configs_cover_each_host_and_run_a_declared_console_script():
    scripts = console_scripts()
    assert scripts == {"mcp-push"}  # the name every example below is checked against
    configs = [(where, server) for where, server in host_configs() if "command" in server]
    text = INTEGRATION.read_text(encoding="utf-8")
    for host in ("### Claude Desktop", "### Claude Code", "### Cursor", "### VS Code"):
        assert host in text
    # Claude Desktop (2), Claude Code's .mcp.json, Cursor, VS Code.
    assert len(configs) >= 5, [where for where, _ in configs]
    wrong = [
        f"{where}: {server['command']} {server.get('args', [])}"
        for where, server in configs
        if not command_runs_console_script(server["command"], server.get("args", []), scripts)
    ]
    assert wrong == []


def test_host_configs_never_switch_a_channel_on_with_a_placeholder():
    channel_vars = channel_variables()
    problems = []
    for where, server in host_configs():
        for name, value in server.get("env", {}).items():
            problems += check_env_value(where, name, value, channel_vars)
        for name, value in server.get("headers", {}).items():
            if PLACEHOLDER.search(value):
                problems.append(f"{where}: header {name}={value!r} looks like a placeholder")
    assert problems == []


def test_claude_code_commands_run_the_console_script_and_take_credentials_from_the_shell():
    scripts, channel_vars = console_scripts(), channel_variables()
    adds = [
        line for _, text in fenced_blocks(INTEGRATION, "sh") for line in text.splitlines() if "claude mcp add" in line
    ]
    stdio = [line for line in adds if " -- " in line]
    assert stdio, "no `claude mcp add ... -- <command>` example"
    problems = []
    for line in stdio:
        words = shlex.split(line, posix=False)
        options, command = words[: words.index("--")], words[words.index("--") + 1 :]
        if not command_runs_console_script(command[0], command[1:], scripts):
            problems.append(f"{line}: runs {command}")
        for flag, setting in zip(options, options[1:], strict=False):
            if flag in ("--env", "-e"):
                name, _, value = setting.partition("=")
                problems += check_env_value(line, name, value.strip('"'), channel_vars)
    assert problems == []


def test_the_placeholder_checks_catch_what_the_old_examples_had():
    """The rules above are only worth something if they refuse a placeholder and a literal credential."""
    channel_vars = channel_variables()
    assert check_env_value("x", "DD_BOT_TOKEN", "…", channel_vars)
    assert check_env_value("x", "DD_BOT_SECRET", "SEC…", channel_vars)
    assert check_env_value("x", "NTFY_URL", "https://ntfy.example.com", channel_vars)
    assert check_env_value("x", "NTFY_TOPIC", "my-agent-alerts", channel_vars)
    assert check_env_value("x", "TG_BOT_TOKEN", "your-token", channel_vars)
    for fine in ("", "${env:TG_BOT_TOKEN}", "${input:ntfy-token}", "${NTFY_TOPIC:-}", "$NTFY_TOPIC"):
        assert check_env_value("x", "NTFY_TOPIC", fine, channel_vars) == []
    assert check_env_value("x", "HITOKOTO", "false", channel_vars) == []
    assert not command_runs_console_script("/usr/local/bin/notify", [], {"mcp-push"})
    assert command_runs_console_script("/Users/me/.local/bin/mcp-push", [], {"mcp-push"})
    assert command_runs_console_script(r"C:\Users\me\.local\bin\mcp-push.exe", [], {"mcp-push"})
    assert command_runs_console_script("uvx", ["--from", "/src/mcp-push", "mcp-push"], {"mcp-push"})
    assert not command_runs_console_script("uvx", ["mcp-push"], {"mcp-push"})  # PyPI's mcp-push, not this checkout


def test_license_is_the_mit_license_that_pyproject_and_package_json_declare():
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License\n")
    assert "Permission is hereby granted, free of charge" in text
    assert re.search(r'^license = "MIT"$', (ROOT / "pyproject.toml").read_text(encoding="utf-8"), re.M)
    assert json.loads((ROOT / "js" / "package.json").read_text(encoding="utf-8"))["license"] == "MIT"
