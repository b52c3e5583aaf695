"""The two entry points: `send` (QingLong-compatible, returns per-channel results) and `plan` (dry run)."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import ChainMap
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from . import channel_threads
from . import result as R
from .config import ConfigError, is_true, message_text, request_timeout, setting
from .config_lookup import config_file_in_use
from .deliver import Outcome, Progress, send_plan
from .envlayers import EnvLayers
from .markdown import check_format
from .overflow import overflow_mode
from .planner import ChannelPlan, plan_channel
from .retry import RetryPolicy, attempts_override
from .selection import NO_CHANNEL_NAMED, channel_names, channel_problems, configured_channels
from .selection import channels_error as channels_error  # re-exported: the CLI and the MCP server use it
from .specs import ChannelSpec, known_env_names
from .wire import seconds_text

log = logging.getLogger("mcp_push")

# Extra seconds a channel thread may run past its own request timeouts before it is reported as hung.
JOIN_MARGIN_S = 5.0


def time_budget(channel_plan: ChannelPlan, timeout: float, attempts: int | None = None) -> float:
    """Seconds a channel may take before it is reported as hung: every request it may make (a stale
    token costs two more) times its transport's round trips (each allowed the full timeout), plus a margin."""
    requests = len(channel_plan.requests) + (3 if channel_plan.token_request else 0)
    round_trips = channel_plan.transport.round_trips
    policy = RetryPolicy.for_spec(channel_plan.spec, attempts)
    # Retried tries start within the deadline; the last may then take its whole timeout.
    retries = policy.deadline_seconds + timeout * round_trips if policy.attempts > 1 else 0
    return timeout * max(requests, 1) * round_trips + retries + JOIN_MARGIN_S


def _selection(
    source: Mapping[str, Any], channels: str | Iterable[str] | None
) -> tuple[list[str] | None, R.SendResult | None]:
    """The channel ids a `channels` argument selects (None: all), or the result that says why nothing
    is sent: a config_error per name that is no configured channel (send never raises)."""
    names = channel_names(channels)
    if names is None:
        return None, None
    if not names:
        return None, R.SendResult([], skipped=NO_CHANNEL_NAMED)
    problems = channel_problems(source, names)
    if problems:
        for _, error in problems:
            log.warning("not pushed: %s", error)
        return None, R.SendResult([R.ChannelResult(name, False, R.CONFIG_ERROR, error) for name, error in problems])
    return [name.lower() for name in names], None


def _skip_reason(title: str, content: str, source: Mapping[str, Any]) -> str | None:
    if not content:
        return "content is empty"
    # Whole-line matches only, as QingLong; an empty line (or an unset variable) skips nothing.
    skip_titles = [line for line in setting("SKIP_PUSH_TITLE", source).split("\n") if line]
    if title in skip_titles:
        return "title is listed in SKIP_PUSH_TITLE"
    return None


def _plans(
    title: str, content: str, source: Mapping[str, Any], params: Mapping[str, Any], now: float,
    channels: Iterable[str] | None = None, edit_refs: Mapping[str, Any] | None = None,
    priority: str | None = None, markup: str = "text",
) -> list[ChannelPlan]:
    overflow = overflow_mode(setting("MCP_PUSH_OVERFLOW", source))
    refs = edit_refs or {}
    return [
        plan_channel(spec, env, title, content, params, now, overflow, refs.get(spec.name), priority, markup=markup)
        for spec, env in configured_channels(source, channels)
    ]


