"""python/mcp_push/service/: the Python-only service holds no channel-specific logic (issue 12: what a
channel needs lives in its spec and hooks)."""

from __future__ import annotations

import ast
import io
import tokenize

from mcp_push.specs import load_channels

from .mcp_helpers import REPO

SERVICE = REPO / "python" / "mcp_push" / "service"


def channel_ids_in_code(source: str, ids: set[str]) -> list[str]:
    """Channel ids the code uses as a name or as a whole string literal (prose that names vendors, in
    docstrings and descriptions, is not logic)."""
    found = []
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.NAME and token.string.lower() in ids:
            found.append(token.string)
        elif token.type == tokenize.STRING:
            try:
                value = ast.literal_eval(token.string)
            except (ValueError, SyntaxError):
                continue
            if isinstance(value, str) and value.strip().lower() in ids:
                found.append(value)
    return found


def test_the_finder_sees_a_channel_id_used_as_code():
    ids = set(load_channels())
    assert channel_ids_in_code('if spec.name == "smtp":\n    ntfy = 1\n', ids) == ["smtp", "ntfy"]
    assert channel_ids_in_code('"""Pushes to ntfy and DingTalk."""\n', ids) == []


def test_no_service_module_names_a_channel():
    ids = set(load_channels())
    found = {path.name: hits for path in sorted(SERVICE.glob("*.py"))
             if (hits := channel_ids_in_code(path.read_text(encoding="utf-8"), ids))}
    assert found == {}
