"""The spec templates precompiled to Python (python/mcp_push/compiled_templates.py, written by
tools/gen_docs.py through tools/template_codegen.py) render exactly what jinja2 renders; anything the
functions do not cover falls back to jinja2, with jinja2's own errors."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from jinja2.exceptions import UndefinedError

from conformance.runners import python_runner
from conformance.runners.cases import load_cases
from mcp_push import compiled_templates, templates
from mcp_push.events import RunLog, render_event, validate_envelope

REPO = Path(__file__).resolve().parents[2]


def _codegen():
    if str(REPO / "tools") not in sys.path:
        sys.path.append(str(REPO / "tools"))
    location = importlib.util.spec_from_file_location("tools_template_codegen", REPO / "tools" / "template_codegen.py")
    module = importlib.util.module_from_spec(location)
    location.loader.exec_module(module)
    return module


codegen = _codegen()


def _jinja2(source: str, context: dict) -> str:
    return templates._compiled(source).render(context)


@pytest.fixture
def recorded(monkeypatch) -> tuple[list[tuple[str, dict]], dict]:
    """Every (source, context) a precompiled function is called with, and the functions themselves."""
    calls: list[tuple[str, dict]] = []
    table = templates._precompiled()
    originals = dict(table)
    for source, function in originals.items():
        def recording(context, filters, attr, source=source, function=function):
            calls.append((source, context))
            return function(context, filters, attr)
        monkeypatch.setitem(table, source, recording)
    return calls, originals


def test_the_module_is_what_the_generator_writes_from_the_specs():
    path = REPO / "python" / "mcp_push" / "compiled_templates.py"
    assert path.read_text(encoding="utf-8") == codegen.module_text(REPO), "run python tools/gen_docs.py"


def test_every_precompiled_template_renders_as_jinja2_for_the_conformance_cases(recorded):
    for case in load_cases():
        python_runner.run_case(case, send=False)
    runs = RunLog()
    for kind in ("start", "update", "end", "error"):
        envelope = {"event": kind, "run_id": "r1", "message": "m", "timestamp": "2026-12-01T10:00:00Z",
                    "data": {"step": "build", "progress": 0.4, "error_code": "E1", "artifact_url": "https://x.test/a",
                             "attempt": 2}}
        render_event(validate_envelope(envelope), runs)
    calls, originals = recorded
    assert len({source for source, _ in calls}) >= 60  # most of the 115 spec templates were used
    for source, context in calls:
        fast = originals[source](context, templates.FILTERS, templates._dict_key)
        assert fast == _jinja2(source, context), source


def test_a_missing_name_gets_jinja2s_error():
    assert "{{ title }}" in compiled_templates.TEMPLATES
    with pytest.raises(UndefinedError, match="'title' is undefined"):
        templates.render("{{ title }}", {})
    with pytest.raises(UndefinedError, match="has no attribute 'GOBOT_URL'"):
        templates.render("{{ env.GOBOT_URL }}", {"env": {}})


def test_an_attribute_of_anything_but_a_plain_dict_is_jinja2s():
    # jinja2's sandbox prefers an attribute to a key: the precompiled function leaves that to it.
    assert templates.render("{{ env.GOBOT_URL }}", {"env": SimpleNamespace(GOBOT_URL="http://a")}) == "http://a"
    with pytest.raises(LookupError):
        compiled_templates.TEMPLATES["{{ env.GOBOT_URL }}"]({"env": SimpleNamespace()}, templates.FILTERS,
                                                            templates._dict_key)


def test_a_template_not_in_the_table_renders_with_jinja2():
    source = "{{ title }}!{% for x in items %}{{ x }}{% endfor %}"
    assert source not in compiled_templates.TEMPLATES
    assert templates.render(source, {"title": "T", "items": [1, 2]}) == "T!12"


def test_constructs_outside_the_subset_are_left_to_jinja2():
    from jinja2 import Environment

    environment = Environment(keep_trailing_newline=True)  # noqa: S701 - parses only
    for source in ("{% for x in y %}{{ x }}{% endfor %}", "{{ x|f(a=1) }}", "{{ x[0] }}", "{{ loop }}",
                   "{% set a = 1 %}{{ a }}", "{{ f() }}"):
        with pytest.raises(codegen.Unsupported):
            codegen._function("_t", source, environment)


@pytest.mark.parametrize("source, context", [
    ("a{% if x %}b{% elif y %}c{% else %}d{% endif %}e\n", {"x": 0, "y": ""}),
    ("a{% if x %}b{% elif y %}c{% else %}d{% endif %}e\n", {"x": 0, "y": "1"}),
    ("{{ x ~ 1 ~ 'z' }}{{ n }}{{ b }}{{ none }}", {"x": "s", "n": 2.5, "b": True, "none": None}),
    ("{% if not a or b and c == 'k' %}y{% endif %}{% if 3 > n >= 1 %}r{% endif %}", {"a": 1, "b": 1, "c": "k", "n": 2}),
    ("{{ v|replace_all('a', 'b')|rstrip('/') }}", {"v": "aa//"}),
    ("", {}),
])
def test_generated_functions_match_jinja2_on_each_construct(source, context):
    from jinja2 import Environment

    code = codegen._function("_t", source, Environment(keep_trailing_newline=True))  # noqa: S701 - parses only
    namespace: dict = {}
    exec(code, namespace)  # noqa: S102 - the generator's own output
    assert namespace["_t"](context, templates.FILTERS, templates._dict_key) == _jinja2(source, context)


def test_planning_the_spec_templates_imports_no_jinja2():
    import subprocess

    code = ("import sys\nfrom mcp_push import plan\n"
            "entries = plan('T', 'C', env={'WEBHOOK_URL': 'http://127.0.0.1:9/h', 'WEBHOOK_METHOD': 'POST',"
            " 'WEBHOOK_BODY': 'title: $title', 'NTFY_TOPIC': 't', 'BARK_PUSH': 'k', 'HITOKOTO': 'false'})\n"
            "assert {e['channel'] for e in entries} == {'webhook', 'ntfy', 'bark'}, entries\n"
            "assert not [e for e in entries if 'error' in e], entries\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'jinja2'))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={"PATH": "", "PYTHONPATH": str(REPO / "python")})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
