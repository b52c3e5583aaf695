"""The REST endpoint (/v1/events, /v1/messages, /v1/openapi.json; service/rest.py) of a real
`mcp-push serve --transport http` process, over real HTTP, delivering to a loopback vendor: the MCP
tools' checks and words, the same result, the HTTP server's guards, and idempotency keys that hold
across a restart."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import threading
from types import SimpleNamespace

import httpx2
import jsonschema
import pytest
from openapi_spec_validator import validate

from mcp_push.service import idempotency
from mcp_push.service.idempotency import KEEP_SECONDS, PENDING, Answer, IdempotencyStore
from mcp_push.service.rest import RestApp

from .local_server import Behaviour
from .mcp_helpers import REPO, child_env, http_server, webhook_env

TOKEN = "rest-token-for-tests-5c1e"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
EVENT = {"run_id": "nightly-build", "event": "end", "message": "Build finished",
         "data": {"artifact_url": "https://ci.example.com/runs/7"}}


def base(url: str) -> str:
    return url.removesuffix("/mcp")


def post(url: str, path: str, body=None, headers: dict[str, str] | None = None, **kwargs) -> httpx2.Response:
    with httpx2.Client(timeout=70) as client:
        return client.post(base(url) + path, json=body, headers={**AUTH, **(headers or {})}, **kwargs)


def mcp_error(url: str, tool: str, arguments: dict) -> str:
    """The same call as an MCP tools/call on the same server: its refusal's '<field>: <rule>'."""
    call = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": tool, "arguments": arguments}}
    with httpx2.Client(timeout=20) as client:
        answer = client.post(url, json=call, headers={**AUTH, "Accept": "application/json, text/event-stream"})
    return answer.json()["result"]["structuredContent"]["error"]


def server_env(vendor, **extra: str) -> dict[str, str]:
    return {**webhook_env(vendor), "MCP_PUSH_HTTP_TOKEN": TOKEN, **extra}


def test_an_event_is_accepted_202_with_the_tools_result_and_delivered(vendor):
    with http_server(server_env(vendor)) as url:
        answer = post(url, "/v1/events", EVENT)
        assert answer.status_code == 202
        result = answer.json()
        assert set(result) == {"ok", "delivered", "queued", "total", "skipped", "summary", "error", "message_id",
                               "channels"}
        assert len(result["message_id"]) == 16  # for notify_status
        assert result["ok"] is True and result["total"] == 1 and result["channels"][0]["channel"] == "webhook"
        assert result["channels"][0]["status"] in ("queued", "delivered")
    # Stopping the server drains what it accepted: the vendor got the rendered event, once.
    [body] = vendor.json_bodies()
    assert "nightly-build" in body["title"] and "Build finished" in body["content"]
    assert "https://ci.example.com/runs/7" in body["content"]


@pytest.mark.parametrize("path", ["/v1/events", "/v1/messages"])
def test_wait_true_answers_200_with_the_final_results(vendor, path):
    body = EVENT if path == "/v1/events" else {"title": "Deploy", "content": "v1.2 is live"}
    with http_server(server_env(vendor)) as url:
        answer = post(url, path + "?wait=true", body)
        assert answer.status_code == 200
        result = answer.json()
        assert (result["ok"], result["delivered"], result["queued"]) == (True, 1, 0)
        assert result["channels"][0]["status"] == "delivered" and result["channels"][0]["http_status"] == 200
        assert len(vendor.received) == 1  # delivered before the answer
    if path == "/v1/messages":
        assert vendor.json_bodies() == [{"title": "Deploy", "content": "v1.2 is live"}]


def test_a_failed_delivery_is_reported_in_the_result_with_the_vendors_answer(vendor):
    vendor.routes["/hook"] = Behaviour(status=400, body='{"error":"bad payload"}')
    with http_server(server_env(vendor, MCP_PUSH_RETRY_ATTEMPTS="1")) as url:
        answer = post(url, "/v1/messages?wait=1", {"title": "t", "content": "c"})
    assert answer.status_code == 200
    result = answer.json()
    assert result["ok"] is False and result["channels"][0]["status"] == "rejected"
    assert "bad payload" in result["channels"][0]["error"]


