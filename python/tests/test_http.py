"""transports/http.py (and tokens.py): what the HTTP transport does beyond the plan: proxies, token caching,
real timeouts, no redirects, debug logs without secrets."""

from __future__ import annotations

import base64
import logging
import threading

import responses

from mcp_push import send
from mcp_push.tokens import TokenCache

from .local_server import Behaviour


def test_telegram_goes_through_the_configured_proxy_with_its_credentials(vendor):
    # The local server plays the proxy: it receives the absolute URL of the Bot API request.
    host, port = vendor.url.removeprefix("http://").split(":")
    result = send(
        "t", "c", TG_BOT_TOKEN="123456:tg_token_abc", TG_USER_ID="42", TG_API_HOST="http://api.telegram.test",
        TG_PROXY_HOST=host, TG_PROXY_PORT=port, TG_PROXY_AUTH="proxy_user:proxy_pass_77",
    )
    [request] = vendor.received
    assert request.path == "http://api.telegram.test/bot123456:tg_token_abc/sendMessage"
    expected = "Basic " + base64.b64encode(b"proxy_user:proxy_pass_77").decode()
    assert request.headers.get("Proxy-Authorization") == expected
    assert result["telegram"].ok is True


def test_telegram_proxy_without_auth_has_no_credentials(vendor):
    host, port = vendor.url.removeprefix("http://").split(":")
    send("t", "c", TG_BOT_TOKEN="123456:tg_token_abc", TG_USER_ID="42", TG_API_HOST="http://api.telegram.test",
         TG_PROXY_HOST=host, TG_PROXY_PORT=port)
    [request] = vendor.received
    assert "Proxy-Authorization" not in request.headers


@responses.activate
def test_wecom_app_token_is_fetched_once_and_reused_until_it_expires():
    token_call = responses.get(
        "https://qyapi.weixin.qq.com/cgi-bin/gettoken",
        json={"errcode": 0, "errmsg": "ok", "access_token": "wecom_access_1", "expires_in": 7200},
    )
    send_call = responses.post(
        "https://qyapi.weixin.qq.com/cgi-bin/message/send", json={"errcode": 0, "errmsg": "ok"}
    )
    config = {"QYWX_AM": "ww_corp_1,corp_secret_value_9,@all,1000002"}
    assert send("a", "b", **config)["wecom_app"].ok
    assert send("c", "d", **config)["wecom_app"].ok
    assert token_call.call_count == 1
    assert send_call.call_count == 2
    assert "access_token=wecom_access_1" in send_call.calls[1].request.url


@responses.activate
def test_wecom_app_token_failure_is_a_result_not_a_hang():
    responses.get("https://qyapi.weixin.qq.com/cgi-bin/gettoken",
                  json={"errcode": 40001, "errmsg": "invalid credential"})
    result = send("t", "c", QYWX_AM="ww_corp_1,corp_secret_value_9,@all,1000002")
    assert result["wecom_app"].status == "rejected"
    assert "invalid credential" in result["wecom_app"].error
    assert result["wecom_app"].attempts == 1


def test_token_cache_expires_a_minute_before_the_vendor_says():
    now = [1000.0]
    cache = TokenCache(clock=lambda: now[0])
    cache.put("corp|secret", "tok", ttl_s=7200)
    now[0] += 7200 - 61
    assert cache.get("corp|secret") == "tok"
    now[0] += 2
    assert cache.get("corp|secret") is None


def test_a_vendor_that_never_answers_times_out_at_the_configured_timeout(vendor):
    from .local_server import Behaviour

    held = threading.Event()  # set only after the send: the vendor never answered, so the timeout ended it
    vendor.routes["/"] = Behaviour(gate=held)
    try:
        result = send("t", "c", MCP_PUSH_TIMEOUT="0.3", GOTIFY_URL=vendor.url, GOTIFY_TOKEN="gotify_tok_1")
    finally:
        held.set()
    assert (result["gotify"].status, result["gotify"].error) == ("timeout", "no reply within 0.3 s")
    assert "gotify_tok_1" not in (result["gotify"].error or "")


def test_a_refused_connection_is_a_network_error_with_the_token_masked():
    # Port 9 (discard) on loopback is closed on these machines: the connection is refused at once.
    result = send("t", "c", GOTIFY_URL="http://127.0.0.1:9", GOTIFY_TOKEN="gotify_tok_2")
    assert result["gotify"].status == "network_error"
    assert "gotify_tok_2" not in result["gotify"].error
    assert "token=***" in result["gotify"].error


# --- requests sent as planned, debug logs without secrets (found in review) --------------------------

def test_urllib3_debug_logs_carry_no_token(vendor, caplog):
    caplog.set_level(logging.DEBUG)
    send("t", "c", GOTIFY_URL=vendor.url, GOTIFY_TOKEN="gotify_SUPERSECRET_1")
    assert any(r.name.startswith("urllib3") for r in caplog.records), "urllib3 logged nothing: test is moot"
    assert "gotify_SUPERSECRET_1" not in caplog.text


def test_redirects_are_not_followed(vendor):
    vendor.routes["/hook"] = Behaviour(status=302, body="", headers={"Location": "/elsewhere"})
    result = send("t", "c", WEBHOOK_URL=f"{vendor.url}/hook?t=$title")
    assert (result["webhook"].status, result["webhook"].http_status) == ("rejected", 302)
    assert [r.path.split("?")[0] for r in vendor.received] == ["/hook"]
