"""The engine's building blocks: spec loading, templates, wire encodings, success rules, redaction; and
the MCP server's delivery engine's bounded lane queues."""

from __future__ import annotations

import copy
import json

import jinja2
import pytest
import yaml

from mcp_push import plan
from mcp_push.config import is_true
from mcp_push.hooks import get_hook
from mcp_push.redact import Redactor
from mcp_push.specs import SpecError, load_channels, spec_dir, validate_spec
from mcp_push.success import evaluate, vendor_message
from mcp_push.templates import FILTERS, environment, render, render_tree
from mcp_push.wire import append_query, form_encode, multipart_encode, normalize_url, pct, to_json

QINGLONG_CHANNELS = {
    "bark", "console", "dingtalk", "feishu", "gocqhttp", "gotify", "igot", "serverchan", "pushdeer",
    "synology_chat", "pushplus", "weplus", "qmsg", "wecom_app", "wecom_bot", "telegram", "aibotk", "smtp",
    "pushme", "chronocat", "ntfy", "wxpusher", "wxpusher_spt", "openilink", "webhook",
}


# --- specs -------------------------------------------------------------------------------------------

def test_every_qingLong_channel_has_a_valid_spec():
    assert QINGLONG_CHANNELS <= set(load_channels())


def test_every_hook_named_in_a_spec_exists():
    for spec in load_channels().values():
        if spec.hook:
            assert callable(get_hook(spec.hook)), spec.name


def test_every_credential_env_var_is_marked_secret():
    words = ("TOKEN", "SECRET", "PASSWORD", "KEY", "_AM")
    for spec in load_channels().values():
        for name, var in spec.env.items():
            # A Google Chat thread key names a thread; it grants nothing.
            if any(word in name for word in words) and name not in ("NTFY_USERNAME", "GOOGLE_CHAT_THREAD_KEY"):
                assert var.secret, f"{spec.name}: {name} looks like a credential but is not secret: true"


def test_an_invalid_spec_is_rejected_with_the_field_named():
    doc = yaml.safe_load((spec_dir() / "channels" / "dingtalk.yaml").read_text(encoding="utf-8"))
    broken = copy.deepcopy(doc)
    broken["success"]["json"][0] = {"path": "errcode", "equal": 0}
    with pytest.raises(SpecError, match=r"dingtalk.yaml: success/json/0"):
        validate_spec(broken, "spec/channels/dingtalk.yaml")


def test_a_spec_activated_by_an_undeclared_env_var_is_rejected():
    doc = yaml.safe_load((spec_dir() / "channels" / "dingtalk.yaml").read_text(encoding="utf-8"))
    doc["active_when"] = ["DD_TOKEN_TYPO"]
    with pytest.raises(SpecError, match="DD_TOKEN_TYPO"):
        validate_spec(doc, "spec/channels/dingtalk.yaml")


# --- templates ---------------------------------------------------------------------------------------

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
        "sub": {"$when": "hook.flag", "x": 1},
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


# --- wire --------------------------------------------------------------------------------------------

def test_percent_encoding_keeps_only_unreserved_characters():
    assert pct("aZ09-._~ !*'()&=+%#\"/中😀") == (
        "aZ09-._~%20%21%2A%27%28%29%26%3D%2B%25%23%22%2F%E4%B8%AD%F0%9F%98%80"
    )


def test_url_normalisation_encodes_only_what_may_not_stand_raw_and_is_idempotent():
    url = 'https://h.example/p a?q="中"&x=%41'
    once = normalize_url(url)
    assert once == "https://h.example/p%20a?q=%22%E4%B8%AD%22&x=%41"
    assert normalize_url(once) == once


def test_query_is_appended_with_the_right_separator():
    assert append_query("https://h/x", {"a": "1"}) == "https://h/x?a=1"
    assert append_query("https://h/x?k=v", {"a": "1"}) == "https://h/x?k=v&a=1"
    assert append_query("https://h/x?token=", {"a": "1"}) == "https://h/x?token=&a=1"
    assert append_query("https://h/x", {}) == "https://h/x"


def test_json_is_compact_utf8_in_the_given_key_order():
    assert to_json({"b": "中😀\n\"", "a": [1, True, None]}) == '{"b":"中😀\\n\\"","a":[1,true,null]}'


def test_form_fields_are_encoded_and_typed_values_become_text():
    assert form_encode({"t": "a&b", "n": 5, "b": False, "o": {"x": 1}, "skip": None}) == (
        "t=a%26b&n=5&b=false&o=%7B%22x%22%3A1%7D"
    )


def test_multipart_body_layout():
    assert multipart_encode({"a": "1", "b": "x\ny"}, "B") == (
        '--B\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n'
        '--B\r\nContent-Disposition: form-data; name="b"\r\n\r\nx\ny\r\n--B--\r\n'
    )


