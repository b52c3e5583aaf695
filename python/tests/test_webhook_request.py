"""hooks/webhook_request.py: a WEBHOOK_BODY that is a JSON document stays JSON whatever the title and content
hold, for any WEBHOOK_CONTENT_TYPE that sends the template as text (spec/README.md, "Custom webhook bodies")."""

from __future__ import annotations

import json

import pytest

from mcp_push import plan
from mcp_push.hooks.webhook_request import is_json_document

TRICKY = [
    "line1\nline2",  # hitokoto appends a newline and a quote to almost every message
    'say "hi"',
    "C:\\path\\to\\",
    "tab\there\r\nCRLF \u0001 \u001f",
    "\u2028 \u2029 中文 😀",
    "$title and $content are text here",
    '"}], "injected": true, "x": [{"',
]


@pytest.mark.parametrize("content_type", ["text/plain", "text/plain; charset=utf-8", "application/octet-stream", ""])
@pytest.mark.parametrize("content", TRICKY)
def test_a_json_document_body_parses_and_carries_the_message_exactly(content_type, content):
    env = {
        "HITOKOTO": "false",
        "WEBHOOK_URL": "http://127.0.0.1:9/hook",
        "WEBHOOK_BODY": '[{"msgtype": "text", "text": {"content": "$title\\n$content"}}]',
    }
    if content_type:
        env["WEBHOOK_CONTENT_TYPE"] = content_type
    [request] = plan('Backup "nightly"\\', content, env=env, redact=False)
    assert json.loads(request["body"]) == [{"msgtype": "text", "text": {"content": f'Backup "nightly"\\\n{content}'}}]


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ('{"a": "$title"}', True),
        ('["$title $content", 1, null]', True),
        ('"$content"', True),
        ('{"$title": "v"}', True),  # a key is a JSON string too
        ('{"n": $content}', False),  # outside a string: x does not parse there
        ("[$content]", False),
        ("Alert: $title\n$content", False),
        ('{"a": "\\$title"}', False),  # \x is no JSON escape
        ('{"a": NaN, "b": "$title"}', False),  # NaN is not JSON (RFC 8259)
    ],
)
def test_what_counts_as_a_json_document(template, expected):
    assert is_json_document(template) is expected
