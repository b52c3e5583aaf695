from __future__ import annotations

import logging
import os

import pytest

from conformance.runners.python_runner import FakePace
from mcp_push.redact import REGISTRY
from mcp_push.specs import known_env_names
from mcp_push.tokens import TOKENS


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch, tmp_path):
    """No test sees the developer's real channel config, and none fetches a hitokoto quote by accident."""
    for name in known_env_names():
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HITOKOTO", "false")
    # The MCP server's outbox goes to a folder of the test's own (subprocesses inherit it).
    monkeypatch.setenv("MCP_PUSH_STATE_DIR", str(tmp_path / "state"))
    # Nor the developer's routing config (mcp-push.yaml in the user config folder).
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    TOKENS.clear()
    # The process's secret registry grows with every channel planned: one test's short secret (a "1")
    # would mask the next test's text in the same pytest-xdist worker.
    REGISTRY.clear()
    # The CLI run in-process (cli.main) makes the process record its sends by default (api.record_by_default).
    from mcp_push import api

    api._RECORD_DEFAULT_STATE[0] = False
    yield os.environ
    TOKENS.clear()
    REGISTRY.clear()
    api._RECORD_DEFAULT_STATE[0] = False


@pytest.fixture(autouse=True)
def restore_logging_disable():
    """tools/conformance.py's main() (run in-process by test_tools) turns logging off process-wide; a later
    test in the same process (any order: pytest-xdist shares tests between workers) must still see logs."""
    level = logging.root.manager.disable
    yield
    logging.disable(level)


@pytest.fixture(autouse=True)
def restore_logging_setup():
    """The CLI run in-process (cli.main: `send` sets mcp_push's level to ERROR, `serve` to INFO, and puts a
    handler on the root logger) and the detached hook child's setup change process-wide logging; a later test
    in the same worker (any order: slow_first.py moves tests, xdist steals them) must see warnings as before."""
    root, ours = logging.getLogger(), logging.getLogger("mcp_push")
    levels, handlers = (root.level, ours.level), (list(root.handlers), list(ours.handlers))
    yield
    root.setLevel(levels[0])
    ours.setLevel(levels[1])
    root.handlers[:], ours.handlers[:] = handlers


@pytest.fixture(autouse=True)
def stop_owned_engines():
    """Stops the engines of the test's in-process MCP servers (mcp_helpers.in_process_server)."""
    from .mcp_helpers import OWNED_ENGINES

    yield
    while OWNED_ENGINES:
        OWNED_ENGINES.pop().close()


@pytest.fixture(autouse=True)
def fake_retry_pace(monkeypatch):
    """Retry waits pass on a fake clock in-process (a test wanting real waits installs its own Pace);
    the waits asked for are in the returned list."""
    from mcp_push import retry

    fake = FakePace()
    monkeypatch.setattr(retry, "PACE", retry.Pace(fake.sleep, fake.monotonic, fake.random, at_once=1))
    return fake.slept


@pytest.fixture
def vendor():
    from .local_server import VendorServer

    server = VendorServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def _interceptor(tmp_path_factory):
    """One for the whole run (a CA made, a server started once): the tests' pooled connections to it
    are reused from test to test, as a process's are."""
    from .intercept import Interceptor

    server = Interceptor().start()
    server.ca_path = tmp_path_factory.mktemp("intercept") / "ca.pem"
    server.ca.cert_pem.write_to_path(str(server.ca_path))
    yield server
    server.stop()


@pytest.fixture
def intercept(_interceptor, monkeypatch):
    """Every vendor host on loopback (tests/intercept.py): the environment's proxy, trusted through its CA."""
    _interceptor.reset()
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "NO_PROXY", "ALL_PROXY", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", _interceptor.url)
    monkeypatch.setenv("HTTPS_PROXY", _interceptor.url)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(_interceptor.ca_path))
    yield _interceptor
    _interceptor.reset()


@pytest.hookimpl(trylast=True)  # after -m/-k deselection: the list xdist's scheduler gets
def pytest_collection_modifyitems(config, items):
    """The slowest tests start first, on every worker (slow_first.py)."""
    from .slow_first import reorder

    reorder(config, items)


@pytest.hookimpl(optionalhook=True)  # pytest-xdist's, on the controller
def pytest_configure_node(node):
    from .slow_first import tell_workers_the_distribution

    tell_workers_the_distribution(node)

