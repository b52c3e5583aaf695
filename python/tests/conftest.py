from __future__ import annotations

import os

import pytest

from mcp_push.specs import known_env_names
from mcp_push.tokens import TOKENS


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch):
    """No test sees the developer's real channel config, and none fetches a hitokoto quote by accident."""
    for name in known_env_names():
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HITOKOTO", "false")
    TOKENS.clear()
    yield os.environ
    TOKENS.clear()


@pytest.fixture
def vendor():
    from .local_server import VendorServer

    server = VendorServer().start()
    yield server
    server.stop()
