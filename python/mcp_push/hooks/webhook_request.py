"""Custom webhook: WEBHOOK_URL / WEBHOOK_BODY / WEBHOOK_HEADERS with $title and $content placeholders.

The body template is parsed first and the message substituted afterwards, so nothing in a title or
content can change the body's structure; a value that is literal JSON in the template keeps its type.
A text body (text/plain, any other type) that is a JSON document gets the title and content escaped
as JSON string content, so it stays JSON (QingLong users send whole JSON objects that way).
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..config import ConfigError
from ..wire import pct, to_json
from . import HookInput

# Keys are ASCII words (as JS's \w); a value runs until the next line that starts a key, so JSON values
# may span lines.
_FIELD = re.compile(r"(\w+):[ \t\n\r\f\v]*((?:(?!\n\w+:).)*)", re.S | re.ASCII)
_PLACEHOLDER = re.compile(r"\$(title|content)")
# ASCII white space only, trimmed the same way in both runtimes (str.strip and String.trim differ).
_SPACE = " \t\n\r\f\v"
_LINES = re.compile(r"\r\n|\n|\r")


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON that both runtimes read")


def _substitute(template: str, title: str, content: str) -> str:
    return _PLACEHOLDER.sub(lambda m: title if m.group(1) == "title" else content, template)


def is_json_document(template: str) -> bool:
    """True when the template, with every $title and $content replaced by the letter x, parses as JSON
    (RFC 8259: no NaN or Infinity). An x parses only inside a JSON string, so then every placeholder
    stands inside one, and a value escaped as string content keeps the document JSON."""
    try:
        json.loads(_PLACEHOLDER.sub("x", template), parse_constant=_reject_constant)
    except ValueError:
        return False
    return True


def substitute_text(template: str, title: str, content: str) -> str:
    """A text body: the template with the placeholders replaced; JSON-escaped in a JSON document
    (newlines as \\n, quotes as \\", backslashes doubled: what the JSON writer writes between quotes)."""
    if not is_json_document(template):
        return _substitute(template, title, content)
    return _substitute(template, to_json(title)[1:-1], to_json(content)[1:-1])


def _fill(node: Any, title: str, content: str) -> Any:
    if isinstance(node, str):
        return _substitute(node, title, content)
    if isinstance(node, list):
        return [_fill(item, title, content) for item in node]
    if isinstance(node, dict):
        return {key: _fill(value, title, content) for key, value in node.items()}
    return node


def parse_fields(body: str, title: str, content: str) -> dict[str, Any]:
    """A JSON object template is the body itself; otherwise one `key: value` per line."""
    whole = body.strip(_SPACE)
    if whole.startswith("{"):
        try:
            parsed = json.loads(whole, parse_constant=_reject_constant)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            return _fill(parsed, title, content)
    fields: dict[str, Any] = {}
    for key, raw in _FIELD.findall(body):
        template = raw.strip(_SPACE)
        try:
            parsed = json.loads(template, parse_constant=_reject_constant)
        except ValueError:
            fields[key] = _substitute(template, title, content)
        else:
            fields[key] = _fill(parsed, title, content)
    return fields


def parse_headers(text: str) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in _LINES.split(text):
        if ":" not in line:
            continue
        name, value = (part.strip(_SPACE) for part in line.split(":", 1))
        if not name:
            continue
        existing = next((k for k in headers if k.lower() == name.lower()), None)
        if existing:
            headers[existing] = f"{headers[existing]}, {value}"
        else:
            headers[name] = value
    return headers


def _encoding_for(content_type: str, body: str) -> str:
    kind = content_type.split(";", 1)[0].strip(_SPACE).lower()
    if kind == "application/json" or kind.endswith("+json"):
        return "json"
    if kind == "application/x-www-form-urlencoded":
        return "form"
    if kind == "multipart/form-data":
        return "multipart"
    if kind == "" and (_FIELD.search(body) or body.strip(_SPACE).startswith("{")):
        return "form"
    return "text"


def webhook_request(data: HookInput) -> dict:
    """`url`, `headers`, `encoding`, `body` from `WEBHOOK_*` (Custom webhook bodies, below)."""
    env = data.env
    url_template, body_template = env["WEBHOOK_URL"], env.get("WEBHOOK_BODY", "")
    if not (_PLACEHOLDER.search(url_template) or _PLACEHOLDER.search(body_template)):
        raise ConfigError("WEBHOOK_URL or WEBHOOK_BODY must contain $title or $content")
    url = _PLACEHOLDER.sub(lambda m: pct(data.title if m.group(1) == "title" else data.content), url_template)
    headers = parse_headers(env.get("WEBHOOK_HEADERS", ""))
    content_type = env.get("WEBHOOK_CONTENT_TYPE", "").strip(_SPACE)
    encoding = _encoding_for(content_type, body_template) if body_template else "none"
    body: Any = None
    if encoding == "text":
        body = substitute_text(body_template, data.title, data.content)
    elif encoding != "none":
        body = parse_fields(body_template, data.title, data.content)
        if not body:
            raise ConfigError("WEBHOOK_BODY has no `key: value` lines and is not a JSON object")
    if encoding == "multipart":
        # The boundary is chosen when the body is encoded; a Content-Type from WEBHOOK_HEADERS cannot
        # name it, so it is dropped and the encoder's `multipart/form-data; boundary=...` is sent.
        headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
    has_type = any(k.lower() == "content-type" for k in headers)
    if content_type and encoding not in ("multipart", "none") and not has_type:
        headers["Content-Type"] = content_type
    # WEBHOOK_URL's and WEBHOOK_HEADERS' credentials are masked by the spec's secret marks (redact.py).
    return {"url": url, "headers": headers, "encoding": encoding, "body": body}