# --- success rules -----------------------------------------------------------------------------------

def test_http_200_with_a_vendor_error_code_is_not_success():
    rule = {"json": [{"path": "errcode", "equals": 0}]}
    assert evaluate(rule, 200, '{"errcode":0}') == (True, None)
    ok, why = evaluate(rule, 200, '{"errcode":93000,"errmsg":"invalid webhook url"}')
    assert not ok and "errcode=93000" in why


def test_a_reply_that_is_not_json_fails_a_json_rule():
    assert evaluate({"json": [{"path": "ok", "truthy": True}]}, 200, "<html>") == (False, "reply is not JSON")


def test_status_outside_2xx_fails_by_default_and_listed_statuses_are_exact():
    assert evaluate({}, 502, "")[0] is False
    assert evaluate({"status": [200]}, 201, "")[0] is False


def test_json_any_and_nested_paths():
    rule = {"json_any": [{"path": "code", "equals": 0}, {"path": "data.errno", "equals": 0}]}
    assert evaluate(rule, 200, '{"data":{"errno":0}}')[0] is True
    assert evaluate(rule, 200, '{"code":1,"data":{"errno":2}}')[0] is False


def test_true_is_not_one():
    assert evaluate({"json": [{"path": "ok", "equals": True}]}, 200, '{"ok":1}')[0] is False


def test_vendor_message_is_read_from_the_first_known_path():
    assert vendor_message('{"errcode":1,"errmsg":"bad token"}', ["errmsg"]) == "bad token"
    assert vendor_message("<html>oops</html>", ["errmsg"]) is None


# --- config and redaction ----------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["false", "False", "0", "no", "off", ""])
def test_false_words(value):
    assert is_true(value) is False


def test_redactor_masks_raw_percent_encoded_and_json_escaped_forms():
    secret = 'p@ss w/"rd+1'
    redactor = Redactor([secret])
    text = f'raw={secret} url=p%40ss%20w%2F%22rd%2B1 plus=p%40ss+w%2F%22rd%2B1 json="p@ss w/\\"rd+1"'
    assert "ss w" not in redactor.text(text)
    assert redactor.text(text).count("***") == 4


def test_redacted_plan_hides_secrets_but_keeps_the_shape():
    env = {"DD_BOT_TOKEN": "tok_visible_check", "DD_BOT_SECRET": "SECdd_secret_xyz"}
    [entry] = plan("t", "c", env=env, now=1700000000.123)
    assert "tok_visible_check" not in str(entry)
    assert entry["url"].startswith("https://oapi.dingtalk.com/robot/send?access_token=***&timestamp=")


def test_specs_validated_by_gen_docs_skip_the_schema_check_and_edited_ones_do_not(tmp_path, monkeypatch):
    import shutil

    from mcp_push import specs as specs_module

    copy = tmp_path / "spec"
    shutil.copytree(spec_dir(), copy)
    assert specs_module._validated_before(copy)  # tools/gen_docs.py recorded the current files
    broken = copy / "channels" / "dingtalk.yaml"
    broken.write_text(broken.read_text(encoding="utf-8").replace("display_name:", "display_nam:"), encoding="utf-8")
    assert not specs_module._validated_before(copy)
    monkeypatch.setenv("MCP_PUSH_SPEC_DIR", str(copy))
    specs_module.load_channels.cache_clear()
    try:
        with pytest.raises(SpecError, match="dingtalk.yaml"):
            specs_module.load_channels()
    finally:
        specs_module.load_channels.cache_clear()


# --- the MCP server's delivery engine: a lane's queue is bounded ---------------------------------------

def _capped_engine(vendor, limit: str | None):
    from mcp_push.engine import Engine

    from .test_delivery import FakeClock, wecom_env

    clock = FakeClock()
    vendor.clock = clock
    env = wecom_env(vendor) if limit is None else {**wecom_env(vendor), "MCP_PUSH_LANE_QUEUE_MAX": limit}
    return Engine(env, clock=clock), clock


def _statuses(ticket):
    return [(r.status, r.error) for r in ticket.result()]


QUEUE_FULL_5 = "queue full: 5 messages already wait for this channel (MCP_PUSH_LANE_QUEUE_MAX)"


