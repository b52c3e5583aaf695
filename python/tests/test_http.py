"""transports/http.py (and tokens.py): what the HTTP transport does beyond the plan: proxies, token caching,
real timeouts, no redirects, debug logs without secrets."""

from __future__ import annotations

import base64
import json
import logging
import threading

from mcp_push import send
from mcp_push.tokens import TokenCache
from mcp_push.transports import pools

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


def _wecom(token_reply: dict):
    def answer(seen):
        reply = token_reply if "/cgi-bin/gettoken" in seen.url else {"errcode": 0, "errmsg": "ok"}
        return 200, {"Content-Type": "application/json"}, json.dumps(reply)

    return answer


def test_wecom_app_token_is_fetched_once_and_reused_until_it_expires(intercept):
    pools.clear()
    intercept.answer = _wecom({"errcode": 0, "errmsg": "ok", "access_token": "wecom_access_1", "expires_in": 7200})
    config = {"QYWX_AM": "ww_corp_1,corp_secret_value_9,@all,1000002"}
    assert send("a", "b", **config)["wecom_app"].ok
    assert send("c", "d", **config)["wecom_app"].ok
    urls = [seen.url for seen in intercept.seen]
    assert [url.split("?")[0] for url in urls] == ["https://qyapi.weixin.qq.com/cgi-bin/gettoken"] + [
        "https://qyapi.weixin.qq.com/cgi-bin/message/send"] * 2
    assert "access_token=wecom_access_1" in urls[2]
    assert [tunnel for tunnel, _ in intercept.tunnels] == ["qyapi.weixin.qq.com:443"]  # one pooled connection


def test_wecom_app_token_failure_is_a_result_not_a_hang(intercept):
    intercept.answer = _wecom({"errcode": 40001, "errmsg": "invalid credential"})
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


# --- the transport on urllib3 keeps what requests did (each against a real server on loopback) ------------

PUSHDEER_OK = (200, {"Content-Type": "application/json"}, '{"code":0,"content":{"result":["ok"]}}')


def test_https_through_the_environment_proxy_is_verified_against_the_ca_bundle(intercept):
    intercept.answer = lambda seen: PUSHDEER_OK
    result = send("t", "c", DEER_KEY="PDU_tls_case_1")
    assert (result["pushdeer"].status, result["pushdeer"].attempts) == ("delivered", 1)
    [seen] = intercept.seen
    assert seen.url == "https://api2.pushdeer.com/message/push"
    assert seen.headers["Accept"] == "*/*" and "gzip" in seen.headers["Accept-Encoding"]
    assert seen.headers["Content-Length"] == str(len(seen.body.encode()))


def test_a_certificate_the_bundle_does_not_trust_is_a_tls_failure_never_retried(intercept, monkeypatch, tmp_path):
    import trustme

    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(other))
    result = send("t", "c", DEER_KEY="PDU_tls_case_2")["pushdeer"]
    assert (result.status, result.attempts) == ("network_error", 1)
    assert result.error == "TLS failed (POST https://api2.pushdeer.com/message/push)"
    assert intercept.seen == []


def test_the_default_bundle_is_certifis_not_the_systems(intercept, monkeypatch):
    # Without REQUESTS_CA_BUNDLE, certifi's roots decide (requests' default): the test CA is not among them.
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    monkeypatch.setenv("SSL_CERT_FILE", str(intercept.ca_path))
    result = send("t", "c", DEER_KEY="PDU_tls_case_3")["pushdeer"]
    assert result.error == "TLS failed (POST https://api2.pushdeer.com/message/push)"


def test_a_reply_closed_before_its_headers_may_have_been_delivered(vendor):
    vendor.routes["/"] = Behaviour(close=True)
    result = send("t", "c", GOTIFY_URL=vendor.url, GOTIFY_TOKEN="gotify_tok_3")["gotify"]
    assert (result.status, result.attempts) == ("network_error", 1)
    assert result.error.startswith("connection closed after the request was sent; the message may have been "
                                   "delivered (POST http://127.0.0.1:")


def test_a_reply_cut_short_may_have_been_delivered(vendor):
    vendor.routes["/"] = Behaviour(cut=True)
    result = send("t", "c", GOTIFY_URL=vendor.url, GOTIFY_TOKEN="gotify_tok_4")["gotify"]
    assert result.status == "network_error"
    assert result.error.startswith("connection closed after the request was sent")


def test_a_refused_connection_is_named_and_retried():
    result = send("t", "c", GOTIFY_URL="http://127.0.0.1:9", GOTIFY_TOKEN="gotify_tok_5")
    assert result["gotify"].error == "connection refused (POST http://127.0.0.1:9/message?token=***) (after 4 tries)"


def test_an_unknown_host_is_named():
    result = send("t", "c", GOTIFY_URL="http://no-such-host.invalid", GOTIFY_TOKEN="gotify_tok_6")
    assert result["gotify"].error == "host not found (POST http://no-such-host.invalid/message?token=***)"


def test_a_gzip_reply_in_gbk_is_decoded(intercept):
    import gzip

    said = json.dumps({"code": 1, "error": "密钥无效"}, ensure_ascii=False).encode("gbk")
    intercept.answer = lambda seen: (200, {"Content-Type": "application/json; charset=GBK",
                                           "Content-Encoding": "gzip"}, gzip.compress(said))
    result = send("t", "c", DEER_KEY="PDU_gbk_case")["pushdeer"]
    assert (result.status, result.error.split(": ")[-1]) == ("rejected", "密钥无效")


def test_a_reply_without_a_charset_is_utf8_and_loses_its_byte_order_mark(intercept):
    said = "\ufeff" + json.dumps({"code": 2, "error": "中文"}, ensure_ascii=False)
    intercept.answer = lambda seen: (200, {"Content-Type": "text/plain"}, said)
    result = send("t", "c", DEER_KEY="PDU_utf8_case")["pushdeer"]
    assert (result.status, result.error.split(": ")[-1]) == ("rejected", "中文")


def test_a_url_that_cannot_be_sent_is_a_config_error_naming_the_variable(vendor):
    result = send("t", "c", WEBHOOK_URL="http://127.0.0.1:99999/hook?t=$title")["webhook"]
    assert result.status == "config_error"
    assert result.error == "the request cannot be sent as configured: check WEBHOOK_URL"
    assert vendor.received == []


def test_user_and_password_in_the_url_become_basic_authorization(vendor):
    host = vendor.url.removeprefix("http://")
    send("t", "c", WEBHOOK_URL=f"http://hook%40user:p%3Ass@{host}/hook?t=$title")
    [request] = vendor.received
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(b"hook@user:p:ss").decode()
    assert request.path == "/hook?t=t"
