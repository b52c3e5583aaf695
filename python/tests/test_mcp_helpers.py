"""The test helper that tells a started server's own listening socket from another process's on the same
port (mcp_helpers.listens_on): free_port's port can be taken by another xdist worker's server first."""

from __future__ import annotations

import os
import socket
import sys

import pytest

from .mcp_helpers import free_port, listens_on


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_listening_socket_is_told_to_belong_to_its_process_and_no_other():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        assert listens_on(os.getpid(), port) is True
        assert listens_on(os.getppid(), port) is False  # another process: what the helper guards against
    assert listens_on(os.getpid(), free_port()) is False  # nobody listens there