@pytest.mark.parametrize(("path", "tool", "body", "error"), [
    ("/v1/events", "notify_event", {**EVENT, "data": {"progress": 1.5}},
     "invalid event: data.progress: must be at most 1"),
    ("/v1/events", "notify_event", {"run_id": "r", "event": "finish", "message": "m"},
     "invalid event: event: must be one of start, update, end, error"),
    ("/v1/events", "notify_event", {"event": "end", "message": "m"}, "invalid event: run_id: is required"),
    ("/v1/events", "notify_event", {**EVENT, "channels": []}, None),
    ("/v1/events", "notify_event", {**EVENT, "channels": ["nope"]}, "channels: unknown channel 'nope'"),
    ("/v1/events", "notify_event", {**EVENT, "token": "x"}, "token: not an argument of this tool"),
    ("/v1/messages", "notify_send", {"title": "t"}, "content: is required"),
    ("/v1/messages", "notify_send", {"title": 5, "content": "c"}, "title: must be a string"),
])
def test_a_bad_body_is_400_naming_the_field_in_the_mcp_tools_words(vendor, path, tool, body, error):
    with http_server(server_env(vendor)) as url:
        answer = post(url, path, body)
        assert answer.status_code == 400
        message = answer.json()["error"]
        assert answer.json() == {"error": message}
        assert message == mcp_error(url, tool, body)  # the very words of the MCP tool
        if error is not None:
            assert message.startswith(error)
        else:
            assert message.startswith("channels: must name at least one channel")
    assert vendor.received == []


def test_a_wrong_or_missing_token_is_401_and_sends_nothing(vendor):
    with http_server(server_env(vendor)) as url:
        for headers in ({"Authorization": ""}, {"Authorization": f"Bearer {TOKEN}x"}, {"Authorization": TOKEN}):
            answer = post(url, "/v1/events", EVENT, headers)
            assert answer.status_code == 401
            assert "MCP_PUSH_HTTP_TOKEN" in answer.json()["error"] and TOKEN not in answer.text
        assert post(url, "/v1/events", EVENT,
                    {"Authorization": "bearer " + TOKEN}).status_code == 202
    assert len(vendor.received) == 1


def test_a_body_over_the_limit_is_413(vendor):
    with http_server(server_env(vendor, MCP_PUSH_HTTP_MAX_BODY="2000")) as url:
        big = {**EVENT, "message": "x" * 2000}
        answer = post(url, "/v1/events", big)
        assert answer.status_code == 413 and "MCP_PUSH_HTTP_MAX_BODY" in answer.json()["error"]

        def chunks():  # no Content-Length: the limit holds while the body streams in
            yield json.dumps(big).encode()

        with httpx2.Client(timeout=20) as client:
            streamed = client.post(base(url) + "/v1/events", content=chunks(),
                                   headers={**AUTH, "Content-Type": "application/json"})
        assert streamed.status_code == 413
    assert vendor.received == []


@pytest.mark.parametrize(("content_type", "body"), [
    ("application/x-www-form-urlencoded", json.dumps(EVENT)),  # what curl -d sends without -H
    ("text/plain", json.dumps(EVENT)),
    (None, json.dumps(EVENT)),
    ("application/json", "run_id=r&event=end"),
    ("application/json", '{"run_id": "r",'),
    ("application/json; charset=utf-8", b"\xff\xfe{}"),
])
def test_a_body_that_is_not_json_is_415(vendor, content_type, body):
    with http_server(server_env(vendor)) as url, httpx2.Client(timeout=20) as client:
        headers = {**AUTH, **({"Content-Type": content_type} if content_type else {})}
        answer = client.post(base(url) + "/v1/events", content=body, headers=headers)
        assert answer.status_code == 415
        assert answer.json()["error"].startswith(("Content-Type: must be application/json", "body: must be JSON"))
    assert vendor.received == []


