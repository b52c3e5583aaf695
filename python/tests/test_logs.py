"""logs.py: one logging setup (log_to_stderr) for every entry point, records to stderr with secrets masked."""

from __future__ import annotations

import logging

from mcp_push import logs
from mcp_push.service import cli


def test_the_cli_sets_logging_up_through_the_one_setup(monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(logs, "log_to_stderr", lambda level, own_process=False: calls.append((level, own_process)))
    assert cli.main(["channels", "--json"]) == cli.OK
    assert calls == [(logging.ERROR, True)]


def test_the_drop_in_setup_leaves_a_script_with_its_own_logging_alone(monkeypatch):
    root, log = logging.getLogger(), logging.getLogger("mcp_push")
    script_handler = logging.NullHandler()
    monkeypatch.setattr(root, "handlers", [script_handler])
    monkeypatch.setattr(log, "handlers", [])
    logs.log_to_stderr()
    assert root.handlers == [script_handler] and log.handlers == []


def test_the_drop_in_setup_masks_secrets_on_stderr(monkeypatch, capsys):
    from mcp_push.redact import process_redactor

    root, log = logging.getLogger(), logging.getLogger("mcp_push")
    monkeypatch.setattr(root, "handlers", [])
    monkeypatch.setattr(log, "handlers", [])
    monkeypatch.setattr(log, "level", log.level)
    process_redactor().add(["s3cr3t-value-123"])
    logs.log_to_stderr()
    log.info("token is s3cr3t-value-123")
    err = capsys.readouterr().err
    assert "token is ***" in err and "s3cr3t" not in err
