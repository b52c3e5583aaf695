"""Canonical wire encodings shared with the Node runtime (the rules are written in spec/README.md).

Both runtimes must produce the same bytes for the same plan, so nothing here may lean on a library's
defaults that differ between languages (urlencode vs URLSearchParams, json.dumps vs JSON.stringify).
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any
from urllib.parse import quote

# RFC 3986 reserved + unreserved characters and '%': what may stay as-is in a URL we were given.
_URL_SAFE = "!#$%&'()*+,/:;=?@[]~"


def pct(value: str) -> str:
    """Percent-encodes everything but RFC 3986 unreserved characters (A-Z a-z 0-9 - . _ ~); space is %20."""
    return quote(value, safe="")


def normalize_url(url: str) -> str:
    """Percent-encodes characters that may not appear raw in a URL (space, quotes, non-ASCII), and no others."""
    return quote(url, safe=_URL_SAFE)


def scalar_text(value: Any) -> str:
    """How a non-string leaf becomes text in a form, query or multipart field."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return to_json(value)
    return str(value)


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def to_json(value: Any) -> str:
    """Compact JSON, UTF-8 (no \\u escapes for non-ASCII), keys in the order given; a lone surrogate
    is escaped as \\udXXX, as JSON.stringify does (it cannot be encoded as UTF-8)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def form_encode(fields: dict[str, Any]) -> str:
    return "&".join(f"{pct(str(k))}={pct(scalar_text(v))}" for k, v in fields.items() if v is not None)


def append_query(url: str, query: dict[str, Any]) -> str:
    encoded = form_encode(query)
    if not encoded:
        return url
    if "?" not in url:
        return f"{url}?{encoded}"
    if url.endswith(("?", "&")):
        return url + encoded
    return f"{url}&{encoded}"


def multipart_boundary(fields: dict[str, Any]) -> str:
    # Derived from the content so a plan is deterministic and identical in both runtimes.
    digest = hashlib.sha256(to_json({k: scalar_text(v) for k, v in fields.items()}).encode()).hexdigest()
    return f"mcp-push-{digest[:32]}"


def multipart_encode(fields: dict[str, Any], boundary: str) -> str:
    parts = []
    for key, value in fields.items():
        if value is None:
            continue
        name = str(key).replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{scalar_text(value)}\r\n'
        )
    return "".join(parts) + f"--{boundary}--\r\n"


def encode_body(encoding: str, body: Any) -> tuple[str | None, str | None]:
    """Returns (wire body text, default Content-Type) for a rendered body tree."""
    if encoding in ("none", "query") or body is None:
        return None, None
    if encoding == "json":
        return to_json(body), "application/json"
    if encoding == "form":
        return form_encode(_as_fields(body, encoding)), "application/x-www-form-urlencoded"
    if encoding == "multipart":
        fields = _as_fields(body, encoding)
        boundary = multipart_boundary(fields)
        return multipart_encode(fields, boundary), f"multipart/form-data; boundary={boundary}"
    if encoding == "text":
        return scalar_text(body), None
    raise ValueError(f"unknown body encoding {encoding!r} (json, form, multipart, text, query, none)")


def _as_fields(body: Any, encoding: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ValueError(f"a {encoding} body must be a mapping of fields")
    return body
