"""`notify_status` and the resources `mcp-push://runs` and `mcp-push://runs/{run_id}`: what the delivery
history (history.py) says about a run or a message, for agents (run_status.py's views, JSON)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

import anyio
from mcp.types import CallToolResult, TextContent
from pydantic import BaseModel, Field, WithJsonSchema

from .engine import Engine
from .run_status import DEFAULT_EVENTS, MAX_LIMIT, recent_runs, run_view
from .watchers import history_of

READ_ONLY = dict(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
TITLE = "Delivery status"
DESCRIPTION = ("How a run's events or one message are doing: per channel delivered, queued (with when it will "
               "go), retrying (with the last error) or failed (with the error), and each event's deliveries. "
               "Give the run_id of notify_event, or the message_id any notify_* result returned.")
HISTORY_OFF = "history: the delivery history is off (MCP_PUSH_HISTORY=false)"
RUNS_URI, RUN_URI = "mcp-push://runs", "mcp-push://runs/{run_id}"

State = Annotated[str, Field(description="queued, retrying, delivered, failed or skipped (superseded by a newer "
                                         "update, or not sent on purpose)")]


class DeliveryState(BaseModel):
    id: int = Field(description="The delivery's id in the history")
    channel: str
    state: State
    outcome: str = Field(description="The result's status: delivered, rejected, network_error, timeout, "
                                     "config_error, superseded, queued, retrying …")
    attempts: int = Field(description="Requests made so far")
    http_status: int | None = Field(None, description="The vendor's last HTTP status")
    error: str | None = Field(None, description="What went wrong (secrets masked)")
    parts: int = 0
    truncated: bool = False
    edited: bool = Field(False, description="An update that edited the run's message instead of posting")
    elapsed_ms: int = 0
    updated: str | None = Field(None, description="RFC 3339 time of its last change")
    next_at: str | None = Field(None, description="When a queued or retrying one is due (RFC 3339), when known")
    retried_by: str | None = Field(None, description="The message that retried this failed delivery")


class EventState(BaseModel):
    message_id: str
    event: str = Field(description="start, update, end, error, or message (notify_send)")
    at: str | None = Field(None, description="RFC 3339 time it was accepted")
    title: str
    message: str | None = None
    step: str | None = None
    progress: float | None = None
    deliveries: list[DeliveryState]


class ChannelState(BaseModel):
    channel: str
    state: State = Field(description="The state of the channel's latest delivery in the run")
    error: str | None = Field(None, description="Its error when it is not delivered (secrets masked)")
    http_status: int | None = None
    attempts: int = 0
    updated: str | None = None
    next_at: str | None = Field(None, description="When its queued or retrying delivery is due, when known")
    delivered: int = Field(0, description="Deliveries of the run to this channel that were delivered")
    queued: int = 0
    retrying: int = 0
    failed: int = 0
    skipped: int = 0


class RunStatus(BaseModel):
    found: bool = Field(description="False when the history has no such run or message (pruned, or never sent)")
    run_id: str | None = None
    message_id: str | None = Field(None, description="The message asked about, if one was")
    state: str | None = Field(None, description="running, ended, failed (its error event), or sent (a message)")
    started: str | None = None
    updated: str | None = None
    events_total: int = 0
    last_event: str | None = None
    step: str | None = None
    progress: float | None = None
    summary: str = Field(description="One line for people")
    error: str | None = Field(None, description="Why the call was refused, as '<field>: <rule>'")
    channels: list[ChannelState] = []
    events: list[EventState] = Field([], description="The latest `limit` events, oldest first")


IdArg = Annotated[str | None, WithJsonSchema({"type": "string", "minLength": 1,
                                             "description": "The run_id given to notify_event"})]
MessageArg = Annotated[str | None, WithJsonSchema({
    "type": "string", "minLength": 1, "description": "The message_id of a notify_send or notify_event result"})]
LimitArg = Annotated[int, WithJsonSchema({"type": "integer", "minimum": 1, "maximum": MAX_LIMIT,
                                          "default": DEFAULT_EVENTS, "description": "Most events to list"})]


def _answer(structured: dict[str, Any], is_error: bool = False) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=structured["summary"])],
                          structured_content=structured, is_error=is_error)


def status_of(engine: Engine, run_id: str | None, message_id: str | None, limit: int) -> tuple[dict[str, Any], bool]:
    """(notify_status's structured result, is_error)."""
    if (run_id is None) == (message_id is None):
        problem = "run_id: give a run_id or a message_id (one of them)"
        return RunStatus(found=False, summary=f"Nothing looked up: {problem}.", error=problem).model_dump(), True
    store = history_of(engine)
    if store is None:
        off = RunStatus(found=False, summary=f"Nothing looked up: {HISTORY_OFF}.", error=HISTORY_OFF)
        return off.model_dump(), True
    view = run_view(store, run_id=run_id, message_id=message_id, limit=limit)
    if view is None:
        what = f"run {run_id!r}" if run_id is not None else f"message {message_id!r}"
        return RunStatus(found=False, run_id=run_id, message_id=message_id,
                         summary=f"No {what} in the delivery history (never sent here, or pruned).").model_dump(), False
    return RunStatus.model_validate(view).model_dump(), False


def status_tool(engine: Engine) -> Callable[..., Any]:
    async def notify_status(
        run_id: IdArg = None, message_id: MessageArg = None, limit: LimitArg = DEFAULT_EVENTS,
    ) -> Annotated[CallToolResult, RunStatus]:
        structured, is_error = await anyio.to_thread.run_sync(lambda: status_of(engine, run_id, message_id, limit))
        return _answer(structured, is_error)

    return notify_status


def register_resources(server: Any, engine: Engine) -> None:
    """mcp-push://runs (recent runs) and mcp-push://runs/{run_id} (one run with its events), as JSON."""

    @server.resource(RUNS_URI, name="runs", title="Recent runs", mime_type="application/json",
                     description="The most recently active runs: state, progress and each channel's state")
    def runs() -> str:
        store = history_of(engine)
        return json.dumps({"runs": recent_runs(store) if store is not None else []}, ensure_ascii=False)

    @server.resource(RUN_URI, name="run", title="One run", mime_type="application/json",
                     description="One run: its events with their deliveries, and each channel's state")
    def run(run_id: str) -> str:
        store = history_of(engine)
        view = run_view(store, run_id=run_id) if store is not None else None
        return json.dumps(view or {"found": False, "run_id": run_id}, ensure_ascii=False)