def test_wrong_methods_are_405_and_unknown_paths_404(vendor):
    with http_server(server_env(vendor)) as url, httpx2.Client(timeout=20, headers=AUTH) as client:
        for method, path, allow in (("GET", "/v1/events", "POST"), ("PUT", "/v1/messages", "POST"),
                                    ("POST", "/v1/openapi.json", "GET, HEAD")):
            answer = client.request(method, base(url) + path, json={})
            assert (answer.status_code, answer.headers["allow"]) == (405, allow), path
            assert "allowed" in answer.json()["error"]
        missing = client.post(base(url) + "/v1/event", json=EVENT)
        assert missing.status_code == 404 and "/v1/events" in missing.json()["error"]
        assert post(url, "/v1/events", [EVENT]).json() == {"error": "body: must be a JSON object"}
        assert post(url, "/v1/events?wait=soon", EVENT).json() == {"error": "wait: must be true or false"}
    assert vendor.received == []


def test_host_and_origin_rules_apply_to_the_rest_endpoint(vendor):
    with http_server(server_env(vendor)) as url:
        denied = post(url, "/v1/events", EVENT, {"Host": "evil.test"})
        assert denied.status_code == 421 and "MCP_PUSH_HTTP_HOSTS" in denied.json()["error"]
        denied = post(url, "/v1/events", EVENT, {"Origin": "http://evil.test"})
        assert denied.status_code == 403 and "MCP_PUSH_HTTP_ORIGINS" in denied.json()["error"]
        assert post(url, "/v1/events", EVENT, {"Origin": "http://localhost:3000"}).status_code == 202
    assert len(vendor.received) == 1


def test_a_repeated_idempotency_key_gets_the_first_answer_and_sends_nothing(vendor, tmp_path):
    env = server_env(vendor, MCP_PUSH_STATE_DIR=str(tmp_path / "shared-state"))
    key = {"Idempotency-Key": "deploy-2026-12-01-42"}
    with http_server(env) as url:
        first = post(url, "/v1/events?wait=true", EVENT, key)
        again = post(url, "/v1/events?wait=true", EVENT, key)
        assert first.status_code == again.status_code == 200
        assert again.content == first.content
        assert again.headers["idempotent-replayed"] == "true" and "idempotent-replayed" not in first.headers
        # The key in the body (event_id) is the same key.
        assert post(url, "/v1/events?wait=true", {**EVENT, "event_id": key["Idempotency-Key"]}).content == first.content
        assert len(vendor.received) == 1
        other = post(url, "/v1/events?wait=true", EVENT, {"Idempotency-Key": "deploy-2026-12-01-43"})
        assert other.status_code == 200 and "idempotent-replayed" not in other.headers
        assert len(vendor.received) == 2
    with http_server(env) as url:  # another server process on the same state folder
        after = post(url, "/v1/events", EVENT, key)
        assert (after.status_code, after.content) == (200, first.content)
    assert len(vendor.received) == 2


def test_concurrent_requests_with_one_key_send_once_and_get_one_answer(vendor):
    gate = threading.Event()
    vendor.routes["/hook"] = Behaviour(gate=gate)
    answers = []
    with http_server(server_env(vendor)) as url:
        def call():
            answers.append(post(url, "/v1/messages?wait=true", {"title": "t", "content": "c", "event_id": "k1"}))

        threads = [threading.Thread(target=call) for _ in range(3)]
        for thread in threads:
            thread.start()
        while not vendor.received:  # the first request is at the vendor, held there
            threading.Event().wait(0.05)
        gate.set()
        for thread in threads:
            thread.join()
    assert len(vendor.received) == 1
    assert len(answers) == 3 and {(a.status_code, a.content) for a in answers} == {(200, answers[0].content)}
    assert answers[0].json()["delivered"] == 1


def test_a_refused_body_does_not_use_up_its_key(vendor):
    with http_server(server_env(vendor)) as url:
        key = {"Idempotency-Key": "retry-me"}
        assert post(url, "/v1/events", {**EVENT, "event": "done"}, key).status_code == 400
        assert post(url, "/v1/events", EVENT, key).status_code == 202
        clash = post(url, "/v1/events", {**EVENT, "event_id": "other"}, key)
        assert clash.json() == {"error": "event_id: must equal the Idempotency-Key header when both are sent"}
        assert post(url, "/v1/events", {**EVENT, "event_id": ""}).json() == {"error": "event_id: must not be empty"}
    assert len(vendor.received) == 1


