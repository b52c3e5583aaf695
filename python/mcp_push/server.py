"""The MCP server: `notify_send`, `notify_event` and (opt-in) one `notify_channel_<name>` per channel.

    from mcp_push.server import create_server
    create_server().run()          # stdio; `mcp-push serve` does this

Tool names: `tools/list` advertises the underscore names by default (`MCP_PUSH_TOOL_NAMES=dotted` for
`notify.send`, `notify.event`, `notify.channel.<name>`; never both, since one name a strict client
rejects breaks the whole server there). `tools/call` accepts either spelling. Channels and their
credentials come only from the server's environment: no tool takes them, and no result carries them.
Nothing but JSON-RPC goes to stdout; logs go to stderr.
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
import os
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS, CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, Field, WithJsonSchema

from . import __version__
from .api import configured_channels
from .config import agent_defaults, is_true, strip_space
from .engine import Engine, Ticket
from .events import EnvelopeError, envelope_schema, render_event, validate_envelope
from .outbox import Outbox
from .outcome import SecretRedactor, outcome

log = logging.getLogger("mcp_push.server")

TOOL_NAMES_VAR = "MCP_PUSH_TOOL_NAMES"
CHANNEL_TOOLS_VAR = "MCP_PUSH_CHANNEL_TOOLS"
NAME_STYLES = ("underscore", "dotted")
MAX_TOOL_NAME = 64  # hosts prefix tool names (mcp__<server>__…) and some truncate at 64

Status = Literal["delivered", "queued", "superseded", "rejected", "network_error", "timeout", "config_error",
                 "skipped", "internal_error"]
# Longest a `wait: true` call blocks (MCP hosts time requests out at about a minute); what is not final by
# then is reported as queued and still delivered.
WAIT_LIMIT_SECONDS = 50.0


class ServerConfigError(ValueError):
    """The server's own settings (MCP_PUSH_TOOL_NAMES, MCP_PUSH_CHANNEL_TOOLS) cannot work."""


# --- results -------------------------------------------------------------------------------------------


class ChannelOutcome(BaseModel):
    channel: str = Field(description="Channel id, as in spec/channels (e.g. ntfy, dingtalk)")
    ok: bool = Field(description="True when the vendor accepted the message")
    status: Status = Field(description="delivered; queued (accepted, not sent yet: a rate limit or a retry); "
                                       "superseded (a newer update of the run replaced it); rejected, "
                                       "network_error, timeout, config_error, skipped or internal_error")
    error: str | None = Field(None, description="What went wrong, with the vendor's explanation; secrets masked")
    elapsed_ms: int = Field(description="Milliseconds this channel took")
    http_status: int | None = Field(None, description="The vendor's HTTP status, when it answered over HTTP")
    attempts: int = Field(description="Requests made: every try of every part and target, token fetches included")
    parts: int = Field(0, description="Parts of a long message whose sending started (1 when it fit; 0: none sent)")
    truncated: bool = Field(False, description="Content was cut to fit the channel's size limit")


class PushResult(BaseModel):
    ok: bool = Field(description="True when at least one channel delivered or has the message queued")
    delivered: int = Field(description="Channels that delivered")
    queued: int = Field(0, description="Channels that accepted the message and will deliver it (wait=false)")
    total: int = Field(description="Channels tried")
    skipped: str | None = Field(None, description="Why nothing was sent at all (no channel configured, empty "
                                                  "content, title listed in SKIP_PUSH_TITLE)")
    summary: str = Field(description="One line for people, e.g. '2 of 3 channels delivered: …'")
    channels: list[ChannelOutcome]


# --- tool names ----------------------------------------------------------------------------------------


