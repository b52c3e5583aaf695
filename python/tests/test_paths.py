"""paths.py: the one path resolver every path-reading field uses, list indexes included; the edit.request
override merge (specs.py); `$when` rules; the spec format check (js/test/paths.test.js pins the Node side)."""

from __future__ import annotations

import shutil

import pytest

from mcp_push import specs as specs_module
from mcp_push.paths import PathError, resolve_path
from mcp_push.specs import SpecError, load_channels, merge_override, spec_dir
from mcp_push.success import evaluate
from mcp_push.templates import render_tree

REPLY = {"ok": True, "result": [{"message_id": 42}, {"message_id": 43}], "n": {"0": "key"}}


@pytest.mark.parametrize(
    ("path", "expected"),
    [("ok", True), ("result.0.message_id", 42), ("result.1.message_id", 43), ("n.0", "key"),
     ("result.1", {"message_id": 43})],
)
def test_a_path_reads_mappings_by_key_and_lists_by_index(path, expected):
    assert resolve_path(REPLY, path) == expected


@pytest.mark.parametrize("path", ["result.2.message_id", "result.x", "ok.0", "result.-1", "result.١"])
def test_a_path_that_names_nothing_raises_or_gives_the_default(path):
    with pytest.raises(PathError, match=f"context has no '{path}'"):
        resolve_path(REPLY, path)
    assert resolve_path(REPLY, path, None) is None


def test_every_path_reading_field_indexes_lists():
    # A success rule, $ref, $merge and for_each all read through resolve_path: one syntax everywhere.
    rule = {"path": "result.1.message_id", "equals": 43}
    assert evaluate({"json": [rule]}, 200, '{"result":[{},{"message_id":43}]}')[0]
    ctx = {"hook": {"ids": [7, 8], "extra": [{"k": "v"}]}}
    assert render_tree({"id": {"$ref": "hook.ids.1"}, "$merge": "hook.extra.0"}, ctx) == {"id": 8, "k": "v"}


def test_when_takes_a_rule_on_the_context():
    ctx = {"hook": {"msgtype": "textcard", "flag": False}, "title": "T"}
    tree = {
        "text": {"$when": {"path": "hook.msgtype", "equals": "text"}, "content": "x"},
        "textcard": {"$when": {"path": "hook.msgtype", "equals": "textcard"}, "title": "{{ title }}"},
        "one_of": {"$when": {"path": "hook.msgtype", "in": ["text", "textcard"]}, "y": 1},
        "flagged": {"$when": {"path": "hook.flag", "truthy": True}, "z": 1},
    }
    assert render_tree(tree, ctx) == {"textcard": {"title": "T"}, "one_of": {"y": 1}}


def test_a_when_on_a_path_the_context_lacks_is_a_spec_error_not_false():
    with pytest.raises(PathError, match="context has no 'hook.msgtyp'"):
        render_tree({"a": {"$when": {"path": "hook.msgtyp", "equals": "text"}, "b": 1}}, {"hook": {}})


def test_an_override_merges_mappings_replaces_scalars_and_lists_and_null_removes():
    base = {"method": "POST", "url": "u", "headers": {"A": "1", "B": "2"}, "body": {"to": ["x"], "t": "t"}}
    override = {"url": "v", "headers": {"B": None, "C": "3"}, "body": {"to": ["y", "z"], "id": 1}}
    merged = merge_override(base, override)
    assert merged == {"method": "POST", "url": "v", "headers": {"A": "1", "C": "3"},
                      "body": {"to": ["y", "z"], "t": "t", "id": 1}}
    assert list(merged["body"]) == ["to", "t", "id"]  # the base's key order, new keys after it
    assert base["headers"] == {"A": "1", "B": "2"} and "id" not in base["body"]  # neither input changes


def test_the_edit_request_is_the_channel_request_with_the_override_merged():
    telegram, ntfy = load_channels()["telegram"], load_channels()["ntfy"]
    assert telegram.edit["request"]["url"].endswith("/editMessageText")
    assert telegram.edit["request"]["proxy"] == telegram.request["proxy"]
    assert telegram.edit["request"]["body"] == {**telegram.request["body"], "message_id": {"$ref": "ref"}}
    assert ntfy.edit["request"]["headers"] == ntfy.request["headers"]
    assert ntfy.edit["request"]["url"].endswith("/{{ ref }}")


@pytest.mark.parametrize("declared", ["", "spec_format: 1\n"])
def test_a_spec_folder_of_another_format_is_refused_by_name(tmp_path, monkeypatch, declared):
    copy = tmp_path / "spec"
    shutil.copytree(spec_dir(), copy)
    settings = copy / "settings.yaml"
    settings.write_text(settings.read_text(encoding="utf-8").replace("spec_format: 2\n", declared), encoding="utf-8")
    monkeypatch.setenv("MCP_PUSH_SPEC_DIR", str(copy))
    specs_module.load_channels.cache_clear()
    specs_module.load_settings.cache_clear()
    try:
        with pytest.raises(SpecError, match="spec_format is 1; this runtime reads spec format 2"):
            load_channels()
    finally:
        specs_module.load_channels.cache_clear()
        specs_module.load_settings.cache_clear()


def test_an_edit_override_may_remove_a_header_with_null():
    import yaml

    from mcp_push.specs import validate_spec

    doc = yaml.safe_load((spec_dir() / "channels" / "ntfy.yaml").read_text(encoding="utf-8"))
    doc["edit"]["request"]["headers"] = {"Title": None, "X-Edit": "1"}
    spec = validate_spec(doc, "spec/channels/ntfy.yaml")  # the schema takes the null
    assert "Title" not in spec.edit["request"]["headers"] and spec.edit["request"]["headers"]["X-Edit"] == "1"
    assert "Title" in spec.request["headers"]
