"""The MCP tools notify_ask and notify_answer, registered by server.create_server (one call there).

notify_ask blocks until the first answer or the timeout, sending progress notifications while it waits
(hosts that reset their request timeout on progress keep the call alive); with wait=false it returns the
ask_id at once, and notify_answer {ask_id} reads the answer later.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Annotated, Any

import anyio
from mcp.server.mcpserver import Context
from mcp.types import CallToolResult, TextContent
from pydantic import BaseModel, Field, WithJsonSchema

from ..service.backend import BackendUnavailable
from .service import ASK_SCHEMA, AskRefused, AskService, ask_problem, result_of

PROGRESS_SECONDS = 2.0  # between progress notifications while waiting


class AskResult(BaseModel):
    ask_id: str | None = Field(None, description="Names the question (for notify_answer)")
    answer: str | None = Field(None, description="The answer (the default when it timed out and one was given)")
    by: str | None = Field(None, description="Who answered (@user on Telegram, a Matrix id, 'the … link')")
    channel: str | None = Field(None, description="The channel the answer came from")
    at: str | None = Field(None, description="RFC 3339 time of the answer")
    timed_out: bool | None = Field(None, description="True when nobody answered in time")
    pending: bool | None = Field(None, description="True while nobody has answered yet (wait=false, notify_answer)")
    sent: list[dict[str, Any]] | None = Field(None, description="Per channel: status, answerable, note")
    error: str | None = Field(None, description="Why the question was not asked, as '<field>: <rule>'")


def _arg(name: str) -> WithJsonSchema:
    return WithJsonSchema(ASK_SCHEMA["properties"][name])


def _result(structured: dict[str, Any], error: bool = False) -> CallToolResult:
    data = AskResult(**{k: v for k, v in structured.items() if k in AskResult.model_fields}).model_dump(
        mode="json", exclude_none=True)
    if error:
        text = f"Error: {data.get('error')}"
    elif data.get("pending"):
        text = f"Question {data.get('ask_id')} is pending: nobody has answered yet."
    elif data.get("timed_out"):
        text = "Nobody answered in time." + (f" Default: {data['answer']}" if data.get("answer") else "")
    elif data.get("answer") is not None:
        text = f"Answer: {data['answer']} (by {data.get('by')} via {data.get('channel')})"
    else:
        text = f"Question {data.get('ask_id')} was sent."
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=data, is_error=error)


def refused(message: str) -> CallToolResult:
    return _result({"error": message}, error=True)


def ask_service_for(source: Any, engine: Any) -> Callable[[], AskService]:
    """The server's AskService, made at its first use (its store opens the state folder only then)."""
    made: list[AskService] = []
    import threading

    lock = threading.Lock()

    def service() -> AskService:
        with lock:
            if not made:
                made.append(AskService(source, engine))
            return made[0]

    return service


def register_ask_tools(register: Callable[..., Any], service_for: Callable[[], AskService]) -> None:
    """Adds notify_ask and notify_answer through create_server's `register` (names, aliases, checks)."""

    async def notify_ask(
        question: Annotated[str, _arg("question")],
        ctx: Context,
        options: Annotated[list[str] | None, _arg("options")] = None,
        timeout_s: Annotated[float, _arg("timeout_s")] = 300.0,
        default: Annotated[str | None, _arg("default")] = None,
        run_id: Annotated[str | None, _arg("run_id")] = None,
        channels: Annotated[list[str] | None, _arg("channels")] = None,
        wait: Annotated[bool, _arg("wait")] = True,
    ) -> Annotated[CallToolResult, AskResult]:
        service = service_for()
        arguments = {"question": question, "options": options, "timeout_s": timeout_s, "default": default,
                     "run_id": run_id, "channels": channels}
        problem = ask_problem(arguments, service.source)
        if problem:
            return refused(problem)
        try:
            started = await anyio.to_thread.run_sync(
                lambda: service.start(question, options, timeout_s, default, run_id, channels))
        except AskRefused as exc:
            return refused(str(exc))
        sent = [vars(s) for s in started.sent]
        if not started.delivered:
            service.withdraw(started.ask.id)
            return _result({"ask_id": started.ask.id, "sent": sent,
                            "error": "channels: the question reached no channel"}, error=True)
        if not wait:
            return _result({"ask_id": started.ask.id, "pending": True, "sent": sent})
        settled = service.settled(started.ask.id)
        begun, total = time.monotonic(), float(timeout_s)
        await ctx.report_progress(0, total, "waiting for an answer")
        while settled is not None and not settled.is_set():
            await anyio.to_thread.run_sync(settled.wait, PROGRESS_SECONDS)
            if not settled.is_set():
                waited = min(time.monotonic() - begun, total)
                await ctx.report_progress(waited, total, f"waiting for an answer ({int(total - waited)} s left)")
        ask = service.store.get(started.ask.id)
        return _result({**(result_of(ask) if ask else {"ask_id": started.ask.id, "timed_out": True}), "sent": sent})

    async def notify_answer(
        ask_id: Annotated[str, WithJsonSchema({"type": "string", "minLength": 1,
                                               "description": "The ask_id notify_ask returned"})],
    ) -> Annotated[CallToolResult, AskResult]:
        try:
            ask = await anyio.to_thread.run_sync(service_for().store.get, ask_id)
        except BackendUnavailable as exc:  # PostgreSQL away: "database: …; try again"
            return refused(str(exc))
        if ask is None:
            return refused("ask_id: no such question")
        return _result(result_of(ask))

    register(notify_ask, "ask", "Ask a human",
             "Ask the people behind this session a question on their phone (Telegram buttons, ntfy actions, "
             "Matrix, answer links) and get the first answer back: {answer, by, channel, at}, or timed_out. "
             "Blocks until then (progress is reported); wait=false returns an ask_id for notify_answer.")
    register(notify_answer, "answer", "Read an answer",
             "The answer to a question notify_ask sent with wait=false, or pending while nobody has answered.")