def tool_slug(channel: str) -> str:
    """A channel id as a tool-name piece: only [A-Za-z0-9_-]."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", channel)


def tool_names(kind: str, channel: str = "") -> tuple[str, str]:
    """(underscore, dotted) names of a tool: kind is send, event or channel."""
    if kind == "channel":
        slug = tool_slug(channel)
        return f"notify_channel_{slug}"[:MAX_TOOL_NAME], f"notify.channel.{slug}"[:MAX_TOOL_NAME]
    return f"notify_{kind}", f"notify.{kind}"


def name_style(source: Mapping[str, Any]) -> str:
    value = strip_space(str(source.get(TOOL_NAMES_VAR) or "underscore")).lower()
    if value not in NAME_STYLES:
        raise ServerConfigError(f"{TOOL_NAMES_VAR} must be underscore or dotted, got '{value}'")
    return value


# --- the server ----------------------------------------------------------------------------------------

INSTRUCTIONS = """\
mcp-push sends notifications to the people behind this session, on the channels the server was \
configured with (DingTalk, Feishu, WeCom, Telegram, e-mail, ntfy, Bark, webhooks and more).

- For a task that takes a while, report it as events of one run with notify_event, reusing one run_id: \
event=start when you begin, event=update at milestones (data.progress from 0 to 1, data.step), \
event=end when done (data.artifact_url for the result), event=error when it failed (data.error_code). \
Send updates at meaningful milestones, not every few seconds: each one reaches a phone.
- For a one-off message, use notify_send with a short title and the content.
- Leave out `channels` to reach every configured channel; name some to reach only those.
- Channels and credentials are configured in the server's environment by the user; no tool takes them.
- Calls return as soon as the message is accepted: channels still waiting for a vendor rate limit are \
`queued` and will be delivered; pass wait=true to get the final per-channel results instead.
- The result says, per channel, whether it was delivered (status, error). If nothing was delivered or \
queued the call is an error: tell the user rather than retrying in a loop."""

ANNOTATIONS = dict(read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=True)


# Argument schemas are written out (WithJsonSchema) rather than derived: an optional argument derived from
# `X | None` is an anyOf without a `type`, which simple clients (the MCP Inspector CLI among them) cannot
# map to a JSON value, and the envelope fields keep the exact rules of spec/envelope.schema.json.
ChannelsArg = Annotated[
    list[str] | None,
    WithJsonSchema({
        "type": "array", "items": {"type": "string"}, "minItems": 1,
        "description": "Only these configured channels (ids such as ntfy, telegram); omit for all of them",
    }),
]


def _envelope_field(name: str, description: str, **extra: Any) -> WithJsonSchema:
    """The argument's schema: the envelope schema's rule for that field, with a description for models."""
    return WithJsonSchema({**extra, **envelope_schema()["properties"][name], "description": description})


WaitArg = Annotated[
    bool,
    WithJsonSchema({
        "type": "boolean", "default": False,
        "description": "Wait for the final per-channel results (up to about 50 s) instead of returning once "
                       "the message is accepted",
    }),
]


class _Tools:
    """The tool bodies, bound to the environment the server reads at call time. Messages go through the
    delivery engine (rate limits, coalescing, the outbox)."""

    def __init__(self, source: Mapping[str, Any], engine: Engine | None = None):
        self.source = source
        self._engine = engine
        self._engine_lock = threading.Lock()

    @property
    def engine(self) -> Engine:
        with self._engine_lock:
            if self._engine is None:
                self._engine = Engine(self.source, Outbox.for_source(self.source))
            if not self._engine.running:
                self._engine.start()
            return self._engine

    def _targets(self, channels: Iterable[str] | None) -> list[str] | None:
        """The requested channels, or ToolError naming the ones that are not configured."""
        if channels is None:
            return None
        wanted = list(dict.fromkeys(channels))
        configured = [spec.name for spec, _ in configured_channels(self.source)]
        if not wanted:
            raise ToolError("channels: must name at least one channel; leave it out to use all configured channels")
        unknown = [name for name in wanted if name not in configured]
        if unknown:
            listed = ", ".join(configured) if configured else "none"
            raise ToolError(
                f"channels: {', '.join(unknown)} {'is' if len(unknown) == 1 else 'are'} not configured; "
                f"configured channels: {listed}"
            )
        return wanted

    def _result(self, ticket: Ticket, wait: bool) -> CallToolResult:
        if wait:
            ticket.wait(WAIT_LIMIT_SECONDS)
        structured = PushResult.model_validate(outcome(ticket.result(), SecretRedactor(self.source)))
        return CallToolResult(
            content=[TextContent(type="text", text=structured.summary)],
            structured_content=structured.model_dump(mode="json"),
            is_error=not structured.ok,
        )

    def send(self, title: str, content: str, channels: list[str] | None = None, wait: bool = False) -> CallToolResult:
        targets = self._targets(channels)
        return self._result(self.engine.submit(title, content, channels=targets), wait)

    def event(self, envelope: dict[str, Any], channels: list[str] | None = None, wait: bool = False) -> CallToolResult:
        targets = self._targets(channels)
        try:
            valid = validate_envelope(envelope)
        except EnvelopeError as exc:
            raise ToolError(f"invalid event: {exc}") from None
        title, content = render_event(valid)
        ticket = self.engine.submit(title, content, kind=valid["event"], run_id=valid["run_id"], channels=targets)
        return self._result(ticket, wait)


def envelope_arguments(arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The envelope in notify_event's arguments. A null stands for an omitted field (some hosts send
    null for every optional parameter), at the top level and in data."""
    envelope = {k: v for k, v in arguments.items() if k not in ("channels", "wait") and v is not None}
    if isinstance(envelope.get("data"), dict):
        envelope["data"] = {k: v for k, v in envelope["data"].items() if v is not None}
    return envelope


