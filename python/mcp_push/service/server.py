"""The MCP server: `notify_send`, `notify_event` and (opt-in) one `notify_channel_<name>` per channel.

    from mcp_push.service.lifecycle import running_engine
    from mcp_push.service.server import create_server
    with running_engine(env) as engine:
        create_server(env, engine=engine)   # `mcp-push serve` (lifecycle.serve) serves it

Tool names: `tools/list` advertises the underscore names by default (`MCP_PUSH_TOOL_NAMES=dotted` for
`notify.send`, `notify.event`, `notify.channel.<name>`; never both, since one name a strict client
rejects breaks the whole server there). `tools/call` accepts either spelling. Channels and their
credentials come only from the server's environment: no tool takes them, and no result carries them.
Nothing but JSON-RPC goes to stdout; logs go to stderr.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import logging
import os
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Annotated, Any, Literal

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS, CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, Field, WithJsonSchema

from .. import __version__
from ..api import configured_channels
from ..config import ConfigError, EnvSnapshot, agent_defaults, is_true, setting, strip_space
from ..events import EnvelopeError, envelope_schema, event_message, schema_checker, validate_envelope
from ..selection import channel_names, channels_error
from .backend import BackendUnavailable
from .engine import Delivery, Engine, Ticket
from .envview import EnvView
from .outbox import Outbox
from .outcome import SecretRedactor, outcome

log = logging.getLogger("mcp_push.service.server")

TOOL_NAMES_VAR = "MCP_PUSH_TOOL_NAMES"
CHANNEL_TOOLS_VAR = "MCP_PUSH_CHANNEL_TOOLS"
MAX_TOOL_NAME = 64  # hosts prefix tool names (mcp__<server>__…) and some truncate at 64

Status = Literal["delivered", "queued", "retrying", "superseded", "rejected", "network_error", "timeout",
                 "config_error", "skipped", "internal_error"]
# Longest a `wait: true` call blocks (MCP hosts time requests out at about a minute); what is not final by
# then is reported as queued and still delivered.
WAIT_LIMIT_SECONDS = 50.0


class ServerConfigError(ValueError):
    """The server's own settings (MCP_PUSH_TOOL_NAMES, MCP_PUSH_CHANNEL_TOOLS) cannot work."""


class Refused(Exception):
    """A call refused before anything was sent: the message is '<field>: <rule>'."""


# --- results -------------------------------------------------------------------------------------------


class ChannelOutcome(BaseModel):
    channel: str = Field(description="Channel id, as in spec/channels (e.g. ntfy, dingtalk)")
    ok: bool = Field(description="True when the vendor accepted the message, or the server did and is "
                                 "delivering it (status queued)")
    status: Status = Field(description="delivered; queued (accepted, not sent yet: a rate limit or the vendor "
                                       "is still answering); retrying (accepted; every try so far failed, "
                                       "error says why, another is due); superseded (a newer update of the "
                                       "run replaced it); rejected, network_error, timeout, config_error, "
                                       "skipped or internal_error")
    error: str | None = Field(None, description="What went wrong, with the vendor's explanation; secrets masked")
    elapsed_ms: int = Field(description="Milliseconds this channel took")
    http_status: int | None = Field(None, description="The vendor's HTTP status, when it answered over HTTP")
    attempts: int = Field(description="Requests made: every try of every part and target, token fetches included")
    parts: int = Field(0, description="Parts of a long message whose sending started (1 when it fit; 0: none sent)")
    truncated: bool = Field(False, description="Content was cut to fit the channel's size limit")


