"""The head of a request (method, URL with its query, headers, proxy) when its templates read nothing but
the settings (`env`) and the token mark: then it is the same for every message under those settings, so
the planner renders it once per channel setup (channel_setup.py) and keeps it there with its masked form.
A template that names anything else (the message, a hook's values, an item, a ref), uses a construct
this module does not know, or a `$ref`/`$when` form is rendered per message as before."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# The names a settings-only template may read: the settings, the token mark (fixed per spec and
# template), jinja's own words. Filters (after `|`) and attributes (after `.`) are not names: FILTERS
# are pure functions of their input.
_ALLOWED_NAMES = frozenset({"env", "token", "if", "elif", "else", "endif", "and", "or", "not", "in", "is",
                            "true", "false", "none", "True", "False", "None"})
_STATEMENTS = frozenset({"if", "elif", "else", "endif"})
_BLOCK = re.compile(r"\{\{(.*?)\}\}|\{%(.*?)%\}", re.S)
_STRING = re.compile(r"'[^'\\]*'|\"[^\"\\]*\"")
_JOINED = re.compile(r"\s*([|.])\s*")
_NAME = re.compile(r"(?<![\w.|])[A-Za-z_]\w*")


@functools.lru_cache(maxsize=2048)
def settings_only(source: str) -> bool:
    """Whether a template's output depends on nothing but `env` and `token` (conservative: unsure is no)."""
    if "{#" in source:
        return False
    rest = _BLOCK.sub("", source)
    if "{{" in rest or "{%" in rest:
        return False  # an unclosed or odd block: not understood
    for match in _BLOCK.finditer(source):
        statement = match.group(2) is not None
        body = _STRING.sub(" 0 ", match.group(2) if statement else match.group(1))
        if "'" in body or '"' in body:
            return False  # a quote the string pattern did not close (escapes): not understood
        body = _JOINED.sub(r"\1", body.strip("-+ \t\r\n"))
        names = _NAME.findall(body)
        if statement and (not names or names[0] not in _STATEMENTS):
            return False
        if any(name not in _ALLOWED_NAMES for name in names):
            return False
    return True


def _map_settings_only(node: Any) -> bool:
    if not node:
        return True
    if not isinstance(node, Mapping) or "$ref" in node:
        return False
    for child in node.values():
        if isinstance(child, Mapping) and set(child) == {"$optional"}:
            child = child["$optional"]
        if not (isinstance(child, str) and settings_only(child)):
            return False
    return True


def template_settings_only(template: Mapping[str, Any]) -> bool:
    """Whether a request template's head (method, url, query, headers, proxy) reads only the settings."""
    method, url, proxy = template.get("method"), template.get("url"), template.get("proxy")
    return (
        isinstance(method, str) and settings_only(method)
        and isinstance(url, str) and settings_only(url)
        and (not proxy or (isinstance(proxy, str) and settings_only(proxy)))
        and _map_settings_only(template.get("query"))
        and _map_settings_only(template.get("headers"))
    )


@dataclass(frozen=True)
class RequestHead:
    template: Mapping[str, Any]  # held, so the id in the key cannot be another template's while the entry lives
    token: Any  # the token value it was rendered with
    method: str
    base: str  # the URL before the query is appended (token slots split there)
    url: str
    headers: dict[str, str]  # before the body's Content-Type: copy it before handing it out
    proxy: str
