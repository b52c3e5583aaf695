"""Integrations with what is not an MCP model: `mcp-push run` (service/run_command.py), Celery (celery.py),
GitHub Actions (action.yml). Each sends event envelopes through `send`: to the server at MCP_PUSH_URL when
one is set, else itself with the library (events.send_event), so there is one pipeline either way."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

log = logging.getLogger("mcp_push")


def send(envelope: Mapping[str, Any], env: Mapping[str, Any], channels: Iterable[str] | None = None,
         runs: Any = None) -> str | None:
    """Sends one event (to MCP_PUSH_URL's server; from this process when it is unset or no server
    answers there); None when every channel took it, else why not (secrets masked). Never raises:
    a notification that fails must not break the job it reports on. `runs` is the RunLog to render with."""
    from ..config import ConfigError
    from ..service.outcome import SecretRedactor, outcome
    from ..service.rest_client import RestError, RestUnreachable, post_event, server_url
    from ..specs import SpecError

    redactor = SecretRedactor(env)
    try:
        if server_url(env):
            try:
                answer = post_event(envelope, env, channels)
                return None if answer.get("ok") else redactor.text(str(answer.get("summary") or "not accepted"))
            except RestUnreachable as exc:  # no server there at all: nothing was sent, so send it ourselves
                log.warning("%s; sending the event from this process", redactor.text(str(exc)))
        from ..events import RunLog, send_event

        result = send_event(envelope, channels=channels, env=env, runs=RunLog() if runs is None else runs)
        report = outcome(result, redactor)
        if report["skipped"] or (report["total"] and report["delivered"] + report["queued"] == report["total"]):
            return None
        return report["summary"]
    except (RestError, ConfigError, SpecError, ValueError) as exc:  # ValueError: an invalid envelope
        return redactor.text(str(exc))
    except Exception as exc:  # noqa: BLE001 - the caller's job goes on; the cause is logged with -v
        log.info("sending an event failed", exc_info=True)
        return redactor.text(f"unexpected error: {exc}")
