"""Ask a human and get the answer back (docs/ASK.md): `ask()` here, the MCP tools notify_ask and
notify_answer (tools.py), `mcp-push ask` (cli.py), the answer page (links.py), Claude Code permission
prompts (permission.py). The question store is store.py; the channels' receivers are telegram.py,
ntfy.py and matrix.py."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["ask"]


def ask(question: str, options: Iterable[str] | None = None, timeout: float = 300.0,
        default: str | None = None, channels: Iterable[str] | None = None, run_id: str | None = None,
        env: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Asks on the configured channels and waits for the first answer or the timeout:
    {ask_id, answer, by, channel, at}, or {ask_id, timed_out: True} (with `answer` the default when one is
    given). `env` replaces os.environ. ValueError ('<field>: <rule>') when the question cannot be asked;
    the result's `sent` lists each channel's copy."""
    from ..service.lifecycle import running_engine
    from .service import AskRefused, AskService, result_of  # here: `import mcp_push` stays light

    source = os.environ if env is None else env
    with running_engine(source) as engine:
        service = AskService(source, engine)
        try:
            started = service.start(question, None if options is None else list(options), timeout, default,
                                    run_id, channels)
            if not started.delivered:
                service.withdraw(started.ask.id)
                raise AskRefused("channels: the question reached no channel: "
                                 + "; ".join(f"{s.channel} {s.status}" + (f" ({s.error})" if s.error else "")
                                             for s in started.sent))
            settled = service.wait(started.ask.id)
        finally:
            service.close()
        result = result_of(settled) if settled is not None else {"ask_id": started.ask.id, "timed_out": True}
        result["sent"] = [vars(s) for s in started.sent]
        return result
