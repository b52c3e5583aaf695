"""A request head that reads only the settings is rendered once per channel setup (request_heads.py) and
its parts masked once (ChannelSetup.masked): the same requests and the same masking as rendering and
scanning them for every message, and anything else is rendered per message."""

from __future__ import annotations

import pytest

from mcp_push import channel_setup as setups
from mcp_push import plan
from mcp_push.config import channel_env
from mcp_push.planner import TOKEN_MARK, plan_channel, render_request
from mcp_push.redact import Redactor
from mcp_push.request_heads import settings_only, template_settings_only
from mcp_push.specs import load_channel

NTFY = {"NTFY_TOPIC": "alerts", "NTFY_URL": "https://ntfy.example"}


@pytest.mark.parametrize("source", [
    "https://h.example/send", "{{ env.URL }}", "{{ env.URL|rstrip('/') }}/bot{{ env.TOKEN }}/send",
    "{% if env.A and env.B %}http://{{ env.A }}:{{ env.B }}{% endif %}", "{{ token }}",
    "{%- if env['X'] == 'room' -%}room{% else %}contact{% endif %}", "Bearer {{ env.T | pct }}",
])
def test_a_template_of_settings_alone_is_settings_only(source):
    assert settings_only(source)


@pytest.mark.parametrize("source", [
    "{{ title }}", "{{ hook.url }}", "{{ item.url }}", "{{ env.X|replace_all(content, 'y') }}",
    "{% for x in env.L %}{{ x }}{% endfor %}", "{% set a = env.X %}{{ a }}", "{# note #}{{ env.X }}",
    "{{ env.X if markup else '' }}", "{{ env.X is defined }}", "{{ 'a\\'' ~ env.X }}", "{{ env.X",
    "{{ ref.id }}", "{{ range(3) }}",
])
def test_a_template_that_reads_anything_else_is_not(source):
    assert not settings_only(source)


def test_a_head_with_a_ref_or_a_non_settings_part_is_not_kept():
    head = {"method": "POST", "url": "{{ env.U }}"}
    assert template_settings_only(head)
    assert not template_settings_only({**head, "headers": {"$ref": "hook.headers"}})
    assert not template_settings_only({**head, "query": {"sign": {"$optional": "{{ hook.sign }}"}}})
    assert not template_settings_only({**head, "proxy": "{{ params.proxy }}"})
    assert template_settings_only({**head, "query": {"k": {"$optional": "{{ env.K }}"}}, "headers": {"A": "b"}})


def _setup(name, given):
    spec = load_channel(name)
    env = channel_env(spec, given)
    return spec, env, setups.channel_setup(spec, env, None)


def test_a_kept_head_gives_the_requests_rendering_anew_gives():
    spec, env, setup = _setup("telegram", {"TG_BOT_TOKEN": "123:tg_secret_abc", "TG_USER_ID": "42"})
    context = {"title": "t", "content": "c", "env": env, "params": {}, "hook": {}, "token": "x", "markup": "text",
               "text": {"title": "t", "content": "c"}}
    fresh = render_request(spec, setup.post, context)
    first = render_request(spec, setup.post, context, setup=setup)
    again = render_request(spec, setup.post, {**context, "title": "other"}, setup=setup)
    assert setup.heads[id(setup.post)][1] is not None
    assert [r.to_dict() for r in first] == [r.to_dict() for r in fresh]
    assert again[0].url == fresh[0].url and again[0].body != fresh[0].body
    again[0].headers["X-Changed"] = "by a caller"
    assert "X-Changed" not in render_request(spec, setup.post, context, setup=setup)[0].headers


def test_a_head_kept_for_one_token_value_is_rendered_anew_for_another():
    spec, env, setup = _setup("wecom_app", {"QYWX_AM": "ww_corp_h,sec_wa_h_91c4,UserA,1000002"})
    template = {"method": "GET", "url": "https://h.example/s", "query": {"access_token": "{{ token }}"}}
    context = {"title": "t", "content": "c", "env": env, "params": {}, "hook": {}}
    marked = render_request(spec, template, {**context, "token": TOKEN_MARK}, setup=setup)[0]
    shown = render_request(spec, template, {**context, "token": "PLACEHOLDER"}, setup=setup)[0]
    assert TOKEN_MARK in marked.url and marked.token_slots is not None
    assert shown.url == "https://h.example/s?access_token=PLACEHOLDER" and shown.token_slots is None


def test_a_head_that_fails_fails_every_message_as_rendering_it_anew_does():
    spec, env, setup = _setup("ntfy", NTFY)
    template = {"method": "POST", "url": "{{ env.NOT_A_SETTING }}/x"}
    context = {"title": "t", "content": "c", "env": env, "params": {}, "hook": {}, "token": "x"}
    with pytest.raises(Exception) as fresh:
        render_request(spec, template, context)
    for _ in range(2):
        with pytest.raises(type(fresh.value), match="NOT_A_SETTING"):
            render_request(spec, template, context, setup=setup)
    assert id(template) not in setup.heads


