"""transports/pools.py and proxy_env.py: connections pooled per process. They are reused, never one the
server has closed (nor one idle past IDLE_REUSE_SECONDS), no cookie carries over, and the proxy settings
are those requests' trust_env reads (checked against requests' own functions), without rescanning the
environment on every request."""

from __future__ import annotations

import os

import pytest
import requests.utils

from mcp_push import dispatch
from mcp_push.transports import http, pools, proxy_env

from .keepalive_server import KeepAliveServer


@pytest.fixture
def server():
    started = KeepAliveServer(idle_close_s=None).start()
    yield started
    started.stop()


def _env(server: KeepAliveServer) -> dict[str, str]:
    return {"CHRONOCAT_URL": f"http://127.0.0.1:{server.port}", "CHRONOCAT_QQ": "user_id=10001",
            "CHRONOCAT_TOKEN": "chrono_tok_5f3a9c1e77", "HITOKOTO": "false"}


def _send(server: KeepAliveServer):
    [result] = dispatch("t", "c", _env(server)).channels
    return result


def test_two_sends_share_one_pooled_connection(server):
    first, second = _send(server), _send(server)
    assert (first.status, second.status) == ("delivered", "delivered")
    assert len(server.bodies) == 2
    assert server.connections == 1


def test_a_connection_the_server_closed_while_idle_is_opened_anew_not_reported_lost():
    # The server closes a keep-alive connection idle for 0.2 s (its keep-alive timeout): the next request
    # must not go out on it and come back as "may have been delivered", nor reach the vendor twice.
    server = KeepAliveServer(idle_close_s=0.2).start()
    try:
        assert _send(server).status == "delivered"
        assert server.closed_idle.wait(10)
        result = _send(server)
        assert (result.status, result.attempts, result.error) == ("delivered", 1, None)
        assert len(server.bodies) == 2
        assert server.connections == 2
    finally:
        server.stop()


def test_a_connection_idle_past_the_reuse_limit_is_opened_anew(server):
    assert _send(server).status == "delivered"
    for pool in pools.direct().pools._container.values():
        for conn in list(pool.pool.queue):
            if conn is not None:
                conn.mcp_push_idle_since -= http.IDLE_REUSE_SECONDS + 1  # as if idle that long
    assert _send(server).status == "delivered"
    assert server.connections == 2


def test_a_cookie_from_an_earlier_reply_is_not_sent_again(server):
    _send(server)
    _send(server)
    assert server.cookies == [None, None]


def test_the_environment_is_read_once_per_host_not_per_request(server, monkeypatch):
    # requests' trust_env scanned all of os.environ per request (getproxies, proxy_bypass).
    calls = []
    real = proxy_env._getproxies
    monkeypatch.setattr(proxy_env, "_getproxies", lambda: calls.append(1) or real())
    monkeypatch.setenv("FTP_PROXY", "http://ftp.example:2")  # a proxy variable: the environment is read
    for _ in range(5):
        assert _send(server).status == "delivered"
    assert len(calls) == 1


ENVIRONMENTS = [
    {},
    {"HTTPS_PROXY": "http://proxy.example:3128"},
    {"HTTPS_PROXY": "http://proxy.example:3128", "NO_PROXY": "oapi.dingtalk.com"},
    {"HTTPS_PROXY": "http://proxy.example:3128", "NO_PROXY": ".dingtalk.com,127.0.0.0/8"},
    {"HTTPS_PROXY": "http://upper:3128", "https_proxy": "http://lower:3128"},
    {"HTTPS_PROXY": "http://upper:3128", "https_proxy": ""},
    {"HTTP_PROXY": "http://p:1", "REQUEST_METHOD": "GET"},
    {"ALL_PROXY": "socks5://p:1080", "no_proxy": "*"},
    {"http_proxy": "http://p:1", "NO_PROXY": "example.com:8080"},
    {"HTTP_PROXY": "http://p:1", "HTTPS_PROXY": "https://q:2", "NO_PROXY": "10.0.0.0/8, .example.com ,127.1"},
    {"HTTPS_PROXY": "http://p:1", "no_proxy": "dingtalk.com", "NO_PROXY": "other.org"},
    {"HTTPS_PROXY": "http://p:1", "NO_PROXY": "10.1.2.3,127.0.0.0/33,bad/x"},
    {"Https_Proxy": "http://odd-spelling:1", "FTP_PROXY": "http://ftp:2"},
]
URLS = ["https://oapi.dingtalk.com/robot/send?access_token=x", "http://127.0.0.1:16530/api/message/send",
        "http://example.com:8080/a", "http://sub.example.com/b", "http://10.1.2.3:80/c", "https://127.0.0.1/d",
        "http://localhost:8080/e", "https://other.org/f"]


@pytest.mark.parametrize("environment", ENVIRONMENTS, ids=lambda e: ",".join(f"{k}={v}" for k, v in e.items()))
def test_env_proxies_are_those_requests_trust_env_reads(environment, monkeypatch):
    for name in [n for n in os.environ if n.lower().endswith("_proxy")] + ["REQUEST_METHOD"]:
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    for url in URLS:
        assert http.env_proxies(url) == requests.utils.get_environ_proxies(url), url
        want = requests.utils.select_proxy(url, requests.utils.get_environ_proxies(url))
        assert proxy_env.select_proxy(url, http.env_proxies(url)) == want, url


def test_the_ca_bundle_is_read_from_the_environment_as_requests_reads_it(monkeypatch):
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.setenv("CURL_CA_BUNDLE", "/etc/curl.pem")
    assert http.ca_bundle() == "/etc/curl.pem"
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/requests.pem")
    assert http.ca_bundle() == "/etc/requests.pem"
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    monkeypatch.delenv("CURL_CA_BUNDLE")
    assert http.ca_bundle() is True


def test_connections_through_a_proxy_send_without_waiting_for_acks(intercept):
    # urllib3 turns Nagle's algorithm on for proxy connections and writes a request's headers and body
    # apart: on a reused connection each body waited for the proxy's delayed ACK (40 ms).
    import socket

    [result] = dispatch("t", "c", {"GOTIFY_URL": "http://gotify.example", "GOTIFY_TOKEN": "g_tok_1",
                                   "HITOKOTO": "false"}).channels
    assert intercept.seen[0].url == "http://gotify.example/message?token=g_tok_1"
    socks = [conn.sock for manager in pools._proxied.values() for pool in manager.pools._container.values()
             for conn in list(pool.pool.queue) if conn is not None and conn.sock is not None]
    assert socks
    assert all(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) for sock in socks)