class PushResult(BaseModel):
    ok: bool = Field(description="True when at least one channel delivered or has the message queued or "
                                 "retrying")
    delivered: int = Field(description="Channels that delivered")
    queued: int = Field(0, description="Channels that accepted the message and will deliver it (wait=false)")
    total: int = Field(description="Channels tried")
    skipped: str | None = Field(None, description="Why nothing was sent at all (no channel configured, empty "
                                                  "content, title listed in SKIP_PUSH_TITLE)")
    summary: str = Field(description="One line for people, e.g. '2 of 3 channels delivered: …' or "
                                     "'accepted by 2 channels, delivering: …'")
    error: str | None = Field(None, description="Why the call was refused before anything was sent, as "
                                                "'<field>: <rule>' (then channels is empty)")
    message_id: str | None = Field(None, description="The accepted message's id in the delivery history: pass it "
                                                     "to notify_status to learn later how it went")
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
    """MCP_PUSH_TOOL_NAMES (spec/settings.yaml: underscore or dotted, any case)."""
    try:
        return strip_space(setting(TOOL_NAMES_VAR, source)).lower()
    except ConfigError as exc:
        raise ServerConfigError(str(exc)) from None


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
queued the call is an error: tell the user rather than retrying in a loop.
- Later, notify_status with the run_id (or a result's message_id) tells whether queued messages arrived."""

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


TagsArg = Annotated[
    list[str] | None,
    WithJsonSchema({
        "type": "array", "items": {"type": "string"},
        "description": "Tags for the routes of the server's routing config (mcp-push.yaml), e.g. deploy; "
                       "ignored without one",
    }),
]


def _envelope_field(name: str, description: str, **extra: Any) -> WithJsonSchema:
    """The argument's schema: the envelope schema's rule for that field, with a description for models."""
    return WithJsonSchema({**extra, **envelope_schema()["properties"][name], "description": description})


FormatArg = Annotated[
    Literal["text", "markdown"] | None,
    WithJsonSchema({
        "type": "string", "enum": ["text", "markdown"], "default": "text",
        "description": "How to read content: text (as it is) or markdown (CommonMark, converted for each "
                       "channel: Telegram HTML, Slack mrkdwn, Markdown, plain text where a channel has none)",
    }),
]

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
    delivery engine (rate limits, coalescing, the outbox), which the server's owner runs."""

    def __init__(self, source: Mapping[str, Any], engine: Engine):
        self.source = source
        self.engine = engine
        self.env = EnvView(source)  # read at each call; what it decides is worked out once per env

    def _targets(self, source: Mapping[str, Any], channels: Iterable[str] | None) -> list[str] | None:
        """The requested channels (ids in any case, as the library and the CLI take them), or Refused
        with the same words they use: "channels: unknown channel 'nope'; configured: ntfy, webhook"."""
        if channels is None:
            return None
        names = channel_names(channels)
        if not names:
            raise Refused(EMPTY_CHANNELS)
        problem = channels_error(source, names)
        if problem:
            raise Refused(f"channels: {problem}")
        return [name.lower() for name in names]

    async def _result(self, source: EnvSnapshot, ticket: Ticket, wait: bool) -> CallToolResult:
        if wait:
            await wait_for(ticket, WAIT_LIMIT_SECONDS)
        redactor = source.derive(SecretRedactor, lambda: SecretRedactor(source))
        structured = push_result(outcome(ticket.result(), redactor))
        return CallToolResult(
            content=[TextContent(type="text", text=structured["summary"])],
            structured_content=structured,
            is_error=not structured["ok"],
        )

    async def _submit(self, source: Mapping[str, Any], title: str, content: str, **how: Any) -> Ticket:
        from .routing_service import submit  # routing (mcp-push.yaml): the engine as before without one

        if isinstance(self.engine.outbox, Outbox):
            # The embedded outbox takes a message in tens of microseconds (one SQLite row per channel on this
            # host, committed): done on the loop, since a hop to a worker thread and back costs more (two
            # wake-ups, each waiting for the GIL) and delays the lane thread that sends it.
            return submit(self.engine, source, title, content, **how)
        # Another backend (PostgreSQL) accepts over the network: on a worker thread; never the waiting.
        return await anyio.to_thread.run_sync(lambda: submit(self.engine, source, title, content, **how))

    async def send(self, tool: str, title: str, content: str, channels: list[str] | None = None,
                   wait: bool = False, tags: list[str] | None = None,
                   format: str | None = None) -> CallToolResult:  # noqa: A002
        how: dict[str, Any] = {"tags": tags}
        if format and format != "text":
            how["format"] = format
        return await self._accept(tool, channels, wait, lambda: (title, content, how))

    async def event(self, tool: str, envelope: dict[str, Any], channels: list[str] | None = None,
                    wait: bool = False, tags: list[str] | None = None) -> CallToolResult:
        """`envelope` is valid and has its timestamp: route_tool_calls checked it, once (check_arguments)."""
        def message() -> tuple[str, str, dict[str, Any]]:
            # Records a run's start: only once the call is taken. The params carry the event's card (cards.py).
            title, content, params = event_message(envelope, self.env.current())
            return title, content, {"kind": envelope["event"], "run_id": envelope["run_id"], "tags": tags,
                                    "params": params, "note": event_note(envelope)}

        return await self._accept(tool, channels, wait, message)

    async def _accept(self, tool: str, channels: list[str] | None, wait: bool,
                      message: Callable[[], tuple[str, str, dict[str, Any]]]) -> CallToolResult:
        """Both tools: the channels checked against one env snapshot; then the message (title, content and
        how to submit it) is made, submitted and reported."""
        source = self.env.current()
        try:
            targets = self._targets(source, channels)
        except Refused as refused:
            return refusal(tool, str(refused))
        title, content, how = message()
        try:
            ticket = await self._submit(source, title, content, channels=targets, **how)
        except BackendUnavailable as unavailable:  # PostgreSQL away: nothing accepted (REST answers 503)
            return refusal(tool, str(unavailable))
        return await self._result(source, ticket, wait)


def event_note(envelope: Mapping[str, Any]) -> dict[str, Any]:
    """What the history keeps of an event besides its text: its message, step and progress."""
    data = envelope.get("data") or {}
    return {"message": envelope.get("message"), "step": data.get("step"), "progress": data.get("progress")}


async def wait_for(ticket: Ticket, timeout: float) -> bool:
    """Waits until every delivery of the ticket is final, or the timeout passes, without holding a
    thread: the engine's lane threads wake this loop (call_soon_threadsafe). True when all are final."""
    pending = [entry for entry in ticket.entries if isinstance(entry, Delivery)]
    if not pending:
        return True
    loop = asyncio.get_running_loop()
    finished = asyncio.Event()
    left = [len(pending)]

    def one_done() -> None:
        left[0] -= 1
        if left[0] == 0:
            finished.set()

    for delivery in pending:
        delivery.when_done(lambda _d: loop.call_soon_threadsafe(one_done))
    with anyio.move_on_after(timeout):
        await finished.wait()
    return finished.is_set()


def envelope_arguments(arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The envelope in notify_event's arguments. A null stands for an omitted field (some hosts send
    null for every optional parameter), at the top level and in data's known fields; another data
    field's null is the caller's value, shown as `key: null`."""
    envelope = {k: v for k, v in arguments.items() if k not in ("channels", "wait", "tags") and v is not None}
    if isinstance(envelope.get("data"), dict):
        known = envelope_schema()["properties"]["data"]["properties"]
        envelope["data"] = {k: v for k, v in envelope["data"].items() if v is not None or k not in known}
    return envelope


EMPTY_CHANNELS = "channels: must name at least one channel; leave it out to use all configured channels"


def refusal(tool: str, message: str) -> CallToolResult:
    """A call refused before anything was sent: an error result with the '<field>: <rule>' message, as
    text and as structuredContent (the same shape as a result, with `error` and no channels)."""
    structured = PushResult(ok=False, delivered=0, total=0, summary=f"Nothing sent: {message}.", error=message,
                            channels=[])
    return CallToolResult(content=[TextContent(type="text", text=f"Error executing tool {tool}: {message}")],
                          structured_content=structured.model_dump(mode="json"), is_error=True)


_RESULT_FIELDS = tuple(PushResult.model_fields)
_CHANNEL_FIELDS = tuple(ChannelOutcome.model_fields)


def push_result(result: Mapping[str, Any]) -> dict[str, Any]:
    """outcome()'s dict as PushResult's JSON (every field, in the model's order), without a round trip
    through the model: the SDK checks structuredContent against the tool's output schema (PushResult)."""
    structured = {name: result.get(name) for name in _RESULT_FIELDS}
    structured["channels"] = [{name: channel[name] for name in _CHANNEL_FIELDS} for channel in result["channels"]]
    return structured


class ArgumentCheck:
    """A tool's input schema, compiled once: the whole of it, and (for notify_event, whose envelope
    fields events.validate_envelope checks in the spec's words) with no field required."""

    def __init__(self, schema: Mapping[str, Any]):
        self.full = schema_checker(schema)
        self.optional = schema_checker({**schema, "required": []})


def argument_problem(check: Callable[[Any], list[tuple[str, str]]], arguments: Mapping[str, Any]) -> str | None:
    """The first '<field>: <rule>' problem of the arguments against the tool's input schema (`check`, an
    ArgumentCheck's; fields in alphabetical order), worded as the envelope's errors; None when they fit.
    The tool's own checks (the envelope's rules, configured channels) come after this."""
    problems = check(arguments)
    if not problems:
        return None
    field, rule = problems[0]
    if field == "channels" and rule.startswith("must have at least"):
        return EMPTY_CHANNELS
    return f"{field}: {rule}"


def create_server(env: Mapping[str, Any] | None = None, *, engine: Engine) -> MCPServer:
    """The mcp-push MCP server over `engine`, which its caller owns: the caller starts it (lifecycle.py)
    and stops it; the server never builds or starts one. `env` replaces os.environ (read at each call,
    so a live mapping works); MCP_PUSH_TOOL_NAMES and MCP_PUSH_CHANNEL_TOOLS are read now, and so is the
    list of configured channels for the per-channel tools. Raises ServerConfigError for a bad
    MCP_PUSH_TOOL_NAMES."""
    source: Mapping[str, Any] = agent_defaults(os.environ if env is None else env)
    style = name_style(source)
    pick = 1 if style == "dotted" else 0
    tools = _Tools(source, engine)
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
    send_tool = tool_names("send")[pick]
    checks: dict[str, ArgumentCheck] = {}  # registered name -> its input schema (as tools/list shows it), compiled

    def register(fn: Callable[..., Any], kind: str, title: str, description: str, channel: str = "",
                 hints: Mapping[str, bool] = ANNOTATIONS) -> None:
        names = tool_names(kind, channel)
        name = names[pick]
        server.add_tool(fn, name=name, title=title, description=description,
                        annotations=ToolAnnotations(title=title, **hints))
        for alias in names:
            aliases.setdefault(alias, name)
        allowed[name] = set(inspect.signature(fn).parameters)
        checks[name] = ArgumentCheck(server._tool_manager.get_tool(name).parameters)  # the SDK's own (mcp>=2.3,<3)

    async def notify_send(
        title: Annotated[str, Field(description="Short headline, e.g. 'Backup finished'")],
        content: Annotated[str, Field(description="The message body (plain text, or Markdown with format=markdown)")],
        channels: ChannelsArg = None,
        wait: WaitArg = False,
        tags: TagsArg = None,
        format: FormatArg = None,  # noqa: A002 (the argument's name in MCP, REST and the CLI)
    ) -> Annotated[CallToolResult, PushResult]:
        return await tools.send(send_tool, title, content, channels, wait, tags, format)

    async def notify_event(
        run_id: Annotated[str, _envelope_field("run_id", "Names the run; every event of one task shares it")],
        event: Annotated[Literal["start", "update", "end", "error"], _envelope_field(
            "event", "start, update (progress), end (success) or error (failure)", type="string")],
        message: Annotated[str, _envelope_field("message", "What happened, in a sentence or two")],
        data: Annotated[dict[str, Any] | None, _envelope_field(
            "data", "Optional details: step (the stage, e.g. 'tests'), progress (fraction done, 0 to 1), "
            "artifact_url (link to the result), error_code (for event=error); any other field is shown as a "
            "'key: value' line")] = None,
        timestamp: Annotated[str | None, _envelope_field(
            "timestamp", "RFC 3339 time of the event, e.g. 2026-05-01T12:00:00Z; default: now")] = None,
        channels: ChannelsArg = None,
        wait: WaitArg = False,
        tags: TagsArg = None,
    ) -> Annotated[CallToolResult, PushResult]:
        arguments = {"run_id": run_id, "event": event, "message": message, "data": data, "timestamp": timestamp}
        return await tools.event(event_tool, envelope_arguments(arguments), channels, wait, tags)

    register(notify_send, "send", "Send a notification",
             "Push a message (title and content) to every configured notification channel, or to the named "
             "ones. Returns per-channel delivery results.")
    register(notify_event, "event", "Report a run event",
             "Report progress of a long-running task as one event of a run: start, update (with progress "
             "0..1 and step), end (with an artifact link) or error (with an error code). It is rendered as a "
             "short notification (progress bar, elapsed time) and pushed to the configured channels.")

    # notify_ask and notify_answer (asking/tools.py): questions through the same engine; the HTTP app's
    # answer page (build_app) reaches the same service.
    from ..asking.tools import ask_service_for, register_ask_tools

    server.mcp_push_asks = ask_service_for(source, engine)  # type: ignore[attr-defined]
    register_ask_tools(register, server.mcp_push_asks)  # type: ignore[attr-defined]

    from . import status_tool  # notify_status and the runs resources: the delivery history (issue 17)

    register(status_tool.status_tool(engine), "status", status_tool.TITLE, status_tool.DESCRIPTION,
             hints=status_tool.READ_ONLY)
    status_tool.register_resources(server, engine)

    if is_true(setting(CHANNEL_TOOLS_VAR, source)):
        for spec in configured:
            tool = _channel_tool(tools, spec.name, tool_names("channel", spec.name)[pick])
            register(tool, "channel", f"Send via {spec.display_name}",
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
        if arguments is None:
            arguments = {}
        if not isinstance(arguments, dict):
            return refusal(name, "arguments: must be an object")
        problem, checked = prepare(name, arguments)
        if problem is not None:
            return refusal(name, problem)
        if name != requested or checked is not arguments:
            ctx = dataclasses.replace(ctx, params={**ctx.params, "name": name, "arguments": checked})
        return await call_next(ctx)

    def prepare(name: str, arguments: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
        """(the first '<field>: <rule>' problem of a call's arguments or None, the arguments the tool gets:
        for notify_event, with the envelope's normalized timestamp, now when absent)."""
        extra = sorted(set(arguments) - allowed[name])
        if extra:
            return (f"{', '.join(extra)}: not an argument of this tool (it takes "
                    f"{', '.join(sorted(allowed[name]))}; channel settings and "
                    "credentials come only from the server's environment)"), arguments
        problem, timestamp = check_arguments(name == event_tool, checks[name], arguments)
        if problem is None and timestamp is not None:
            return None, {**arguments, "timestamp": timestamp}
        return problem, arguments

    async def call(kind: str, arguments: dict[str, Any]) -> CallToolResult:
        """notify_send (kind "send") or notify_event ("event") with the checks and body of tools/call, for
        the REST endpoint (rest.py): the same words, the same engine, the same result."""
        name = send_tool if kind == "send" else event_tool
        problem, checked = prepare(name, arguments)
        if problem is not None:
            return refusal(name, problem)
        channels, wait, tags = checked.get("channels"), bool(checked.get("wait")), checked.get("tags")
        if kind == "send":
            return await tools.send(name, checked["title"], checked["content"], channels, wait, tags,
                                    checked.get("format"))
        return await tools.event(name, envelope_arguments(checked), channels, wait, tags)

    server.middleware.append(route_tool_calls)
    server.mcp_push_call = call  # type: ignore[attr-defined]  # what rest.py calls
    server.mcp_push_engine = engine  # type: ignore[attr-defined]  # /metrics and the status page (http_app)
    return server


def check_arguments(is_event: bool, check: ArgumentCheck,
                    arguments: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(the first problem of a call's arguments as '<field>: <rule>', or None when they fit; for a valid
    notify_event, the envelope's timestamp). Wrong types and missing fields against the tool's schema (a
    null stands for an omitted argument), then, for notify_event, the envelope's rules in the spec's words
    (events.validate_envelope, the only check of the envelope; other data fields become `key: value` lines)."""
    if not is_event:
        return argument_problem(check.full, {k: v for k, v in arguments.items() if v is not None}), None
    rest = {k: v for k, v in arguments.items() if k in ("channels", "wait", "tags") and v is not None}
    problem = argument_problem(check.optional, rest) if rest else None  # {} fits a schema requiring nothing
    if problem is not None:
        return problem, None
    try:
        return None, validate_envelope(envelope_arguments(arguments))["timestamp"]
    except EnvelopeError as exc:
        return f"invalid event: {exc}", None


def _channel_tool(tools: _Tools, channel: str, name: str) -> Callable[..., Any]:
    async def notify_channel(
        title: Annotated[str, Field(description="Short headline")],
        content: Annotated[str, Field(description="The message body (plain text)")],
        wait: WaitArg = False,
    ) -> Annotated[CallToolResult, PushResult]:
        return await tools.send(name, title, content, [channel], wait)

    notify_channel.__name__ = f"notify_channel_{tool_slug(channel)}"
    return notify_channel


def _configured_line(configured: list[Any]) -> str:
    if not configured:
        return "\n\nNo channel is configured yet: every call will fail until the user sets a channel's env vars."
    return "\n\nConfigured channels: " + ", ".join(spec.name for spec in configured) + "."