def test_what_a_setup_keeps_is_bounded(monkeypatch):
    spec, env, setup = _setup("ntfy", NTFY)
    context = {"title": "t", "content": "c", "env": env, "params": {}, "hook": {}, "token": "x"}
    templates = [{"method": "POST", "url": f"https://h{index}.example/{{{{ env.NTFY_TOPIC }}}}"} for index in range(40)]
    for template in templates:
        render_request(spec, template, context, setup=setup)
    assert len(setup.heads) == setups.MAX_HEADS
    assert len(setup.masked) <= setups.MAX_MASKED
    assert render_request(spec, templates[-1], context, setup=setup)[0].url == "https://h39.example/alerts"


def test_a_remembered_text_is_read_instead_of_scanned_while_the_forms_are_the_setups():
    forms = Redactor(["sk_live_0a1b2c3d4e"]).forms()
    redactor = Redactor.from_forms(forms, {"https://h.example/x": "read from the memo"})
    assert redactor.text("https://h.example/x") == "read from the memo"
    assert redactor.tree({"u": "https://h.example/x", "l": ["https://h.example/x", ""]}) == {
        "u": "read from the memo", "l": ["read from the memo", ""]}
    assert redactor.text("sk_live_0a1b2c3d4e") == "***"
    redactor.add(["", "sk_live_0a1b2c3d4e"])  # nothing new: the memo still holds
    assert redactor.text("https://h.example/x") == "read from the memo"
    redactor.add(["h.example"])
    assert redactor.tree({"u": "https://h.example/x"}) == {"u": "https://***/x"}


def test_a_secret_added_to_a_plans_redactor_masks_the_remembered_texts_too():
    spec, env, setup = _setup("telegram", {"TG_BOT_TOKEN": "123:tg_added_0a1b", "TG_USER_ID": "42"})
    plan_channel(spec, env, "t", "c", {}, 0.0)
    url = "https://api.telegram.org/bot123:tg_added_0a1b/sendMessage"
    assert setup.masked[url] == "https://api.telegram.org/bot***/sendMessage"
    redactor = setup.redactor()
    redactor.add(["api.telegram"])  # a message's own secret, found in a remembered text
    assert redactor.text(url) == "https://***.org/bot***/sendMessage"
    assert setup.redactor().text(url) == "https://api.telegram.org/bot***/sendMessage"


def test_a_settings_secret_in_a_kept_head_is_masked_in_every_plan():
    env = {"TG_BOT_TOKEN": "123456:tg_head_secret_0a1b", "TG_USER_ID": "42"}
    for _ in range(3):
        [entry] = plan("t", "c", env=env)
        assert entry["url"] == "https://api.telegram.org/bot***/sendMessage"
    [raw] = plan("t", "c", env=env, redact=False)
    assert raw["url"] == "https://api.telegram.org/bot123456:tg_head_secret_0a1b/sendMessage"


def test_a_plans_redactor_shares_its_setups_forms_until_it_adds_one():
    spec, env, setup = _setup("telegram", {"TG_BOT_TOKEN": "123:tg_shared_0a1b", "TG_USER_ID": "42"})
    first, second = setup.redactor(), setup.redactor()
    first.add(["first_only_secret_77"])
    assert first.text("first_only_secret_77 123:tg_shared_0a1b") == "*** ***"
    assert second.text("first_only_secret_77 123:tg_shared_0a1b") == "first_only_secret_77 ***"
    assert setup.masker.text("first_only_secret_77") == "first_only_secret_77"


def test_a_key_that_is_a_long_secret_is_masked_whatever_its_type():
    redactor = Redactor(["a_long_key_secret", "123456789012"])
    assert redactor.tree({"a_long_key_secret": "v", "other": "a_long_key_secret"}) == {"***": "v", "other": "***"}
    assert redactor.tree({123456789012: "n", 5: "k"}) == {"***": "n", 5: "k"}
    copied = redactor.copy()
    copied.add(["added_long_key_1"])
    assert copied.tree({"added_long_key_1": 1, "short": 2}) == {"***": 1, "short": 2}
    assert redactor.tree({"added_long_key_1": 1}) == {"added_long_key_1": 1}


def test_settings_secrets_are_given_to_the_registry_again_after_it_is_cleared():
    from mcp_push.redact import REGISTRY, process_redactor

    env = {"TG_BOT_TOKEN": "123456:tg_registry_0a1b", "TG_USER_ID": "42"}
    plan("t", "c", env=env)
    assert process_redactor().text("123456:tg_registry_0a1b") == "***"
    REGISTRY.clear()
    assert process_redactor().text("123456:tg_registry_0a1b") == "123456:tg_registry_0a1b"
    plan("t", "c", env=env)
    assert process_redactor().text("123456:tg_registry_0a1b") == "***"
    REGISTRY.clear()
