"""What plan() keeps between messages (channel_setup.py) and the shortcuts on its per-message path
(wire.py's encoders, the redactor's scan, hook lookup): a changed setting, proxy variable or priority is
planned anew, the cache stays bounded, and every shortcut gives what the long way gives."""

from __future__ import annotations

import sys
from urllib.parse import quote

import pytest

from mcp_push import channel_setup, plan
from mcp_push.config import channel_env
from mcp_push.planner import plan_channel
from mcp_push.redact import REGISTRY, Redactor
from mcp_push.specs import load_channel
from mcp_push.wire import _URL_SAFE, js_key_order, normalize_url, pct, to_json

NTFY = {"NTFY_TOPIC": "alerts", "NTFY_URL": "https://ntfy.example"}


def _only(entries):
    [entry] = entries
    return entry


def test_a_setting_changed_between_two_messages_is_planned_with_its_new_value():
    env = dict(NTFY)
    assert _only(plan("t", "c", env=env))["url"] == "https://ntfy.example/alerts"
    env["NTFY_TOPIC"] = "other"  # the same dict, changed in place
    assert _only(plan("t", "c", env=env))["url"] == "https://ntfy.example/other"
    env["NTFY_PRIORITY"] = "9"
    assert _only(plan("t", "c", env=env))["error"].startswith("NTFY_PRIORITY: must be one of 1, 2, 3, 4, 5")
    env["NTFY_PRIORITY"] = "4"
    assert "error" not in _only(plan("t", "c", env=env))


def test_a_secret_set_after_a_first_plan_is_masked_in_the_next():
    env = dict(NTFY)
    assert "Authorization" not in _only(plan("t", "c", env=env))["headers"]
    env["NTFY_TOKEN"] = "tk_secret_0a1b2c3d"
    entry = _only(plan("t", "c", env=env))
    assert entry["headers"]["Authorization"] == "Bearer ***"
    assert _only(plan("t", "c", env=env, redact=False))["headers"]["Authorization"] == "Bearer tk_secret_0a1b2c3d"


def test_a_proxy_variable_set_after_a_first_plan_has_its_credentials_masked(monkeypatch):
    spec = load_channel("ntfy")
    env = channel_env(spec, NTFY)
    before = plan_channel(spec, env, "t", "c", {}, 0.0)
    assert before.redactor.text("pxpass_91ab") == "pxpass_91ab"
    monkeypatch.setenv("HTTPS_PROXY", "http://pxuser:pxpass_91ab@127.0.0.1:9")
    after = plan_channel(spec, env, "t", "c", {}, 0.0)
    assert after.redactor.text("x pxpass_91ab y") == "x *** y"
    monkeypatch.delenv("HTTPS_PROXY")
    REGISTRY.clear()


def test_the_priority_level_is_part_of_what_is_kept():
    spec = load_channel("ntfy")
    env = channel_env(spec, NTFY)
    high = plan_channel(spec, env, "t", "c", {}, 0.0, priority="high").requests[0]
    plain = plan_channel(spec, env, "t", "c", {}, 0.0).requests[0]
    assert high.body != plain.body or high.headers != plain.headers


def test_each_plan_gets_its_own_settings_and_redactor():
    spec = load_channel("ntfy")
    env = channel_env(spec, NTFY)
    first = plan_channel(spec, env, "t", "c", {}, 0.0)
    first.env["NTFY_TOPIC"] = "changed by a caller"
    first.redactor.add(["a_message_secret_42"])
    second = plan_channel(spec, env, "t", "c", {}, 0.0)
    assert second.env["NTFY_TOPIC"] == "alerts"
    assert second.redactor.text("a_message_secret_42") == "a_message_secret_42"


def test_the_kept_setups_are_bounded(monkeypatch):
    monkeypatch.setattr(channel_setup, "MAX_ENTRIES", 8)
    channel_setup.clear()
    spec = load_channel("ntfy")
    for index in range(30):
        plan_channel(spec, channel_env(spec, {**NTFY, "NTFY_TOPIC": f"t{index}"}), "t", "c", {}, 0.0)
    assert len(channel_setup._entries) == 8
    channel_setup.clear()


def test_a_redactor_made_from_forms_masks_what_the_original_masks():
    original = Redactor(["sk_live_0a1b2c3d4e", "short1"])
    copy = Redactor.from_forms(original.forms())
    text = "sk_live_0a1b2c3d4e and short1 and short12 and " + quote("sk_live_0a1b2c3d4e")
    assert copy.text(text) == original.text(text) == "*** and *** and short12 and ***"
    copy.add(["only_in_the_copy_9"])
    assert original.text("only_in_the_copy_9") == "only_in_the_copy_9"
    assert copy.text("only_in_the_copy_9") == "***"


def test_pct_and_normalize_url_give_what_quote_gives_for_every_character():
    for code in [*range(0x2000), 0xD800, 0xFFFD, 0x1F600]:
        char = chr(code)
        for text in (char, f"a{char}b", f"{char}{char}"):
            if 0xD800 <= code <= 0xDFFF:
                with pytest.raises(UnicodeEncodeError):
                    quote(text, safe="")
                with pytest.raises(UnicodeEncodeError):
                    pct(text)
                continue
            assert pct(text) == quote(text, safe=""), repr(text)
            assert normalize_url(text) == quote(text, safe=_URL_SAFE), repr(text)