def test_a_full_lane_refuses_new_plain_messages_and_updates_but_never_a_start_end_or_error(vendor):
    engine, clock = _capped_engine(vendor, "5")
    for index in range(18):  # the minute's quota for non-terminal messages is used up
        engine.submit(f"sent{index}", "c")
        engine.pump()
    waiting = [engine.submit(f"wait{index}", "c") for index in range(4)]
    progress = engine.submit("p1", "c", kind="update", run_id="r")  # the 5th waiting delivery
    assert all(_statuses(t) == [("queued", None)] for t in [*waiting, progress])
    assert engine.outbox.pending() == 5

    refused = engine.submit("one too many", "c")
    assert _statuses(refused) == [("rejected", QUEUE_FULL_5)]
    assert _statuses(engine.submit("new run's update", "c", kind="update", run_id="other")) == [
        ("rejected", QUEUE_FULL_5)]
    # An update with a waiting one to replace coalesces; a run's start, end and error always get in.
    newer = engine.submit("p2", "c", kind="update", run_id="r")
    assert _statuses(newer) == [("queued", None)] and _statuses(progress)[0][0] == "superseded"
    kept = [engine.submit(kind, "c", kind=kind, run_id=f"run-{kind}") for kind in ("start", "end", "error")]
    assert all(_statuses(t) == [("queued", None)] for t in kept)
    assert engine.outbox.pending() == 5 + 3  # the refused were never stored

    clock.now += 300
    while engine.pump() is not None:
        clock.now += 63
    texts = [json.loads(r.body)["text"]["content"].split("\n")[0] for r in vendor.received]
    assert "one too many" not in texts and "new run's update" not in texts
    assert {"wait0", "wait3", "p2", "start", "end", "error"} <= set(texts)
    assert engine.idle() and engine.outbox.pending() == 0


def test_the_default_cap_is_200_waiting_messages_per_lane(vendor):
    engine, _ = _capped_engine(vendor, None)
    tickets = [engine.submit(f"m{index}", "c") for index in range(250)]
    statuses = [_statuses(t)[0] for t in tickets]
    assert statuses[:200] == [("queued", None)] * 200
    assert set(statuses[200:]) == {
        ("rejected", "queue full: 200 messages already wait for this channel (MCP_PUSH_LANE_QUEUE_MAX)")}


def test_a_bad_cap_is_a_config_error_naming_the_variable(vendor):
    engine, _ = _capped_engine(vendor, "lots")
    [result] = engine.submit("t", "c").result()
    assert (result.status, result.error) == (
        "config_error", "MCP_PUSH_LANE_QUEUE_MAX must be a whole number of messages, 1 or more, got 'lots'")
    assert engine.outbox.pending() == 0


def test_deliveries_taken_over_from_the_outbox_are_never_refused(vendor, tmp_path):
    from mcp_push.engine import Engine
    from mcp_push.outbox import Outbox

    from .test_delivery import wecom_env

    path = tmp_path / "outbox.sqlite3"
    dead = Outbox(path)
    for index in range(8):
        dead.add("lane", "wecom_bot", "message", None, f"m{index}", "c", {})
    dead._db.execute("UPDATE owners SET pid = ? WHERE owner = ?", (2**22 + 12345, dead.owner))  # no such process
    engine = Engine({**wecom_env(vendor), "MCP_PUSH_LANE_QUEUE_MAX": "5"}, Outbox(path))
    assert engine.resume() == 8  # they were accepted once: the cap is for new messages


def test_a_retried_request_counts_against_the_lanes_quota(vendor):
    from .local_server import Behaviour

    engine, clock = _capped_engine(vendor, None)
    vendor.script = [Behaviour(status=503, body="busy")]  # the first message needs a second try
    for index in range(18):
        engine.submit(f"m{index}", "c")
    engine.pump()
    # 18 messages, 19 requests: the 18th message waits for the next window rather than be the 21st request.
    assert len(vendor.received) == 18
    assert [json.loads(r.body)["text"]["content"] for r in vendor.received[:2]] == ["m0\n\nc"] * 2
    clock.now += 63
    engine.pump()
    assert len(vendor.received) == 19 and engine.idle()


@pytest.mark.parametrize("text", ["0", "-3", "2.5", "lots", "", "１２", "1_0", "+5", "\u00a07"])
def test_the_queue_cap_must_be_a_whole_number_from_1(text):
    from mcp_push.config import ConfigError
    from mcp_push.engine import queue_max

    with pytest.raises(ConfigError, match=r"^MCP_PUSH_LANE_QUEUE_MAX must be a whole number of messages, 1 or more"):
        queue_max(text)
    assert queue_max(" 7 ") == 7


@pytest.mark.parametrize("text", ["0", "-1", "nan", "inf", "soon", "１２", "1_0", "1e3", "\u00a07"])
def test_the_heartbeat_must_be_a_positive_number_of_seconds(text):
    from mcp_push.config import ConfigError
    from mcp_push.engine import heartbeat_seconds

    with pytest.raises(ConfigError, match=r"^MCP_PUSH_HEARTBEAT_SECONDS must be a positive number of seconds"):
        heartbeat_seconds(text)
    assert (heartbeat_seconds("0.5"), heartbeat_seconds("\t2 ")) == (0.5, 2.0)
