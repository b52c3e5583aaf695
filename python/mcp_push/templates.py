"""Renders spec templates and body trees in a sandbox.

Only the subset that nunjucks renders identically is used: variables, `if`, and the filters below,
which the Node runtime registers under the same names. Values are data: a `{{ x }}` inside a title or
content is never evaluated, because templates come from specs and values only fill them.
"""

from __future__ import annotations

import base64
import functools
import re
from typing import Any

from .paths import resolve_path
from .success import value_passes
from .wire import pct, to_json


def _b64(value: str) -> str:
    return base64.b64encode(str(value).encode("utf-8")).decode("ascii")


def _rfc2047(value: str) -> str:
    """An encoded-word header value (RFC 2047, UTF-8, base64); empty stays empty."""
    value = str(value)
    return f"=?utf-8?B?{_b64(value)}?=" if value else ""


def _replace_all(value: str, old: str, new: str) -> str:
    return str(value).replace(old, new)


def _nl2br(value: str) -> str:
    return str(value).replace("\r\n", "\n").replace("\n", "<br/>")


def _startswith(value: str, prefix: str) -> bool:
    return str(value).startswith(prefix)


def _rstrip(value: str, chars: str = " ") -> str:
    return str(value).rstrip(chars)


# Every character str.splitlines() breaks at (CR, LF, VT, FF, FS, GS, RS, NEL, U+2028, U+2029): the
# e-mail library refuses any of them in a header, and a receiver may break the line there.
# Compiled at the first one_line (e-mail subjects): a process that sends no e-mail never needs it.
@functools.cache
def line_breaks() -> re.Pattern[str]:
    return re.compile("\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")


def _one_line(value: str) -> str:
    """Line breaks (CRLF counts as one) become spaces: for header fields such as an e-mail subject."""
    return line_breaks().sub(" ", str(value))


def _chars(value: str) -> int:
    """Length in Unicode code points (the JS side counts code points too, not UTF-16 units)."""
    return len(str(value))


def _html_escape(value: str) -> str:
    import html  # here: html.entities' table is a millisecond of a one-shot script's start, for run cards only

    return html.escape(str(value), quote=True)


# The characters that can start Markdown markup (CommonMark lets a backslash escape any ASCII punctuation):
# emphasis, code, links and images, raw HTML and autolinks, headings, lists, quotes, tables, strikethrough,
# entities. A card's Markdown shows a message's text with each of them escaped, so it is never markup.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-!|~&])")


def _md_escape(value: str) -> str:
    return _MD_SPECIAL.sub(r"\\\1", str(value))


# In a URL that goes into markup (a Markdown link's destination, an HTML attribute, Slack's <url|text>),
# the characters that could end it there, percent-encoded; an artifact_url is already http(s) with no
# space or control character (spec/envelope.schema.json).
_URL_UNSAFE = {c: f"%{ord(c):02X}" for c in "()<>[]\"'`|\\ "}


def _url_safe(value: str) -> str:
    return "".join(_URL_UNSAFE.get(c, c) for c in str(value))


FILTERS = {
    "pct": lambda v: pct(str(v)),
    "rfc2047": _rfc2047,
    "replace_all": _replace_all,
    "nl2br": _nl2br,
    "one_line": _one_line,
    "html_escape": _html_escape,
    "startswith": _startswith,
    "rstrip": _rstrip,
    "chars": _chars,
    "md_escape": _md_escape,
    "url_safe": _url_safe,
}


@functools.lru_cache(maxsize=1)
def environment() -> Any:
    # Imported at the first template rendered, not at start: an MCP server answers tools/list without it.
    from jinja2 import StrictUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,  # nunjucks keeps it; so must we
    )
    env.filters.clear()  # only the shared filters: a jinja-only filter would drift from nunjucks
    env.filters.update(FILTERS)
    env.tests.clear()
    env.globals.clear()
    return env


@functools.lru_cache(maxsize=2048)
def _compiled(source: str):
    return environment().from_string(source)


# `a.b` in a precompiled template: a plain dict's key, when no dict attribute has that name (jinja2's
# sandbox tries the attribute first). Anything else raises, and jinja2 renders the template instead.
_DICT_ATTRIBUTES = frozenset(dir(dict))


def _dict_key(value: Any, name: str) -> Any:
    if type(value) is dict and name not in _DICT_ATTRIBUTES:
        return value[name]
    raise LookupError(name)


@functools.lru_cache(maxsize=1)
def _precompiled() -> dict[str, Any]:
    """The spec templates as Python functions (compiled_templates.py, written by tools/gen_docs.py): the
    first send of a process then imports no jinja2 and compiles nothing for them (jinja2's import is about
    30 ms, its compiler about 0.5 ms a template), and each render is a plain call, without jinja2's
    per-render Context."""
    from .compiled_templates import TEMPLATES

    return TEMPLATES


def render(source: str, context: dict[str, Any]) -> str:
    if "{" not in source:  # most leaves are literals; skip the template machinery
        return source
    function = _precompiled().get(source)
    if function is not None:
        try:
            return function(context, FILTERS, _dict_key)
        except Exception:  # noqa: BLE001, S110 - a missing name, a non-dict value, a filter's error:
            pass  # jinja2 renders it below and decides, in its own words (StrictUndefined)
    return _compiled(source).render(context)


class _Omit:
    """Marks a key whose value rendered empty ($optional) or whose $when was false."""


OMIT = _Omit()


def _when_holds(context: dict[str, Any], rule: Any) -> bool:
    """`$when: {path, <test>}`: a success-style rule on the context, whose path must exist (a typo is an error)."""
    return value_passes(resolve_path(context, rule["path"]), rule)


def render_tree(node: Any, context: dict[str, Any]) -> Any:
    """Renders a body tree: template strings, literals, lists, mappings and the $-forms of spec/README.md."""
    if isinstance(node, str):
        return render(node, context)
    # A text leaf without `{` is a literal: taken as it is, without a call (most leaves of a body).
    if isinstance(node, list):
        out = [(item if "{" not in item else render(item, context)) if type(item) is str else render_tree(item, context)
               for item in node]
        return [item for item in out if item is not OMIT]
    if isinstance(node, dict):
        if "$ref" in node:
            value = resolve_path(context, node["$ref"])
            return OMIT if value is None else value
        if "$optional" in node:
            text = render(node["$optional"], context)
            return OMIT if text == "" else text
        if "$json" in node:
            return to_json(render_tree(node["$json"], context))
        if "$when" in node and not _when_holds(context, node["$when"]):
            return OMIT
        result: dict[str, Any] = {}
        for key, child in node.items():
            if key == "$when":
                continue
            if key == "$merge":
                merged = resolve_path(context, child) or {}
                result.update(merged)
                continue
            if type(child) is str:
                result[key] = child if "{" not in child else render(child, context)
                continue
            value = render_tree(child, context)
            if value is not OMIT:
                result[key] = value
        return result
    return node
