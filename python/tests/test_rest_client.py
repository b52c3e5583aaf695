"""service/rest_client.py against a loopback HTTP server standing in for `mcp-push serve --transport http`:
the request it makes (path, bearer token, JSON body) and the one-line errors it raises."""

from __future__ import annotations

import json
import threading

import pytest

from mcp_push.config import ConfigError
from mcp_push.service.rest_client import RestError, RestUnreachable, post_event, post_message, server_url

from .local_server import Behaviour, VendorServer
from .mcp_helpers import free_port

TOKEN = "rest_tok_9f8e7d6c5b4a"  # noqa: S105 (a test token)
ACCEPTED = json.dumps({"ok": True, "delivered": 0, "queued": 1, "total": 1, "skipped": None,
                       "summary": "accepted by 1 channel, delivering: ntfy queued", "channels": []})


@pytest.fixture
def server():
    fake = VendorServer(routes={"/v1/": Behaviour(status=202, body=ACCEPTED)}).start()
    yield fake
    fake.stop()


def env_for(server, **extra):
    return {"MCP_PUSH_URL": server.url + "/", "MCP_PUSH_HTTP_TOKEN": TOKEN, **extra}


def test_post_event_sends_the_envelope_and_channels_with_the_bearer_token(server):
    envelope = {"run_id": "proj (abc)", "event": "end", "message": "done"}
    result = post_event(envelope, env_for(server), channels=["ntfy"], idempotency_key="k-1")
    assert result["queued"] == 1 and result["ok"] is True
    [request] = server.received
    assert (request.method, request.path) == ("POST", "/v1/events")
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Idempotency-Key"] == "k-1"
    assert json.loads(request.body) == {**envelope, "channels": ["ntfy"]}


def test_post_event_with_wait_asks_for_final_results_and_without_token_sends_no_authorization(server):
    post_event({"run_id": "r", "event": "start", "message": "m"}, {"MCP_PUSH_URL": server.url}, wait=True)
    [request] = server.received
    assert request.path == "/v1/events?wait=true"
    assert "Authorization" not in request.headers
    assert json.loads(request.body) == {"run_id": "r", "event": "start", "message": "m"}


def test_post_message_sends_title_and_content(server):
    post_message("Backup", "finished", env_for(server))
    [request] = server.received
    assert request.path == "/v1/messages"
    assert json.loads(request.body) == {"title": "Backup", "content": "finished"}


def test_a_400_names_the_servers_error(server):
    server.routes["/v1/"] = Behaviour(status=400, body='{"error": "message: must not be empty"}')
    with pytest.raises(RestError, match=r"answered 400: message: must not be empty$") as caught:
        post_event({"run_id": "r", "event": "end", "message": ""}, env_for(server))
    assert caught.value.status == 400


def test_a_401_says_to_set_the_token_and_never_repeats_it(server):
    server.routes["/v1/"] = Behaviour(status=401, body=json.dumps({"error": f"bad token {TOKEN}"}))
    with pytest.raises(RestError) as caught:
        post_event({"run_id": "r", "event": "end", "message": "m"}, env_for(server))
    assert "refused the token (401): set MCP_PUSH_HTTP_TOKEN" in str(caught.value)
    assert TOKEN not in str(caught.value)


def test_an_answer_that_is_not_json_is_an_error(server):
    server.routes["/v1/"] = Behaviour(status=502, body="<html>Bad gateway</html>")
    with pytest.raises(RestError, match="answered 502: <html>Bad gateway</html>"):
        post_event({"run_id": "r", "event": "end", "message": "m"}, env_for(server))


def test_no_server_listening_is_unreachable():
    port = free_port()
    with pytest.raises(RestUnreachable, match=rf"cannot reach the mcp-push server at http://127.0.0.1:{port} \("):
        post_event({"run_id": "r", "event": "end", "message": "m"}, {"MCP_PUSH_URL": f"http://127.0.0.1:{port}"})


def test_a_server_that_does_not_answer_times_out(server):
    gate = threading.Event()
    server.routes["/v1/"] = Behaviour(gate=gate)
    try:
        with pytest.raises(RestError, match="did not answer within 0.3 s") as caught:
            post_event({"run_id": "r", "event": "end", "message": "m"}, env_for(server), timeout=0.3)
        assert not isinstance(caught.value, RestUnreachable)
    finally:
        gate.set()


def test_the_url_setting_is_checked():
    assert server_url({}) is None
    assert server_url({"MCP_PUSH_URL": "http://127.0.0.1:8765/"}) == "http://127.0.0.1:8765"
    with pytest.raises(ConfigError, match="MCP_PUSH_URL: must be an http"):
        server_url({"MCP_PUSH_URL": "127.0.0.1:8765"})
    with pytest.raises(RestError, match="MCP_PUSH_URL is not set"):
        post_event({"run_id": "r", "event": "end", "message": "m"}, {})
