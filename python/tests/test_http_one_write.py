"""The HTTP transport writes a request's headers and body in one send (pools._OneWriteMixin), with the
same bytes urllib3's own connection writes in two; a body without a Content-Length (which the transport
never makes) and a request without a body go as urllib3 writes them."""

from __future__ import annotations

from urllib3.connection import HTTPConnection

from mcp_push.planner import PlannedRequest
from mcp_push.transports import pools
from mcp_push.transports.http import send_http


def _writes(monkeypatch, cls):
    """What each connection of `cls` passes to send(), one entry per call."""
    sent: list[bytes] = []
    original = cls.send

    def send(self, data):
        sent.append(bytes(data))
        return original(self, data)

    monkeypatch.setattr(cls, "send", send)
    return sent


def _post(url: str, body: str) -> PlannedRequest:
    return PlannedRequest("webhook", "POST", url, {"Content-Type": "application/json", "X-Test": "1"}, body)


def test_headers_and_body_go_in_one_send_with_the_bytes_urllib3_writes(vendor, monkeypatch):
    ours = _writes(monkeypatch, pools._HTTPConnection)
    assert send_http(_post(vendor.url + "/one", '{"text":"héllo"}'), 5).status == 200
    [request] = ours
    head, _, body = request.partition(b"\r\n\r\n")
    assert head.startswith(b"POST /one HTTP/1.1\r\n") and body == '{"text":"héllo"}'.encode()
    assert vendor.received[-1].body == body

    # urllib3's own connection class writes the same bytes, in two sends.
    monkeypatch.setattr(pools._HTTPPool, "ConnectionCls", HTTPConnection)
    monkeypatch.setattr(pools, "_direct", None)  # new pools, of the stock connection class
    stock = _writes(monkeypatch, HTTPConnection)
    assert send_http(_post(vendor.url + "/one", '{"text":"héllo"}'), 5).status == 200
    assert len(stock) == 2
    assert b"".join(stock) == request
    monkeypatch.setattr(pools, "_direct", None)


def test_a_request_without_a_body_and_a_body_without_a_length_go_as_urllib3_writes_them(vendor, monkeypatch):
    ours = _writes(monkeypatch, pools._HTTPConnection)
    assert send_http(PlannedRequest("x", "GET", vendor.url + "/get", {}, None), 5).status == 200
    assert len(ours) == 1 and ours[0].endswith(b"\r\n\r\n")
    ours.clear()
    pool = pools.direct().connection_from_url(vendor.url)
    reply = pool.urlopen("POST", "/chunked", body=b"abc", headers={"Transfer-Encoding": "chunked"}, retries=False)
    assert reply.status == 200
    assert len(ours) == 3 and ours[1:] == [b"3\r\nabc\r\n", b"0\r\n\r\n"]  # framed by urllib3 as before


def test_a_url_prepared_again_comes_out_the_same_and_a_bad_one_fails_every_time(monkeypatch):
    import pytest

    from mcp_push.transports.http import InvalidURL, prepare

    request = PlannedRequest("x", "POST", "http://us%40er:p%3Aw@h.example:8080/a b?q=1#f", {}, "x")
    first, second = prepare(request), prepare(request)
    assert first == second
    assert (first.host, first.port, first.target) == ("h.example", 8080, "/a%20b?q=1")
    assert first.headers["Authorization"].startswith("Basic ")
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example:3128")  # the proxy is the environment's, each time
    assert prepare(request).target == "http://h.example:8080/a%20b?q=1"
    for _ in range(2):
        with pytest.raises(InvalidURL):
            prepare(PlannedRequest("x", "GET", "ftp://h.example/", {}, None))
