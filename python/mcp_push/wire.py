"""Canonical wire encodings shared with the Node runtime (the rules are written in spec/README.md).

Both runtimes must produce the same bytes for the same plan, so nothing here may lean on a library's
defaults that differ between languages (urlencode vs URLSearchParams, json.dumps vs JSON.stringify).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from typing import Any
from urllib.parse import quote

# RFC 3986 reserved + unreserved characters and '%': what may stay as-is in a URL we were given.
_URL_SAFE = "!#$%&'()*+,/:;=?@[]~"


# Texts quote() would return unchanged, found by one regex instead of its encode-and-strip (most values
# planned are ids, tokens and URLs that need no encoding).
_UNRESERVED_ONLY = re.compile(r"[A-Za-z0-9_.~-]*")
_URL_CHARS_ONLY = re.compile(r"[A-Za-z0-9_.~!#$%&'()*+,/:;=?@\[\]-]*")


def pct(value: str) -> str:
    """Percent-encodes everything but RFC 3986 unreserved characters (A-Z a-z 0-9 - . _ ~); space is %20."""
    if _UNRESERVED_ONLY.fullmatch(value):
        return value
    return quote(value, safe="")


def normalize_url(url: str) -> str:
    """Percent-encodes characters that may not appear raw in a URL (space, quotes, non-ASCII), and no others."""
    if _URL_CHARS_ONLY.fullmatch(url):
        return url
    return quote(url, safe=_URL_SAFE)


# Numbers are IEEE-754 doubles written as JavaScript writes them (Number.prototype.toString), so the
# Node runtime, whose numbers are all doubles, produces the same bytes: 5.0 is "5", 1e-7 is "1e-7",
# 1e21 is "1e+21", and an integer beyond 2**53 is rounded to the nearest double.
_SAFE_INTEGER = 2**53


def js_number(value: int | float) -> str:
    if isinstance(value, int) and abs(value) <= _SAFE_INTEGER:
        return str(value)
    number = float(value)
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "Infinity" if number > 0 else "-Infinity"
    if number == 0:
        return "0"
    sign = "-" if number < 0 else ""
    # The shortest digits that round-trip, as repr() finds them; n places the decimal point.
    shortest = repr(abs(number)).lower()
    mantissa, _, exp = shortest.partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = (whole + fraction).lstrip("0") or "0"
    point = len(whole.lstrip("0")) if whole.strip("0") else -(len(fraction) - len(fraction.lstrip("0")))
    n = point + (int(exp) if exp else 0)
    digits = digits.rstrip("0") or "0"
    k = len(digits)
    if k <= n <= 21:
        text = digits + "0" * (n - k)
    elif 0 < n <= 21:
        text = f"{digits[:n]}.{digits[n:]}"
    elif -6 < n <= 0:
        text = "0." + "0" * (-n) + digits
    else:
        e = n - 1
        text = (digits[0] + ("." + digits[1:] if k > 1 else "")) + ("e+" if e >= 0 else "e-") + str(abs(e))
    return sign + text


def seconds_text(seconds: float) -> str:
    """A wait or timeout in a text: seconds rounded to the millisecond (halves up), at most three decimals,
    no trailing zeros (1, 0.5, 45, 0.734). The same arithmetic on the same double in both runtimes."""
    millis = math.floor(abs(seconds) * 1000 + 0.5)
    whole, fraction = divmod(millis, 1000)
    sign = "-" if seconds < 0 and millis else ""
    return f"{sign}{whole}" + (f".{fraction:03d}".rstrip("0") if fraction else "")


_INDEX_KEY = re.compile(r"^(?:0|[1-9][0-9]*)$")
_DIGITS = frozenset("0123456789")
_MAX_INDEX = 2**32 - 2


def _is_index(key: str) -> bool:
    return bool(_INDEX_KEY.match(key)) and int(key) <= _MAX_INDEX


def js_key_order(mapping: dict[str, Any]) -> dict[str, Any]:
    """Keys as a JavaScript object holds them: integer-like keys first, ascending, then the rest in
    insertion order. Plain JS objects cannot keep "2" before "1", so the canonical order is theirs."""
    for key in mapping:  # an index key starts with a digit: most mappings have none, seen at a glance
        text = str(key)
        if text[:1] in _DIGITS and _is_index(text):
            break
    else:
        return mapping
    keys = list(mapping)
    index = sorted((k for k in keys if _is_index(str(k))), key=lambda k: int(k))
    return {k: mapping[k] for k in index + [k for k in keys if not _is_index(str(k))]}


def scalar_text(value: Any) -> str:
    """How a non-string leaf becomes text in a form, query or multipart field."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return js_number(value)
    if value is None:
        return "null"
    if isinstance(value, (dict, list)):
        return to_json(value)
    return str(value)


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
# A per-process nonce keeps message text from ever looking like the marker (os.urandom, as uuid4 draws
# it: uuid's import, with platform's, is a one-shot script's millisecond before its first request).
_NUMBER_MARK = f"\x00{os.urandom(16).hex()}\x00"