def test_index_keys_still_go_first_in_javascript_order():
    assert list(js_key_order({"b": 1, "10": 2, "a": 3, "2": 4, "01": 5, 7: 6})) == ["2", 7, "10", "b", "a", "01"]
    plain = {"b": 1, "a": 2}
    assert js_key_order(plain) is plain
    assert to_json({"z": 1.0, "1": [2.5, "x", {"0": True}], "a": None}) == '{"1":[2.5,"x",{"0":true}],"z":1,"a":null}'


def test_a_hook_replaced_in_its_module_is_the_one_that_runs(monkeypatch):
    env = {**NTFY, "NTFY_TOKEN": "tk_hook_0a1b2c3d"}
    assert "Authorization" in _only(plan("t", "c", env=env, redact=False))["headers"]
    module = sys.modules["mcp_push.hooks.ntfy_auth"]

    def broken(data, **params):
        raise RuntimeError("the replaced hook ran")

    monkeypatch.setattr(module, "ntfy_auth", broken)
    assert _only(plan("t", "c", env=env))["error"] == "RuntimeError: the replaced hook ran"


def test_a_message_size_is_counted_as_before_in_both_units():
    from mcp_push.overflow import size

    for text in ("", "plain ascii", "héllo", "中文", "😀 and 😀", "lone \ud800 surrogate", "\U0010ffff"):
        assert size(text, "bytes") == len(text.encode("utf-8", "surrogatepass"))
        assert size(text, "chars") == len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


def test_a_plain_body_is_encoded_as_the_canonical_way_encodes_it():
    from mcp_push import wire

    def long_way(value):
        numbers: list[str] = []
        text = wire._JSON.encode(wire._canonical(value, numbers))
        assert not numbers
        return wire._LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)

    plain = [{"a": "x", "b": [1, True, None, {"c": "中文😀\ud800\n\"'<>&"}], "n": -(2**53)}, "top text", 2**53, [],
             {}, {"k1": {"k2": ["", "\x00\x1f\u2028"]}}]
    for value in plain:
        assert wire._plain(value)
        assert to_json(value) == long_way(value)
    for value in ({"1": "index key"}, {"a": 1.5}, {"a": 2**53 + 1}, {1: "int key"}, (1, 2), {"a": float("nan")}):
        assert not wire._plain(value)
    assert to_json({"b": 1, "1": 2.0, "a": [float("inf")]}) == '{"1":2,"b":1,"a":[null]}'


def test_the_channels_of_a_plain_dict_env_follow_a_config_file_rewritten_between_messages(tmp_path):
    import os

    path = tmp_path / "mcp-push.yaml"
    path.write_text("channels:\n  first: {type: ntfy, env: {NTFY_TOPIC: a}}\n")
    env = {"MCP_PUSH_CONFIG": str(path)}
    assert [e["channel"] for e in plan("t", "c", env=env)] == ["first"]
    path.write_text("channels:\n  second: {type: ntfy, env: {NTFY_TOPIC: b}}\n")
    os.utime(path, ns=(1, 1))
    assert [e["channel"] for e in plan("t", "c", env=env)] == ["second"]


def test_the_channels_of_a_plain_dict_env_are_the_specs_read_now():
    from mcp_push import specs
    from mcp_push.selection import configured_channels

    [(before, _)] = configured_channels(dict(NTFY))
    specs.clear_caches()
    [(after, _)] = configured_channels(dict(NTFY))
    assert after is specs.load_channel("ntfy") and after is not before


def test_an_env_with_a_value_that_cannot_be_hashed_is_still_planned():
    entry = _only(plan("t", "c", env={**NTFY, "OTHER": ["a", "list"]}))
    assert entry["url"] == "https://ntfy.example/alerts"


def test_the_kept_channel_answers_are_bounded(monkeypatch):
    from mcp_push import selection

    monkeypatch.setattr(selection, "MAX_KEPT", 4)
    for index in range(10):
        assert _only(plan("t", "c", env={**NTFY, "NTFY_TOPIC": f"k{index}"}))["url"].endswith(f"/k{index}")
    assert len(selection._kept) <= 4


def test_a_json_body_escapes_a_lone_surrogate_and_only_that():
    assert to_json({"a": "plain", "b": ["x"]}) == '{"a":"plain","b":["x"]}'
    assert to_json({"a": "é中😀"}) == '{"a":"é中😀"}'
    assert to_json({"a": "x\ud800y", "b": "\udfff"}) == '{"a":"x\\ud800y","b":"\\udfff"}'


def test_planning_a_plain_dict_env_without_a_config_file_does_not_import_its_reader(tmp_path):
    import subprocess
    from pathlib import Path

    script = ("import sys; from mcp_push import plan; plan('t', 'c', env={'NTFY_TOPIC': 'a'}); "
              "print('mcp_push.configfile' in sys.modules)")
    python = str(Path(__file__).resolve().parents[1])
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=tmp_path,
                          env={"PYTHONPATH": python, "XDG_CONFIG_HOME": str(tmp_path), "HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