def plan(
    title: str,
    content: str,
    env: Mapping[str, Any] | None = None,
    now: float | None = None,
    params: Mapping[str, Any] | None = None,
    redact: bool = True,
    edit_refs: Mapping[str, Any] | None = None,
    channels: str | Iterable[str] | None = None,
    priority: str | None = None,
    format: str | None = None,  # noqa: A002 (the field's name in MCP, REST and the CLI)
) -> list[dict[str, Any]]:
    """The requests `send` would make, without sending (no hitokoto, no token fetch).

    `env` replaces os.environ; `now` is Unix time in seconds (signatures depend on it). Each entry is
    {channel, step, method, url, headers, body[, proxy]} with body exactly as on the wire, or
    {channel, error} for a channel whose configuration cannot work. With redact=True (the default)
    secrets are masked; redact=False is for tests and conformance. `edit_refs` ({channel: ref}) plans,
    for a channel whose spec can edit (`edit`), the edit of the message ref names instead of a post.
    `channels` as in `send`: a name that is no configured channel is a {channel, error} entry, and then
    nothing else is planned. `priority` (low, normal, high) is the message's, as each spec maps it.
    `format` as in `send`.
    """
    markup = check_format(format)
    source = os.environ if env is None else env
    title, content = message_text(title), message_text(content)
    selected, refused = _selection(source, channels)
    if refused is not None:
        errors = [{"channel": r.channel, "error": r.error} for r in refused]
        return errors or [{"channel": "", "error": refused.skipped}]
    if _skip_reason(title, content, source):
        return []
    entries: list[dict[str, Any]] = []
    at = time.time() if now is None else now
    for channel_plan in _plans(title, content, source, params or {}, at, selected, edit_refs=edit_refs,
                               priority=priority, markup=markup):
        mask = channel_plan.redactor.tree if redact else (lambda tree: tree)
        if channel_plan.error:
            entries.append({"channel": channel_plan.spec.name, "error": channel_plan.error})
            continue
        steps = (channel_plan.token_request,) if channel_plan.token_request else ()
        entries.extend(mask(request.to_dict()) for request in steps + channel_plan.requests)
    return entries


@dataclass
class Prepared:
    """A message ready to go: its final text, the channels it goes to and their settings, or (`result`)
    why nothing goes: skipped, no channel, a setting that cannot work."""

    title: str
    content: str
    targets: list[tuple[ChannelSpec, dict[str, str]]]
    timeout: float = 0.0
    overflow: str = "split"
    attempts: int | None = None  # MCP_PUSH_RETRY_ATTEMPTS, None: each channel's retry policy as written
    result: R.SendResult | None = None
    priorities: dict[str, str] | None = None  # instance name: low, normal or high (routing decides)
    format: str = "text"  # the content's format: text, or markdown (converted per channel when planned)


def check_settings(source: Mapping[str, Any]) -> tuple[float, str, int | None]:
    """The settings every send reads: (MCP_PUSH_TIMEOUT in seconds, MCP_PUSH_OVERFLOW,
    MCP_PUSH_RETRY_ATTEMPTS or None), or ConfigError naming the one that cannot work."""
    timeout = request_timeout(setting("MCP_PUSH_TIMEOUT", source))
    setting("MCP_PUSH_FORMAT", source)  # checked here, so a bad value is every channel's config_error
    return timeout, overflow_mode(setting("MCP_PUSH_OVERFLOW", source)), attempts_override(source)


def config_file_problem(source: Mapping[str, Any]) -> R.SendResult | None:
    """The result of a send under a config file that cannot be used (send never raises): nothing goes,
    and one config_error result, named `config`, says every problem of the file."""
    if not config_file_in_use(source):
        return None
    from .configfile import ConfigFileError, load_config

    try:
        load_config(source)
    except ConfigFileError as exc:
        log.warning("not pushed: %s", exc)
        return R.SendResult([R.ChannelResult("config", False, R.CONFIG_ERROR, str(exc))])
    return None


def prepare_message(
    title: Any, content: Any, source: Mapping[str, Any], channels: str | Iterable[str] | None = None
) -> Prepared:
    title, content = message_text(title), message_text(content)
    problem = config_file_problem(source)
    if problem is not None:
        return Prepared(title, content, [], result=problem)
    selected, refused = _selection(source, channels)
    if refused is not None:
        return Prepared(title, content, [], result=refused)
    targets = configured_channels(source, selected)
    prepared = Prepared(title, content, targets)
    reason = _skip_reason(title, content, source)
    if reason:
        log.info("not pushed: %s", reason)
        prepared.result = R.SendResult(
            [R.ChannelResult(spec.name, False, R.SKIPPED, reason) for spec, _ in targets], skipped=reason
        )
        return prepared
    if not targets:
        log.warning("no push channel is configured; see the channel table in mcp-push's README")
        prepared.result = R.SendResult([], skipped="no channel is configured")
        return prepared
    try:
        prepared.timeout, prepared.overflow, prepared.attempts = check_settings(source)
    except ConfigError as exc:
        log.warning("%s", exc)
        prepared.result = R.SendResult(
            [R.ChannelResult(spec.name, False, R.CONFIG_ERROR, str(exc)) for spec, _ in targets]
        )
        return prepared
    if is_true(setting("HITOKOTO", source)):
        from .hitokoto import fetch_quote

        quote = fetch_quote()
        if quote:
            prepared.content = f"{content}\n\n{quote}"
    return prepared


