"""A record passes two RedactingFilters (its logger's, the handler's): the second one masks again only
when there is something new to mask (a secret registered in between, a message replaced)."""

from __future__ import annotations

import logging

from mcp_push.logs import RedactingFilter
from mcp_push.redact import REGISTRY


def _record(msg: str, *args) -> logging.LogRecord:
    return logging.LogRecord("mcp_push", logging.INFO, __file__, 1, msg, args or None, None)


def test_a_secret_registered_between_the_two_filters_is_masked_by_the_second():
    REGISTRY.clear()
    REGISTRY.add(["first_secret_aa11"])
    record = _record("%s and %s", "first_secret_aa11", "later_secret_bb22")
    RedactingFilter().filter(record)
    assert record.getMessage() == "*** and later_secret_bb22"
    REGISTRY.add(["later_secret_bb22"])
    RedactingFilter().filter(record)
    assert record.getMessage() == "*** and ***"
    REGISTRY.clear()


def test_a_message_replaced_after_the_first_filter_is_masked_by_the_second():
    REGISTRY.clear()
    REGISTRY.add(["third_secret_cc33"])
    record = _record("nothing to hide")
    RedactingFilter().filter(record)
    record.msg = "now third_secret_cc33 is in it"
    RedactingFilter().filter(record)
    assert record.getMessage() == "now *** is in it"
    REGISTRY.clear()
