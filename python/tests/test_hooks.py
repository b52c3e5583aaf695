"""hooks/__init__.py: a hook is found by its file name, and gets the spec's parameters for it."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
from pathlib import Path

import pytest

from mcp_push import hooks
from mcp_push.hooks import HookError, HookInput, get_hook, run_hook
from mcp_push.planner import plan_channel
from mcp_push.specs import load_channels

HOOKS = Path(hooks.__file__).parent
JS_HOOKS = Path(__file__).resolve().parents[2] / "js" / "src" / "hooks"
NOW = 1700000000.5


def _file_names(folder: Path, suffix: str, own: str) -> list[str]:
    return sorted(p.stem for p in folder.glob(f"*{suffix}") if p.stem != own)


def test_every_hook_file_defines_the_function_it_is_named_after_with_a_twin_in_node():
    names = _file_names(HOOKS, ".py", "__init__")
    assert [get_hook(name).__name__ for name in names] == names
    assert _file_names(JS_HOOKS, ".js", "index") == names


def test_every_spec_names_a_hook_file():
    used = {spec.hook for spec in load_channels().values() if spec.hook}
    assert used <= set(_file_names(HOOKS, ".py", "__init__"))
    assert "feishu_sign" in used and "lark_sign" not in used


@pytest.mark.parametrize("name", ["nope", "__init__", "HookInput", "../specs", "feishu_sign.py", "index", ""])
def test_a_name_without_its_hook_file_is_no_hook(name):
    with pytest.raises(HookError) as raised:
        get_hook(name)
    assert str(raised.value) == f"no hook named '{name}'"  # single quotes, as given, in both runtimes


def _feishu_sign(secret: str, timestamp: int) -> str:
    # Feishu's documented scheme, computed here independently of the hook.
    key = f"{timestamp}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


def test_run_hook_passes_the_spec_parameters_as_keyword_arguments():
    data = HookInput({"FSSECRET": "fs_secret", "OTHER_SECRET": "other_secret"}, "t", "c", NOW)
    other = run_hook("feishu_sign", data, {"secret_var": "OTHER_SECRET"})
    assert (other["timestamp"], other["sign"]) == (str(int(NOW)), _feishu_sign("other_secret", int(NOW)))
    assert run_hook("feishu_sign", data, {"secret_var": "FSSECRET"})["sign"] == _feishu_sign("fs_secret", int(NOW))
    with pytest.raises(TypeError, match="secret_var"):
        run_hook("feishu_sign", data)


def test_lark_signs_with_feishu_sign_and_its_own_secret():
    lark = load_channels()["lark"]
    assert (lark.hook, lark.hook_params) == ("feishu_sign", {"secret_var": "LARK_SECRET"})
    plan = plan_channel(lark, {"LARK_KEY": "k", "LARK_SECRET": "lark_s", "FSSECRET": "fs_s"}, "t", "c", {}, NOW)
    assert plan.error is None
    assert f'"sign":"{_feishu_sign("lark_s", int(NOW))}"' in plan.requests[0].body


def test_a_spec_naming_a_missing_hook_fails_that_channel_with_the_words_node_uses():
    spec = dataclasses.replace(load_channels()["feishu"], hook="nope", hook_params={})
    plan = plan_channel(spec, {"FSKEY": "k"}, "t", "c", {}, NOW)
    assert (plan.error_status, plan.error) == ("internal_error", "HookError: no hook named 'nope'")


def test_wecom_app_config_gives_the_msgtype_and_no_is_flags():
    # The spec picks the body with `$when: {path: hook.msgtype, equals: …}` (spec format 2): no hook emits is_* flags.
    for media, msgtype in (("", "text"), ("0", "textcard"), ("m1", "mpnews")):
        out = run_hook("wecom_app_config", HookInput({"QYWX_AM": f"corp,secret,u,1000002,{media}"}, "t", "c", NOW))
        assert out["msgtype"] == msgtype
        assert sorted(out) == ["agentid", "corpid", "corpsecret", "media_id", "msgtype", "secrets", "touser"]
