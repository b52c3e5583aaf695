"""success.py: a reply is a success only by the spec's rules (HTTP 200 with a vendor error code is not),
and the vendor's message is read from the reply."""

from __future__ import annotations

from mcp_push.success import evaluate, vendor_message


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