def test_the_openapi_document_is_valid_and_describes_the_answers(vendor):
    with http_server(server_env(vendor)) as url, httpx2.Client(timeout=20, headers=AUTH) as client:
        document = client.get(base(url) + "/v1/openapi.json").json()
        head = client.head(base(url) + "/v1/openapi.json")
        assert (head.status_code, head.content) == (200, b"")
        validate(document)  # OpenAPI 3.1, as openapi-spec-validator reads it
        assert set(document["paths"]) == {"/v1/events", "/v1/messages", "/v1/openapi.json"}
        result = post(url, "/v1/events", EVENT).json()
    schemas = document["components"]["schemas"]
    # Real bodies fit their schemas (the refs resolve inside the document).
    jsonschema.validate(result, {**schemas["PushResult"], "components": document["components"]})
    jsonschema.validate({**EVENT, "channels": ["webhook"], "event_id": "k"}, schemas["Event"])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**EVENT, "token": "x"}, schemas["Event"])


# --- the documented recipes (docs/INTEGRATIONS.md), run as written against a real server ----------------

def doc_block(section: str, language: str, marker: str) -> str:
    """The code block of `language` containing `marker` in the docs' `## section`."""
    text = (REPO / "docs" / "INTEGRATIONS.md").read_text(encoding="utf-8")
    body = text.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    blocks = [block.split("\n", 1)[1] for block in body.split("```")[1::2] if block.startswith(language + "\n")]
    [block] = [block for block in blocks if marker in block]
    return block


CI_ENV = {"GITHUB_REPOSITORY": "octo/app", "GITHUB_RUN_ID": "7701", "GITHUB_RUN_ATTEMPT": "1",
          "GITHUB_JOB": "build", "GITHUB_SERVER_URL": "https://github.com"}


def test_the_ci_curl_step_sends_one_error_event_even_when_run_twice(vendor):
    script = doc_block("REST API", "sh", "jq -n")
    with http_server(server_env(vendor)) as url:
        env = child_env({**CI_ENV, "MCP_PUSH_URL": base(url), "MCP_PUSH_HTTP_TOKEN": TOKEN})
        for _ in range(2):  # a re-run of the step: the same key
            done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], env=env, capture_output=True,
                                  text=True, timeout=90)
            assert (done.returncode, done.stdout.strip()) == (0, "true"), done.stderr
        message = doc_block("REST API", "sh", "/v1/messages")
        done = subprocess.run(["bash", "-euo", "pipefail", "-c", message], env=env, capture_output=True, text=True,
                              timeout=90)
        assert done.returncode == 0 and json.loads(done.stdout)["ok"] is True, done.stderr
        failing = subprocess.run(["bash", "-euo", "pipefail", "-c", script], capture_output=True, text=True,
                                 env={**env, "MCP_PUSH_HTTP_TOKEN": "wrong", "GITHUB_RUN_ATTEMPT": "2"}, timeout=90)
        assert failing.returncode != 0 and "MCP_PUSH_HTTP_TOKEN" in failing.stderr  # the refusal is in the log
    event, plain = vendor.json_bodies()
    assert "octo/app#7701" in event["title"] and "job build failed" in event["content"]
    assert "https://github.com/octo/app/actions/runs/7701" in event["content"]
    assert plain == {"title": "Deploy", "content": "v1.2 is live"}


