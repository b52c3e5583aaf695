"""seconds_text: waits and timeouts in texts (spec/README.md, canonical rule 9). The same table is in
js/test/wire.test.js: both runtimes write every value alike."""

from mcp_push.wire import seconds_text

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
