"""The plan does not change after planning (spec/README.md, "Tokens"): a fetched token is put into the
planned requests at send time (planner.with_token), giving the same bytes as rendering the requests with
it, and sending a plan reports what happened in an Outcome instead of writing into the plan.
js/test/planner.test.js checks the same in Node."""

from __future__ import annotations

import dataclasses

import pytest

from mcp_push.config import channel_env
from mcp_push.deliver import send_plan
from mcp_push.planner import TOKEN_MARK, plan_channel, render_request, with_token
from mcp_push.specs import load_channels
from mcp_push.tokens import TOKENS

TOKENS_TO_TRY = ["plain_Token-1.2~x", "a/b+c=d&e%41 f?g#h", 'q"u\\o\nte', "中文😀", "__TOKEN__"]

# {{ token }} in each place a request can carry it, and the wire encoding of that place.
PLACES = {
    "url path (normalized)": {"method": "POST", "url": "https://h.example/bot{{ token }}/send", "body": {"a": "b"}},
    "url's own query": {"method": "GET", "url": "https://h.example/send?t={{ token }}&x=1"},
    "appended query (pct)": {"method": "GET", "url": "https://h.example/s", "query": {"access_token": "{{ token }}"}},
    "header": {"method": "GET", "url": "https://h.example/", "headers": {"Authorization": "Bearer {{ token }}"}},
    "json body": {"method": "POST", "url": "https://h.example/", "body": {"token": "{{ token }}", "n": 1}},
    "form body": {"method": "POST", "url": "https://h.example/", "encoding": "form", "body": {"token": "{{ token }}"}},
    "text body": {"method": "POST", "url": "https://h.example/", "encoding": "text", "body": "t={{ token }};"},
    "query of a multipart request": {"method": "POST", "url": "https://h.example/", "query": {"t": "{{ token }}"},
                                     "encoding": "multipart", "body": {"a": "b"}},
}


@pytest.mark.parametrize("place", PLACES)
@pytest.mark.parametrize("token", TOKENS_TO_TRY)
def test_a_token_put_in_at_send_time_is_byte_for_byte_the_token_rendered(place, token):
    spec = load_channels()["wecom_app"]
    context = {"title": "t", "content": "c", "env": {}, "params": {}, "hook": {}}
    [marked] = render_request(spec, PLACES[place], {**context, "token": TOKEN_MARK})
    [rendered] = render_request(spec, PLACES[place], {**context, "token": token})
    assert with_token(marked, token).to_dict() == rendered.to_dict()


def test_a_tree_body_gets_the_token_raw_and_a_multipart_body_refuses_it():
    smtp = dataclasses.replace(load_channels()["wecom_app"], transport="smtp")
    context = {"title": "t", "content": "c", "env": {}, "params": {}, "hook": {}}
    tree = {"method": "POST", "url": "smtp://h.example", "body": {"to": ["{{ token }}"], "subject": "s"}}
    [marked] = render_request(smtp, tree, {**context, "token": TOKEN_MARK})
    assert with_token(marked, 'a"b&c').body == {"to": ['a"b&c'], "subject": "s"}
    multipart = {"method": "POST", "url": "https://h.example/", "encoding": "multipart", "body": {"t": "{{ token }}"}}
    with pytest.raises(ValueError, match="multipart"):
        render_request(load_channels()["wecom_app"], multipart, {**context, "token": TOKEN_MARK})


def test_sending_a_plan_leaves_it_as_planned_and_reports_in_an_outcome(intercept):
    TOKENS.clear()
    spec = load_channels()["wecom_app"]
    env = channel_env(spec, {"QYWX_AM": "ww_corp_pl,sec_wa_pl_91c4,UserA,1000002"})

    def answer(seen):
        if "/cgi-bin/gettoken" in seen.url:
            return 200, {}, '{"errcode":0,"access_token":"wa_tok_planner_1","expires_in":7200}'
        return 200, {}, '{"errcode":0,"msgid":"m1"}'

    intercept.answer = answer
    plan = plan_channel(spec, env, "t", "c", {}, 1700000000.0)
    before = [r.to_dict() for r in plan.requests]
    first = send_plan(plan, 5.0)
    second = send_plan(plan, 5.0)  # the same plan again: the cached token, the same wire
    assert [r.to_dict() for r in plan.requests] == before  # still __TOKEN__, as planned
    assert (first.result.ok, first.attempts, first.replies) == (True, 2, ('{"errcode":0,"msgid":"m1"}',))
    assert (second.result.ok, second.attempts, second.replies) == (True, 1, ('{"errcode":0,"msgid":"m1"}',))
    sent = [seen.url for seen in intercept.seen if "message/send" in seen.url]
    assert sent == ["https://qyapi.weixin.qq.com/cgi-bin/message/send?access_token=wa_tok_planner_1"] * 2
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.requests = ()  # type: ignore[misc]
    TOKENS.clear()