def dispatch(
    title: str,
    content: str,
    source: Mapping[str, Any],
    params: Mapping[str, Any] | None = None,
    channels: Iterable[str] | None = None,
    now: float | None = None,
    edit_refs: Mapping[str, Any] | None = None,
    priority: str | None = None,
    tags: Iterable[str] | None = None,
    store: Any = None,
    format: str | None = None,  # noqa: A002 (the field's name in MCP, REST and the CLI)
) -> R.SendResult:
    """Sends to every configured channel (or the named subset) concurrently; always returns results.
    With a routing config file (docs/ROUTING.md), routing decides which instances get it, at which
    priority (`tags` are the caller's; `store` keeps the routing state, routed.py).

    `now` fixes the clock signatures use (tests and conformance); by default it is the current time.
    `edit_refs` ({channel: ref}) makes a channel whose spec can edit (`edit`) edit the message ref names
    instead of posting, under the one edit rule (edits.post_or_edit): an edit the vendor refuses with a
    4xx is posted anew; a 5xx is retried as the edit and, if it keeps failing, reported as the edit's failure.
    `format="markdown"` converts the content to each channel's dialect (its spec's `markdown`).
    """
    markup = check_format(format)
    prepared = prepare_message(title, content, source, channels)
    if prepared.result is not None:
        return record(source, prepared.title, prepared.content, prepared.result)
    prepared.format = markup
    if priority is not None:
        prepared.priorities = {spec.name: priority for spec, _ in prepared.targets}
    routing = None
    if config_file_in_use(source):  # without a config file routing changes nothing: routed.py is not imported
        from .routed import route_prepared

        routing = route_prepared(prepared, source, tags=tags, channels=channels, store=store, now=now)
    if routing is not None and not prepared.targets:
        return record(source, prepared.title, prepared.content, routing.merge([]))
    outcomes = send_prepared(prepared, params, now, edit_refs, meanwhile=lambda: prepare_record(source))
    sent = [outcome.result for outcome in outcomes]
    result = routing.merge(sent) if routing is not None else R.SendResult(sent)
    return record(source, prepared.title, prepared.content, result)


# The CLI records in the default state folder too; the library only in one MCP_PUSH_STATE_DIR names.
_RECORD_DEFAULT_STATE = [False]


def record_by_default() -> None:
    """From now on this process records its sends in the history even without MCP_PUSH_STATE_DIR (the CLI)."""
    _RECORD_DEFAULT_STATE[0] = True


def record(source: Mapping[str, Any], title: str, content: str, result: R.SendResult, kind: str = "message",
           run_id: str | None = None, edited: Iterable[str] = (), note: Mapping[str, Any] | None = None
           ) -> R.SendResult:
    """Records a finished send in the state folder's delivery history (service/history.py) when
    MCP_PUSH_STATE_DIR is set (or the CLI asked), setting the result's message_id; returns the result."""
    try:
        if not (setting("MCP_PUSH_STATE_DIR", source) or _RECORD_DEFAULT_STATE[0]):
            return result
    except ConfigError:
        return result
    from .service.history import record_sent

    record_sent(source, title, content, result, kind, run_id, edited, "cli" if _RECORD_DEFAULT_STATE[0] else "library",
                note)
    return result