def _error_result(tool: str, message: str) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=f"Error executing tool {tool}: {message}")],
                          is_error=True)


def create_server(env: Mapping[str, Any] | None = None, engine: Engine | None = None) -> MCPServer:
    """The mcp-push MCP server. `env` replaces os.environ (read at each call, so a live mapping works);
    MCP_PUSH_TOOL_NAMES and MCP_PUSH_CHANNEL_TOOLS are read now, and so is the list of configured
    channels for the per-channel tools. Raises ServerConfigError for a bad MCP_PUSH_TOOL_NAMES."""
    source: Mapping[str, Any] = agent_defaults(os.environ if env is None else env)
    style = name_style(source)
    pick = 1 if style == "dotted" else 0
    tools = _Tools(source, engine)
    # Started now, not at the first call: what a killed predecessor left in the outbox goes out at once.
    tools.engine  # noqa: B018
    configured = [spec for spec, _ in configured_channels(source)]

    server = MCPServer(
        "mcp-push",
        title="mcp-push",
        description="Push notifications to DingTalk, Feishu, WeCom, Telegram, e-mail, ntfy, Bark and more",
        instructions=INSTRUCTIONS + _configured_line(configured),
        version=__version__,
        website_url="https://github.com/mcp-push/mcp-push",
        subscriptions=False,
    )
    aliases: dict[str, str] = {}  # every accepted spelling -> the registered name
    allowed: dict[str, set[str]] = {}  # registered name -> argument names
    event_tool = tool_names("event")[pick]

    def register(fn: Callable[..., Any], kind: str, title: str, description: str, channel: str = "") -> None:
        names = tool_names(kind, channel)
        name = names[pick]
        server.add_tool(fn, name=name, title=title, description=description,
                        annotations=ToolAnnotations(title=title, **ANNOTATIONS))
        for alias in names:
            aliases.setdefault(alias, name)
        allowed[name] = set(inspect.signature(fn).parameters)

    def notify_send(
        title: Annotated[str, Field(description="Short headline, e.g. 'Backup finished'")],
        content: Annotated[str, Field(description="The message body (plain text)")],
        channels: ChannelsArg = None,
        wait: WaitArg = False,
    ) -> Annotated[CallToolResult, PushResult]:
        return tools.send(title, content, channels, wait)

    def notify_event(
        run_id: Annotated[str, _envelope_field("run_id", "Names the run; every event of one task shares it")],
        event: Annotated[Literal["start", "update", "end", "error"], _envelope_field(
            "event", "start, update (progress), end (success) or error (failure)", type="string")],
        message: Annotated[str, _envelope_field("message", "What happened, in a sentence or two")],
        data: Annotated[dict[str, Any] | None, _envelope_field(
            "data", "Optional details: step (the stage, e.g. 'tests'), progress (fraction done, 0 to 1), "
            "artifact_url (link to the result), error_code (for event=error); other fields are allowed")] = None,
        timestamp: Annotated[str | None, _envelope_field(
            "timestamp", "RFC 3339 time of the event, e.g. 2026-05-01T12:00:00Z; default: now")] = None,
        channels: ChannelsArg = None,
        wait: WaitArg = False,
    ) -> Annotated[CallToolResult, PushResult]:
        arguments = {"run_id": run_id, "event": event, "message": message, "data": data, "timestamp": timestamp}
        return tools.event(envelope_arguments(arguments), channels, wait)

    register(notify_send, "send", "Send a notification",
             "Push a message (title and content) to every configured notification channel, or to the named "
             "ones. Returns per-channel delivery results.")
    register(notify_event, "event", "Report a run event",
             "Report progress of a long-running task as one event of a run: start, update (with progress "
             "0..1 and step), end (with an artifact link) or error (with an error code). It is rendered as a "
             "short notification (progress bar, elapsed time) and pushed to the configured channels.")

    channel_tools = str(source.get(CHANNEL_TOOLS_VAR) or "")
    if is_true(channel_tools):
        for spec in configured:
            register(_channel_tool(tools, spec.name), "channel", f"Send via {spec.display_name}",
                     f"Push a message (title and content) to the {spec.display_name} channel only.", spec.name)

    async def route_tool_calls(ctx: Any, call_next: Callable[[Any], Any]) -> Any:
        """tools/call: either spelling of a name reaches its tool; an unknown tool is a JSON-RPC error
        (-32602), not a result; arguments the tool does not take (a credential, say) are refused; an
        invalid event envelope is reported naming the field and the rule."""
        if ctx.method != "tools/call" or not isinstance(ctx.params, dict):
            return await call_next(ctx)
        requested = ctx.params.get("name")
        name = aliases.get(requested) if isinstance(requested, str) else None
        if name is None:
            listed = ", ".join(name for name in dict.fromkeys(aliases.values()))
            raise MCPError(code=INVALID_PARAMS, message=f"Unknown tool: {requested} (tools: {listed})")
        arguments = ctx.params.get("arguments")
        if isinstance(arguments, dict):
            extra = sorted(set(arguments) - allowed[name])
            if extra:
                return _error_result(name, f"{', '.join(extra)}: not an argument of this tool (it takes "
                                           f"{', '.join(sorted(allowed[name]))}; channel settings and "
                                           "credentials come only from the server's environment)")
            if name == event_tool:
                try:
                    validate_envelope(envelope_arguments(arguments))
                except EnvelopeError as exc:
                    return _error_result(name, f"invalid event: {exc}")
        if name != requested:
            ctx = dataclasses.replace(ctx, params={**ctx.params, "name": name})
        return await call_next(ctx)

    server.middleware.append(route_tool_calls)
    return server


def _channel_tool(tools: _Tools, channel: str) -> Callable[..., Any]:
    def notify_channel(
        title: Annotated[str, Field(description="Short headline")],
        content: Annotated[str, Field(description="The message body (plain text)")],
        wait: WaitArg = False,
    ) -> Annotated[CallToolResult, PushResult]:
        return tools.send(title, content, [channel], wait)

    notify_channel.__name__ = f"notify_channel_{tool_slug(channel)}"
    return notify_channel


def _configured_line(configured: list[Any]) -> str:
    if not configured:
        return "\n\nNo channel is configured yet: every call will fail until the user sets a channel's env vars."
    return "\n\nConfigured channels: " + ", ".join(spec.name for spec in configured) + "."