def test_the_airflow_failure_callback_posts_one_error_event_per_try(vendor, monkeypatch):
    namespace: dict = {}
    exec(doc_block("Airflow and Prefect", "python", "def notify_mcp_push"), namespace)  # noqa: S102 - our docs
    ti = SimpleNamespace(dag_id="etl", task_id="load", run_id="scheduled__2026-12-01T00:00:00+00:00",
                         try_number=2, log_url="http://airflow.example:8080/log?dag_id=etl&task_id=load")
    context = {"task_instance": ti, "exception": TimeoutError("warehouse did not answer")}
    with http_server(server_env(vendor)) as url:
        monkeypatch.setenv("MCP_PUSH_URL", base(url) + "/")
        monkeypatch.setenv("MCP_PUSH_HTTP_TOKEN", TOKEN)
        namespace["notify_mcp_push"](context)
        namespace["notify_mcp_push"](context)  # Airflow calling the callback again for the same try
    [event] = vendor.json_bodies()
    assert "etl/scheduled__2026-12-01T00:00:00+00:00" in event["title"]
    for text in ("etl.load failed: warehouse did not answer", "TimeoutError", "airflow.example:8080/log"):
        assert text in event["content"]


def test_the_prefect_webhook_block_posts_a_message(vendor):
    block = json.loads(doc_block("Airflow and Prefect", "json", "json_data"))
    with http_server(server_env(vendor)) as url:
        # What Prefect's CustomWebhookNotificationBlock does: {{name}} placeholders from its secrets and
        # the notification's subject and body, then one request.
        values = {"mcp_push_token": TOKEN, "subject": "Flow run nightly/clever-otter: Failed",
                  "body": "Flow run clever-otter entered state Failed", "name": block["name"]}

        def fill(value):
            if isinstance(value, dict):
                return {key: fill(item) for key, item in value.items()}
            return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: values[m.group(1)], value)

        target = block["url"].replace("https://push.example.com", base(url))
        with httpx2.Client(timeout=20) as client:
            answer = client.request(block["method"], target, headers=fill(block["headers"]),
                                    json=fill(block["json_data"]))
        assert answer.status_code == 202 and answer.json()["ok"] is True
    assert vendor.json_bodies() == [{"title": "Flow run nightly/clever-otter: Failed",
                                     "content": "Flow run clever-otter entered state Failed"}]


def test_keys_are_kept_24_hours_and_bounded(tmp_path, monkeypatch):
    now = [1000.0]
    store = IdempotencyStore(tmp_path / "outbox.sqlite3", clock=lambda: now[0])
    assert store.claim("k") is None
    assert store.claim("k") == PENDING
    store.finish("k", Answer(202, '{"ok": true}'))
    now[0] += KEEP_SECONDS - 1
    assert store.claim("k") == Answer(202, '{"ok": true}')
    now[0] += 2  # a day after the first: forgotten, the key is new again
    assert store.claim("k") is None
    monkeypatch.setattr(idempotency, "MAX_KEYS", 3)
    for n in range(5):
        now[0] += 1
        assert store.claim(f"key-{n}") is None
    assert store.claim("key-4") == PENDING and store.claim("key-2") == PENDING
    assert store.claim("key-0") is None  # the oldest went first
    store.release("key-0")
    assert store.claim("key-0") is None
    rows = store._db.execute("SELECT key FROM idempotency").fetchall()
    assert len(rows) <= 3 and all(len(key) == 64 and "key" not in key for (key,) in rows)  # digests only
    store.close()


def asgi_post(app, path: str, body: bytes, headers: list[tuple[bytes, bytes]]) -> tuple[int, dict]:
    """One request straight into the ASGI app (no server): (status, JSON body)."""
    sent: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": path, "query_string": b"", "headers": headers}
    asyncio.run(app(scope, receive, send))
    return sent[0]["status"], json.loads(sent[1]["body"])


def test_a_bug_behind_the_endpoint_is_a_json_500_and_frees_the_key(caplog):
    calls = []

    async def broken(kind, arguments):
        calls.append(kind)
        raise RuntimeError("engine exploded")

    app = RestApp(None, broken, 1000)
    headers = [(b"content-type", b"application/json"), (b"idempotency-key", b"k")]
    for _ in range(2):  # the key was released: the second request is handled afresh, not replayed
        status, body = asgi_post(app, "/v1/messages", b'{"title": "t", "content": "c"}', headers)
        assert (status, body) == (500, {"error": "internal error: the server's log says what went wrong"})
    assert calls == ["send", "send"]
    assert "engine exploded" in caplog.text