def prepare_record(source: Mapping[str, Any]) -> None:
    """Opens the history `record` will write to (the import, the database, its writer thread): done while
    the vendors answer a send (send_prepared's `meanwhile`), so the send's end does not wait for it. It
    only prepares: the record is made after the results, and a history that cannot open is the record's
    to report, never the send's."""
    try:
        if not (setting("MCP_PUSH_STATE_DIR", source) or _RECORD_DEFAULT_STATE[0]):
            return
    except ConfigError:
        return
    from .service.history import prepare_store

    prepare_store(source)


def send_prepared(
    prepared: Prepared,
    params: Mapping[str, Any] | None = None,
    now: float | None = None,
    edit_refs: Mapping[str, Any] | None = None,
    only: Iterable[str] | None = None,
    meanwhile: Callable[[], None] | None = None,
) -> list[Outcome]:
    """Plans and sends a prepared message to its channels (or those named in `only`) concurrently: each
    channel's Outcome (its result, the plan it ran, the vendor's successful replies). With `edit_refs`,
    edits follow the one edit rule (edits.post_or_edit). `meanwhile` is called once, while the vendors
    answer (_run_concurrently)."""
    from .edits import post_or_edit

    now = time.time() if now is None else now
    pending = [meanwhile]
    if only is not None:
        names = set(only)
        prepared = replace(prepared, targets=[(spec, env) for spec, env in prepared.targets if spec.name in names])

    def send(refs: Mapping[str, Any], subset: list[str] | None) -> list[Outcome]:
        targets = [(spec, env) for spec, env in prepared.targets if subset is None or spec.name in subset]
        plans = [
            plan_channel(spec, env, prepared.title, prepared.content, params or {}, now, prepared.overflow,
                         refs.get(spec.name), (prepared.priorities or {}).get(spec.name), markup=prepared.format)
            for spec, env in targets
        ]
        call, pending[0] = pending[0], None  # the first send's; a refused edit's post (post_or_edit) comes after
        return _run_concurrently(plans, prepared.timeout, prepared.attempts, call)

    return post_or_edit(send, edit_refs or {})


def _run_concurrently(plans: list[ChannelPlan], timeout: float, attempts: int | None,
                      meanwhile: Callable[[], None] | None = None) -> list[Outcome]:
    outcomes: list[Outcome | None] = [None] * len(plans)
    # on_wire[i]: channel i's request is written (or its send is over), for `meanwhile`.
    on_wire = [threading.Event() for _ in plans] if meanwhile is not None else []
    progress = [Progress(on_wire[i].set if on_wire else None) for i in range(len(plans))]
    # One wake-up of the caller when the last channel is done, not one per channel: each would take the
    # GIL from the channels still reading their replies.
    all_done = threading.Event()
    running = [len(plans)]
    finished = [False] * len(plans)
    counting = threading.Lock()

    def work(index: int) -> None:
        try:
            outcomes[index] = send_plan(plans[index], timeout, progress=progress[index], attempts=attempts)
        finally:
            if on_wire:
                on_wire[index].set()
            with counting:
                finished[index] = True
                running[0] -= 1
                if running[0] == 0:
                    all_done.set()

    if not plans:
        return []
    budgets = [time_budget(channel_plan, timeout, attempts) for channel_plan in plans]
    _load_transports(plans)
    # Daemon worker threads kept between sends (channel_threads.py): a channel stuck past every timeout
    # must not keep the process alive at exit.
    for index, channel_plan in enumerate(plans):
        channel_threads.start(lambda index=index: work(index), f"mcp-push-{channel_plan.spec.name}")
    started = time.monotonic()
    if meanwhile is not None:
        _while_answering(on_wire, meanwhile)
    waiting = list(range(len(plans)))
    while waiting:
        # Until every channel is done, or the first budget of those still running runs out.
        all_done.wait(max(min(budgets[index] for index in waiting) - (time.monotonic() - started), 0))
        still = []
        for index in waiting:
            if outcomes[index] is not None:
                continue
            if not finished[index] and time.monotonic() - started < budgets[index]:
                still.append(index)
                continue
            # Still running: it may deliver late, but the caller is not kept waiting for it.
            channel_plan = plans[index]
            waited = seconds_text(budgets[index])
            log.warning("%s: no result within %s s; not waiting for it", channel_plan.spec.display_name, waited)
            so_far = progress[index]
            outcomes[index] = Outcome(channel_plan, R.ChannelResult(
                channel_plan.spec.name, False, R.TIMEOUT, f"no result within {waited} s", so_far.attempts,
                round((time.monotonic() - started) * 1000), None, so_far.parts, channel_plan.truncated,
            ))
        waiting = still
    return [o for o in outcomes if o is not None]


