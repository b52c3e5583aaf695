"""wire.py: percent-encoding, URL normalization, query strings, JSON, form and multipart bodies, and
seconds_text, waits and timeouts in texts (spec/README.md, canonical rule 9). js/test/wire.test.js pins the Node
side, with the same seconds_text table: both runtimes write every value alike."""

from __future__ import annotations

import pytest

from mcp_push.wire import (
    append_query,
    encode_body,
    form_encode,
    multipart_encode,
    normalize_url,
    pct,
    seconds_text,
    to_json,
)


def test_percent_encoding_keeps_only_unreserved_characters():
    assert pct("aZ09-._~ !*'()&=+%#\"/中😀") == (
        "aZ09-._~%20%21%2A%27%28%29%26%3D%2B%25%23%22%2F%E4%B8%AD%F0%9F%98%80"
    )


def test_url_normalisation_encodes_only_what_may_not_stand_raw_and_is_idempotent():
    url = 'https://h.example/p a?q="中"&x=%41'
    once = normalize_url(url)
    assert once == "https://h.example/p%20a?q=%22%E4%B8%AD%22&x=%41"
    assert normalize_url(once) == once


def test_query_is_appended_with_the_right_separator():
    assert append_query("https://h/x", {"a": "1"}) == "https://h/x?a=1"
    assert append_query("https://h/x?k=v", {"a": "1"}) == "https://h/x?k=v&a=1"
    assert append_query("https://h/x?token=", {"a": "1"}) == "https://h/x?token=&a=1"
    assert append_query("https://h/x", {}) == "https://h/x"


def test_json_is_compact_utf8_in_the_given_key_order():
    assert to_json({"b": "中😀\n\"", "a": [1, True, None]}) == '{"b":"中😀\\n\\"","a":[1,true,null]}'


def test_form_fields_are_encoded_and_typed_values_become_text():
    assert form_encode({"t": "a&b", "n": 5, "b": False, "o": {"x": 1}, "skip": None}) == (
        "t=a%26b&n=5&b=false&o=%7B%22x%22%3A1%7D"
    )


def test_multipart_body_layout():
    assert multipart_encode({"a": "1", "b": "x\ny"}, "B") == (
        '--B\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n'
        '--B\r\nContent-Disposition: form-data; name="b"\r\n\r\nx\ny\r\n--B--\r\n'
    )


TABLE = [
    (0, "0"), (1, "1"), (45, "45"), (60, "60"), (120, "120"), (0.5, "0.5"), (1.5, "1.5"), (0.25, "0.25"),
    (0.734212, "0.734"), (1 / 3, "0.333"), (29.99999999, "30"), (0.0004, "0"), (0.0005, "0.001"),
    # Exact binary halves of a millisecond round up (C's %.3f and Python's round half to even would not).
    (0.0625, "0.063"), (90.0625, "90.063"), (2.0625, "2.063"), (0.1875, "0.188"),
    (1e6, "1000000"), (2**31, "2147483648"), (1e15, "1000000000000000"), (-2.5, "-2.5"), (-0.0001, "0"),
    # Every digit of a large one, as the product of the doubles gives it (1e21 * 1000 is not 1e24 exactly).
    (1e21, "999999999999999983222.784"),
]


def test_seconds_to_the_millisecond_halves_up_no_trailing_zeros_no_exponent():
    assert [(value, seconds_text(value)) for value, _ in TABLE] == TABLE


@pytest.mark.parametrize("encoding", ["query", "xml"])
def test_an_encoding_outside_spec_format_2_is_refused_by_name(encoding):
    # `query` (no body, the same as `none`) was removed in spec format 2: the encodings are the ones listed.
    with pytest.raises(ValueError, match=f"unknown body encoding '{encoding}' \\(json, form, multipart, text, none\\)"):
        encode_body(encoding, {"a": 1})
