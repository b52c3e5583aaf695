"""What the engine works out once and keeps (engine.py): the lane key per channel credential, the send
settings per env snapshot. Kept answers must be the ones worked out afresh, and follow a changed env."""

from __future__ import annotations

from mcp_push.edits import lane_key
from mcp_push.service import engine as engine_module
from mcp_push.service.engine import Engine
from mcp_push.service.outbox import Outbox
from mcp_push.specs import load_channels


def _webhook_env(vendor) -> dict[str, str]:
    return {"WEBHOOK_URL": f"{vendor.url}/hook", "WEBHOOK_BODY": "title: $title\ncontent: $content",
            "HITOKOTO": "false"}


def test_the_kept_lane_key_is_lane_key_and_follows_a_rotated_credential(tmp_path):
    engine = Engine({}, Outbox(tmp_path / "o.sqlite3"))
    spec = load_channels()["telegram"]
    salt = engine.outbox.lane_salt
    old = {"TG_BOT_TOKEN": "111:aaa", "TG_USER_ID": "1"}
    new = {"TG_BOT_TOKEN": "222:bbb", "TG_USER_ID": "1"}
    assert engine._lane_key(spec, old) == lane_key(spec, old, salt)
    assert engine._lane_key(spec, old) == engine._lane_key(spec, dict(old))  # the same credential, the same lane
    assert engine._lane_key(spec, new) == lane_key(spec, new, salt) != lane_key(spec, old, salt)


def test_kept_lane_keys_are_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(engine_module, "LANE_KEYS_MAX", 3)
    engine = Engine({}, Outbox(tmp_path / "o.sqlite3"))
    spec = load_channels()["telegram"]
    for i in range(10):
        env = {"TG_BOT_TOKEN": f"{i}:token", "TG_USER_ID": "1"}
        assert engine._lane_key(spec, env) == lane_key(spec, env, engine.outbox.lane_salt)
        assert len(engine._lane_keys) <= 3


def test_send_settings_follow_the_env_from_one_delivery_to_the_next(vendor, tmp_path):
    env = {**_webhook_env(vendor), "MCP_PUSH_TIMEOUT": "abc"}
    engine = Engine(env, Outbox(tmp_path / "o.sqlite3"))  # a live mapping: read at each message
    bad = engine.submit("t", "one")
    engine.pump()
    [result] = bad.result()
    assert result.status == "config_error" and "MCP_PUSH_TIMEOUT" in result.error
    env["MCP_PUSH_TIMEOUT"] = "5"
    good = engine.submit("t", "two")
    engine.pump()
    assert [r.status for r in good.result()] == ["delivered"]
    assert [r.path for r in vendor.received] == ["/hook"]