def _load_transports(plans: list[ChannelPlan]) -> None:
    """The transports' libraries, imported here before the threads start (Transport.load). One that fails
    to import is left to its channels' threads, whose results say so: a send never raises."""
    for transport in {id(p.transport): p.transport for p in plans if not p.error}.values():
        try:
            transport.load()
        except Exception:  # noqa: S112 - reported by each channel that uses it
            continue


# How long the caller waits for every channel's request to be on the wire before it does its `meanwhile`
# work; past it the work is left out (what it prepares is then done after the replies, as without it).
MEANWHILE_WAIT_S = 1.0


def _while_answering(on_wire: list[threading.Event], meanwhile: Callable[[], None]) -> None:
    """Runs `meanwhile` once every channel's request is written or its send is over (`on_wire`, one per
    channel): not before, so the work does not hold the interpreter while channels still plan, connect
    and write. A failure of it is logged and changes no result."""
    deadline = time.monotonic() + MEANWHILE_WAIT_S
    for channel in on_wire:
        if not channel.wait(max(deadline - time.monotonic(), 0)):
            return
    try:
        meanwhile()
    except Exception:
        log.debug("work while the vendors answer failed", exc_info=True)


def split_kwargs(kwargs: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """kwargs named like env vars are config for this call; lower-case ones are vendor params (QingLong's
    PushMe `date` and `type`). An upper-case name no channel reads is a typo: dropped, with a warning,
    rather than sent to a vendor as a parameter."""
    names = known_env_names()
    config = {k: v for k, v in kwargs.items() if k in names}
    unknown = sorted(k for k in kwargs if k not in names and k.isupper())
    if unknown:
        log.warning("ignored unknown settings: %s", ", ".join(unknown))
    params = {k: v for k, v in kwargs.items() if k not in names and not k.isupper()}
    return config, params


def send(
    title: str, content: str, ignore_default_config: bool = False, channels: str | Iterable[str] | None = None,
    tags: Iterable[str] | None = None, format: str | None = None,  # noqa: A002 (as in MCP, REST and the CLI)
    **kwargs: Any,
) -> R.SendResult:
    """Pushes to every configured channel, like QingLong's notify.send, and says what happened.

    `channels` (channel ids, any case; a text may list several, comma-separated) sends to those
    only; a name that is no configured channel sends nothing and is a config_error result of that name
    whose error lists the configured channels (send never raises).
    kwargs use env var names (DD_BOT_TOKEN=...) and apply to this call only. With
    ignore_default_config=True the environment is not read at all: only kwargs and spec defaults count.
    Other kwargs (QingLong's PushMe `date` and `type`) are passed to channels that take parameters.
    With a routing config file (mcp-push.yaml, docs/ROUTING.md) `channels` names its instances, and
    `tags` are matched by its routes; without one, nothing changes.
    `format="markdown"` reads the content as CommonMark and converts it for each channel (Telegram HTML,
    Slack mrkdwn, Markdown, plain text…: each spec's `markdown`); the default `text` sends it as it is.
    Another value raises ValueError("format: must be text or markdown").
    """
    config, params = split_kwargs(kwargs)
    if ignore_default_config:
        # QingLong reads SKIP_PUSH_TITLE from the environment whatever the config says.
        source: Mapping[str, Any] = ChainMap(config, {"SKIP_PUSH_TITLE": os.environ.get("SKIP_PUSH_TITLE", "")})
    else:
        source = EnvLayers(config, os.environ)  # a ChainMap whose os.environ lookups raise nothing
    return dispatch(title, content, source, params, channels=channels, tags=tags, format=format)