def _canonical(value: Any, numbers: list[str]) -> Any:
    """The tree with JS key order and every number that Python would write differently swapped for a
    marker (json.dumps cannot be told how to write a float)."""
    if type(value) is str:  # the most common leaf, and never changed
        return value
    # Text leaves, most of a body, are taken as they are without a call each.
    if isinstance(value, dict):
        return {str(k): v if type(v) is str else _canonical(v, numbers) for k, v in js_key_order(value).items()}
    if isinstance(value, list):
        return [v if type(v) is str else _canonical(v, numbers) for v in value]
    big_int = isinstance(value, int) and not isinstance(value, bool) and abs(value) > _SAFE_INTEGER
    if isinstance(value, float) or big_int:
        if isinstance(value, float) and not math.isfinite(value):
            return None  # JSON.stringify writes NaN and Infinity as null
        numbers.append(js_number(value))
        return f"{_NUMBER_MARK}{len(numbers) - 1}"
    return value


# One encoder for every body: json.dumps with these options builds a new JSONEncoder per call.
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
# The C encoder JSONEncoder.encode builds for each call, called directly (a new circular-reference
# table each time, as encode makes): the same text and the same errors, without encode's Python layers.
_C_ENCODER = getattr(json.encoder, "c_make_encoder", None)


def _plain(value: Any) -> bool:
    """Whether _canonical would leave the tree as it is: text keys that are no array index, and only
    text, booleans, null, integers JavaScript holds exactly, lists and plain dicts."""
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return True
    if kind is int:
        return -_SAFE_INTEGER <= value <= _SAFE_INTEGER
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str or (key[:1] in _DIGITS and _is_index(key)):
                return False
            if type(item) is not str and not _plain(item):
                return False
        return True
    if kind is list:
        return all(type(item) is str or _plain(item) for item in value)
    return False


def to_json(value: Any) -> str:
    """Compact JSON, UTF-8 (no \\u escapes for non-ASCII), keys in the canonical order, numbers as
    JavaScript writes them; a lone surrogate is escaped as \\udXXX, as JSON.stringify does."""
    if _C_ENCODER is not None and _plain(value):  # most bodies: nothing to reorder or rewrite
        text = "".join(_C_ENCODER({}, _JSON.default, json.encoder.encode_basestring, None, ":", ",",
                                  False, False, True)(value, 0))
        if text.isascii():  # a lone surrogate is not ASCII: nothing to escape, without the regex's scan
            return text
        return _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
    numbers: list[str] = []
    text = _JSON.encode(_canonical(value, numbers))
    if numbers:
        marker = re.escape(json.dumps(_NUMBER_MARK)[1:-1])
        text = re.sub(f'"{marker}(\\d+)"', lambda m: numbers[int(m.group(1))], text)
    return _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def form_encode(fields: dict[str, Any]) -> str:
    ordered = js_key_order(fields)
    return "&".join(f"{pct(str(k))}={pct(scalar_text(v))}" for k, v in ordered.items() if v is not None)


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
    as_text = {k: scalar_text(v) for k, v in js_key_order(fields).items()}
    digest = hashlib.sha256(to_json(as_text).encode()).hexdigest()
    return f"mcp-push-{digest[:32]}"


def multipart_encode(fields: dict[str, Any], boundary: str) -> str:
    parts = []
    for key, value in js_key_order(fields).items():
        if value is None:
            continue
        name = str(key).replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{scalar_text(value)}\r\n'
        )
    return "".join(parts) + f"--{boundary}--\r\n"


def encode_body(encoding: str, body: Any) -> tuple[str | None, str | None]:
    """Returns (wire body text, default Content-Type) for a rendered body tree."""
    if encoding == "none" or body is None:
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
    raise ValueError(f"unknown body encoding '{encoding}' (json, form, multipart, text, none)")


def _as_fields(body: Any, encoding: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ValueError(f"a {encoding} body must be a mapping of fields")
    return body
