"""Event envelopes beyond what conformance pins: the filled timestamp, the run log's memory, purity."""

from __future__ import annotations

import pytest

from mcp_push.events import EnvelopeError, RunLog, render_event, rfc3339, timestamp_ms, validate_envelope


def test_a_missing_timestamp_is_filled_as_rfc3339_utc_with_milliseconds():
    envelope = validate_envelope({"run_id": "r", "event": "start", "message": "m"}, now=1795488000.1239)
    assert envelope["timestamp"] == "2026-11-24T02:40:00.123Z"  # as JS new Date(ms).toISOString()
    assert timestamp_ms(envelope["timestamp"]) == 1795488000123


def test_validation_returns_a_copy_and_leaves_the_callers_envelope_alone():
    given = {"run_id": "r", "event": "start", "message": "m"}
    validate_envelope(given, now=0)
    assert given == {"run_id": "r", "event": "start", "message": "m"}


def test_an_end_reports_elapsed_once_and_the_run_is_then_forgotten():
    runs = RunLog()
    start = validate_envelope({"run_id": "r", "event": "start", "message": "m", "timestamp": "2026-01-01T00:00:00Z"})
    end = validate_envelope({"run_id": "r", "event": "end", "message": "m", "timestamp": "2026-01-01T00:00:09Z"})
    render_event(start, runs)
    assert render_event(end, runs)[1].endswith("Elapsed: 9s")
    assert "Elapsed" not in render_event(end, runs)[1]


def test_the_run_log_keeps_a_bounded_number_of_runs(monkeypatch):
    monkeypatch.setattr(RunLog, "LIMIT", 3)
    runs = RunLog()
    for index in range(5):
        render_event(validate_envelope({"run_id": f"r{index}", "event": "start", "message": "m"}, now=0), runs)
    assert list(runs._starts) == ["r2", "r3", "r4"]


@pytest.mark.parametrize("stamp", ["2026-02-30T00:00:00Z", "2026-01-01T24:00:00Z", "2026-01-01T00:00:60Z"])
def test_dates_that_do_not_exist_are_rejected(stamp):
    with pytest.raises(EnvelopeError, match="timestamp: must be an RFC 3339 date-time"):
        validate_envelope({"run_id": "r", "event": "start", "message": "m", "timestamp": stamp})


def test_rfc3339_drops_sub_millisecond_digits_like_javascript():
    assert rfc3339(0.0009) == "1970-01-01T00:00:00.000Z"


def test_an_extra_data_value_json_cannot_write_is_refused_naming_the_field():
    """A library caller's extra data value must be a JSON value to be shown (JSON Schema lets anything
    through `additionalProperties: true`); the Node runtime words a BigInt the same way."""
    from datetime import date

    cycle: list = []
    cycle.append(cycle)
    for value in (date(2026, 1, 1), {1, 2}, cycle):
        envelope = validate_envelope({"run_id": "r", "event": "start", "message": "m", "data": {"when": value}})
        with pytest.raises(EnvelopeError, match=r"^data\.when: must be a JSON value$"):
            render_event(envelope, RunLog())


def test_a_refused_extra_data_value_records_no_run_start():
    runs = RunLog()
    start = {"run_id": "r", "event": "start", "message": "m", "timestamp": "2026-11-24T01:00:00Z"}
    with pytest.raises(EnvelopeError):
        render_event(validate_envelope({**start, "data": {"when": {1}}}), runs)
    _, content = render_event(validate_envelope({**start, "event": "end", "timestamp": "2026-11-24T01:00:07Z"}), runs)
    assert "Elapsed" not in content
