"""config.py: the words that switch a boolean setting off."""

from __future__ import annotations

import pytest

from mcp_push.config import is_true


@pytest.mark.parametrize("value", ["false", "False", "0", "no", "off", ""])
def test_false_words(value):
    assert is_true(value) is False
