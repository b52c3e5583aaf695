"""templates.py: message text is data, never a template; the sandbox; undefined variables are errors; the
filters both runtimes register (js/test/templates.test.js pins the Node side)."""

from __future__ import annotations

import jinja2
import pytest

from mcp_push.templates import FILTERS, environment, render, render_tree


def test_message_text_is_data_never_a_template():
    ctx = {"title": "{{ 7 * 7 }}", "content": "{% for x in range(3) %}x{% endfor %}"}
    assert render("{{ title }}|{{ content }}", ctx) == "{{ 7 * 7 }}|{% for x in range(3) %}x{% endfor %}"


def test_templates_are_sandboxed():
    with pytest.raises(jinja2.exceptions.SecurityError):
        render("{{ title.__class__.__mro__ }}", {"title": "x"})


def test_an_undefined_template_variable_is_an_error_not_an_empty_string():
    with pytest.raises(jinja2.exceptions.UndefinedError):
        render("{{ env.NOPE }}", {"env": {}})


def test_only_the_filters_both_runtimes_register_are_available():
    assert set(environment().filters) == set(FILTERS)
    with pytest.raises(jinja2.exceptions.TemplateAssertionError):
        render("{{ title|upper }}", {"title": "x"})


@pytest.mark.parametrize("removed", ["b64", "lower", "to_json"])
def test_the_filters_spec_format_2_removed_are_unknown(removed):
    with pytest.raises(jinja2.exceptions.TemplateAssertionError, match=f"No filter named '{removed}'"):
        render(f"{{{{ title|{removed} }}}}", {"title": "x"})


def test_trailing_newline_is_kept_like_nunjucks():
    assert render("{{ title }}\n", {"title": "x"}) == "x\n"


def test_body_tree_forms():
    ctx = {"title": "T", "content": "C", "hook": {"n": 7, "none": None, "flag": False}, "params": {"k": "v"}}
    tree = {
        "a": "{{ title }}",
        "n": {"$ref": "hook.n"},
        "gone": {"$ref": "hook.none"},
        "empty": {"$optional": ""},
        "kept": {"$optional": "{{ content }}"},
        "sub": {"$when": {"path": "hook.flag", "truthy": True}, "x": 1},
        "j": {"$json": {"t": "{{ title }}"}},
        "list": [1, "{{ content }}"],
        "$merge": "params",
    }
    assert render_tree(tree, ctx) == {
        "a": "T", "n": 7, "kept": "C", "j": '{"t":"T"}', "list": [1, "C"], "k": "v",
    }


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("{{ 'a\nb'|nl2br }}", "a<br/>b"),
        ("{{ '<a&\">'|html_escape }}", "&lt;a&amp;&quot;&gt;"),
        ("{{ 'ab--'|replace_all('--', '-') }}", "ab-"),
        ("{{ 'x//'|rstrip('/') }}", "x"),
        ("{{ '中😀'|chars }}", "2"),
        ("{{ '中'|rfc2047 }}", "=?utf-8?B?5Lit?="),
        ("{{ ''|rfc2047 }}", ""),
        ("{{ 'a b'|pct }}", "a%20b"),
        ("{% if 'https://x'|startswith('http') %}y{% endif %}", "y"),
    ],
)
def test_shared_filters(expr, expected):
    assert render(expr, {}) == expected
