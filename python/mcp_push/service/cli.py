"""The `mcp-push` command: `serve` (the MCP server; the default), `send`, `event`, `run` and `channels`.

Exit codes: 0 every channel delivered (or the message was deliberately skipped), 1 some channel failed,
2 a usage or configuration error. Errors are one line on stderr; results for people go to stdout
(`--json` for machines). In `serve` over stdio, stdout carries nothing but JSON-RPC. `hook` (agent
hosts' hooks, agent_hooks.py) always exits 0.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, NoReturn

from ..config import agent_defaults
from ..redact import MASK, process_redactor

OK, FAILED, USAGE = 0, 1, 2


class UsageError(Exception):
    """A usage or configuration error: one line on stderr, exit code 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, but its errors are one line (usage is one `--help` away)."""

    def error(self, message: str) -> NoReturn:
        self.exit(USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="mcp-push",
        description="Push notifications to DingTalk, Feishu, WeCom, Telegram, e-mail, ntfy, Bark and more. "
        "Channels are configured with environment variables (see `mcp-push channels`). "
        "With no command, serves MCP over stdio (how an MCP host starts it).",
        epilog="Exit codes: 0 all delivered, 1 some channel failed, 2 usage or configuration error.",
    )
    from .. import __version__  # here, not at the top: `mcp-push hook` must start fast (its early path in main)
    from .http_defaults import DEFAULT_PORT  # not http_app: that imports uvicorn, which stdio never needs

    parser.add_argument("--version", action="version", version=f"mcp-push {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    serve = sub.add_parser("serve", help="serve MCP (stdio by default, or streamable HTTP)",
                           description="Serve the MCP tools notify_send, notify_event (and notify_channel_<name> "
                           "with MCP_PUSH_CHANNEL_TOOLS=true). Over HTTP, MCP_PUSH_HTTP_TOKEN makes every request "
                           "need 'Authorization: Bearer <token>'.")
    serve.add_argument("--transport", choices=("stdio", "http"), default="stdio")
    # None when not given: they only apply to HTTP, and giving them for stdio is an error.
    serve.add_argument("--host", help="HTTP: address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=_port, help=f"HTTP: port (default {DEFAULT_PORT})")
    serve.add_argument("--path", help="HTTP: endpoint path (default /mcp)")

    send = sub.add_parser("send", help="send a message to the configured channels")
    send.add_argument("title")
    send.add_argument("content")
    send.add_argument("--format", choices=("text", "markdown"), default="text",
                      help="markdown: read CONTENT as CommonMark and convert it for each channel (default text)")
    _channel_and_output_args(send)
    send.add_argument("--dry-run", action="store_true",
                      help="print the requests that would be made, as JSON with secrets masked; send nothing")

    event = sub.add_parser("event", help="send an event of a run (start, update, end, error)")
    event.add_argument("--run-id", required=True, help="names the run; events of one run share it")
    event.add_argument("--event", required=True, choices=("start", "update", "end", "error"))
    event.add_argument("--message", required=True)
    event.add_argument("--step")
    event.add_argument("--progress", type=_number, help="fraction done, 0 to 1")
    event.add_argument("--artifact-url", help="http(s) link to the result")
    event.add_argument("--error-code")
    event.add_argument("--timestamp", help="RFC 3339; default: now")
    event.add_argument("--data", type=_json_object,
                       help="more data fields, as a JSON object; those without a line of their own are shown "
                       "as 'key: value' lines")
    _channel_and_output_args(event)
    event.add_argument("--dry-run", action="store_true",
                       help="print the requests that would be made, as JSON with secrets masked; send nothing")

    run = sub.add_parser("run", help="run a command and report it: start, then end or error (exit code, stderr)",
                         description="Runs COMMAND (after --) and sends its run's events: start, then end with "
                         "the duration, or error with the exit code and the last lines of stderr (channel secrets "
                         "masked). Output passes through; exits with the command's exit code. With MCP_PUSH_URL "
                         "set, the events go to that server's REST endpoint.")
    run.add_argument("--run-id", help="names the run (default: the command's name and the start time)")
    run.add_argument("--title", help="what the messages call the command (default: the command line)")
    run.add_argument("--on", choices=("always", "error"), default="always",
                     help="error: send only a failure (no start, no end); default: always")
    run.add_argument("--progress-regex", metavar="REGEX",
                     help="output lines matching it become progress updates: the group named percent or "
                     "fraction, else the first group ('45%%', '3/10', '0.45')")
    run.add_argument("--progress-every", type=_number, default=5.0, metavar="SECONDS",
                     help="at most one progress update this often (default 5)")
    run.add_argument("--channel", action="append", metavar="NAME",
                     help="only this configured channel (repeatable); default: all configured")
    run.add_argument("-v", "--verbose", action="store_true", help="log each channel's outcome on stderr")
    run.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- COMMAND ...")

    flush = sub.add_parser("flush", help="deliver what the MCP server left unfinished in its outbox",
                           description="Sends the deliveries an MCP server accepted but did not finish (it was "
                           "killed, or stopped while waiting for a rate limit), from the outbox in "
                           "MCP_PUSH_STATE_DIR. A running server keeps its own. With MCP_PUSH_DATABASE_URL: what is "
                           "pending in PostgreSQL, whoever accepted it.")
    flush.add_argument("--timeout", type=_number, default=300.0,
                       help="seconds to wait for rate limits and retries (default 300); what is left stays queued")
    flush.add_argument("--json", action="store_true", help="print the result as JSON")
    flush.add_argument("-v", "--verbose", action="store_true", help="log each channel's outcome on stderr")

    hook = sub.add_parser("hook", help="what an agent host's hooks run: claude-code, codex or cursor (exits 0)",
                          description="Maps an agent host's hook JSON to an event and sends it (or hands it "
                          "to the server at MCP_PUSH_URL). Always exits 0. See `mcp-push hook HOST --help`.")
    hook.add_argument("host", nargs="?", metavar="HOST", help="claude-code, codex or cursor")
    hook.add_argument("args", nargs=argparse.REMAINDER, metavar="...", help="the host's options and input")

    from ..asking.cli import add_ask_parser  # mcp-push ask (asking/cli.py)

    add_ask_parser(sub)

    channels = sub.add_parser("channels", help="list channels: configured ones, and what the others lack")
    channels.add_argument("--json", action="store_true", help="machine-readable output")
    from .cli_routing import add_parsers

    add_parsers(sub)  # config check, route --explain (docs/ROUTING.md)
    # `mcp-push worker`, `mcp-push db migrate`: the PostgreSQL backend (pg_cli.py).
    from . import pg_cli

    pg_cli.add_commands(sub)

    from .history_cli import add_commands  # history, status RUN: the delivery history (issue 17)

    add_commands(sub)
    return parser


def _channel_and_output_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--channel", action="append", metavar="NAME",
                        help="only this configured channel (repeatable); default: all configured")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("-v", "--verbose", action="store_true", help="log each channel's outcome on stderr")
    parser.add_argument("--tag", action="append", metavar="TAG",
                        help="a tag for the routes of the routing config (mcp-push.yaml; repeatable)")


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number from 0 to 65535, got '{text}'")
    return port


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: '{text}'") from None


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("must be a JSON object")
    return value


# --- send, event ---------------------------------------------------------------------------------------


def _check_channels(names: Sequence[str] | None, env: Mapping[str, Any]) -> list[str] | None:
    """The --channel names (each may list several, comma-separated), or UsageError saying what is wrong:
    a name that is no configured channel, listing the configured ones, or no channel configured at all."""
    from ..api import channel_names, channels_error, configured_channels

    wanted = channel_names(names)
    if wanted == []:
        raise UsageError("--channel names no channel; leave it out to send to every configured channel")
    error = channels_error(env, wanted)
    if error:
        raise UsageError(f"{error} (`mcp-push channels` tells what the others need)")
    if wanted is None and not configured_channels(env):
        raise UsageError("no channel is configured; set a channel's env vars (`mcp-push channels` lists them)")
    return wanted


def _envelope(args: argparse.Namespace) -> dict[str, Any]:
    data = dict(args.data or {})
    for field in ("step", "progress", "artifact_url", "error_code"):
        value = getattr(args, field)
        if value is not None:
            data[field] = value
    envelope: dict[str, Any] = {"run_id": args.run_id, "event": args.event, "message": args.message}
    if data:
        envelope["data"] = data
    if args.timestamp is not None:
        envelope["timestamp"] = args.timestamp
    return envelope


def _dry_run(entries: list[dict[str, Any]]) -> int:
    print(json.dumps(entries, ensure_ascii=False, indent=2))
    return USAGE if any("error" in e for e in entries) else OK


def _check_settings(env: Mapping[str, Any]) -> None:
    """A dry run checks the settings a send reads (MCP_PUSH_TIMEOUT, MCP_PUSH_OVERFLOW,
    MCP_PUSH_RETRY_ATTEMPTS) as the send would: a bad one is a configuration error, exit 2, either way."""
    from ..api import check_settings
    from ..config import ConfigError

    try:
        check_settings(env)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None


def _send(args: argparse.Namespace, env: Mapping[str, Any]) -> int:
    from ..api import dispatch, plan

    if not args.content.strip():
        raise UsageError("CONTENT is empty: nothing to send")
    channels = _check_channels(args.channel, env)
    if args.dry_run:
        _check_settings(env)
        routed = _routed_plan(env, "message", None, args.title, args.tag, channels,
                              lambda names, level: plan(args.title, args.content, env=env, channels=names,
                                                        priority=level, format=args.format))
        return _dry_run(routed if routed is not None else plan(args.title, args.content, env=env, channels=channels,
                                                               format=args.format))
    with _store(env) as store:
        result = dispatch(args.title, args.content, env, channels=channels, tags=args.tag, store=store,
                          format=args.format)
    return _report(result, args.json, env)


@contextlib.contextmanager
def _store(env: Mapping[str, Any]) -> Iterator[Any]:
    """Routing's state, with a routing config file only: the state folder's, or with MCP_PUSH_DATABASE_URL
    the one the replicas share (routing_stores.py); closed after the send."""
    from ..configfile import load_config
    from .pg_cli import DatabaseCommandError
    from .routing_stores import routing_store_for

    store = routing_store_for(env, DatabaseCommandError) if load_config(env) is not None else None
    try:
        yield store
    finally:
        if store is not None:
            store.close()


def _routed_plan(env: Mapping[str, Any], kind: str, run_id: str | None, title: str, tags: Any, channels: Any,
                 plan_some: Any) -> list[dict[str, Any]] | None:
    """A dry run under a routing config: the decisions on stderr, the plan of the instances sent to now
    at their priorities; None without a config file."""
    from .cli_routing import dry_run_decisions

    decisions = dry_run_decisions(env, kind, run_id, title, tags, channels)
    if decisions is None:
        return None
    return [entry for d in decisions if d["action"] == "send" for entry in plan_some([d["instance"]], d["priority"])]


def _event(args: argparse.Namespace, env: Mapping[str, Any]) -> int:
    from ..events import EnvelopeError, plan_event, send_event, validate_envelope

    envelope = _envelope(args)
    try:
        validate_envelope(envelope)
    except EnvelopeError as exc:
        raise UsageError(f"invalid event: {exc}") from None
    channels = _check_channels(args.channel, env)
    if args.dry_run:
        _check_settings(env)
        routed = _routed_plan(env, args.event, args.run_id, args.message, args.tag, channels,
                              lambda names, level: plan_event(envelope, env=env, channels=names, priority=level))
        return _dry_run(routed if routed is not None else plan_event(envelope, env=env, channels=channels))
    with _store(env) as store:
        result = send_event(envelope, channels=channels, env=env, tags=args.tag, store=store)
    return _report(result, args.json, env)


def _run(args: argparse.Namespace, env: Mapping[str, Any]) -> int:
    """Exit code: the command's (2 only for our own usage or configuration errors, before it runs)."""
    from ..api import channel_names
    from .rest_client import server_url
    from .run_command import compile_progress, run

    command = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
    if not command:
        raise UsageError("run: no command given; put it after --, as in `mcp-push run -- backup.sh`")
    if not args.progress_every > 0:
        raise UsageError("--progress-every: must be a number of seconds above 0")
    try:
        progress = compile_progress(args.progress_regex) if args.progress_regex is not None else None
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    # With a server, it has the channels; without, a wrapper that could never notify is an error now.
    channels = channel_names(args.channel) if server_url(env) else _check_channels(args.channel, env)
    return run(command, env, run_id=args.run_id, title=args.title, only_errors=args.on == "error",
               progress=progress, every=args.progress_every, channels=channels)


def _report(result: Any, as_json: bool, env: Mapping[str, Any]) -> int:
    from .outcome import SecretRedactor, outcome

    report = outcome(result, SecretRedactor(env))
    channels = report["channels"]
    if as_json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        rows = [(c["channel"], c["status"], f"{c['elapsed_ms']} ms", c["error"] or "") for c in channels]
        _table(("channel", "status", "time", "detail"), rows)
        print(report["summary"])
    if report["skipped"]:
        return OK  # deliberately not pushed: the title is listed in SKIP_PUSH_TITLE
    if channels and all(c["status"] == "config_error" for c in channels):
        return USAGE  # nothing could be attempted: every channel lacks configuration
    # An instance routing left out (docs/ROUTING.md) is skipped on purpose, not a failure.
    routed_out = sum(1 for c in channels if c["status"] == "skipped")
    return OK if report["delivered"] == report["total"] - routed_out else FAILED


def _flush(args: argparse.Namespace, env: Mapping[str, Any]) -> int:
    from .backend import database_url
    from .engine import Engine, Ticket
    from .outbox import Outbox, outbox_enabled, state_dir

    if database_url(env):  # the deliveries are in PostgreSQL (pg_cli.py)
        from . import pg_cli

        return pg_cli.flush_command(args, env, _report)
    if not outbox_enabled(env):
        return _fail("the outbox is off (MCP_PUSH_OUTBOX=false): nothing is kept to flush", USAGE)
    from .watchers import watch

    engine = watch(Engine(env, Outbox.for_source(env)), env)  # what it finishes is in the history too
    deliveries = engine.adopt()
    if not deliveries:
        print(f"Nothing to flush in {state_dir(env)}.", file=sys.stderr)
        return OK
    engine.start(resume=False)
    engine.drain(args.timeout)
    engine.close()
    # An update a newer one of its run replaced is done, not failed: it is left out of the report.
    final = [d for d in deliveries if d.result is None or d.result.status != "superseded"]
    return _report(Ticket(list(final)).result(), args.json, env)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    if not rows:
        return
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


# --- channels ------------------------------------------------------------------------------------------


def _needs(spec: Any, resolved: Mapping[str, str]) -> list[str]:
    """What an unconfigured channel needs, starting with the variable that turns it on (for SMTP:
    SMTP_SERVER or SMTP_SERVICE) unless a required one already does."""
    from ..config import missing_config

    missing = missing_config(spec, resolved)
    if not any(name in spec.active_when for name in missing):
        missing.insert(0, " or ".join(spec.active_when))
    return missing


def channel_overview(env: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every channel: configured or not, what turns it on, what it lacks, its values that break their
    spec type (`problems`), set variables no channel reads that look like its own (`unknown_env`, with
    the closest name), and its set variables (secrets as ***)."""
    from ..config import channel_env, invalid_config, is_configured, missing_config, unknown_env
    from ..planner import plan_channel
    from ..specs import known_env_names, load_channels

    specs = load_channels()
    unknown: dict[str, list[dict[str, Any]]] = {}
    for channel, name, suggestion in unknown_env(env, specs.values(), known_env_names()):
        unknown.setdefault(channel, []).append({"name": name, "suggestion": suggestion})
    overview = []
    for spec in specs.values():
        resolved = channel_env(spec, env)
        configured = is_configured(spec, resolved)
        missing = missing_config(spec, resolved) if configured else _needs(spec, resolved)
        problems = invalid_config(spec, resolved)
        if configured and not missing and not problems:
            # What only the channel's hook can tell (SMTP_SERVICE not a known provider, QYWX_AM's fields):
            # plan a message, which sends nothing.
            error = plan_channel(spec, resolved, "mcp-push channels", "check", {}, time.time()).error
            problems = [error] if error else []
        shown = {
            name: (MASK if var.secret else str(env.get(name)))
            for name, var in spec.env.items()
            if str(env.get(name) or "") != ""
        }
        overview.append({
            "channel": spec.name, "display_name": spec.display_name, "configured": configured,
            "complete": configured and not missing and not problems, "enabled_by": list(spec.active_when),
            "missing": missing, "problems": problems, "unknown_env": unknown.get(spec.name, []), "env": shown,
        })
    return overview


def _channels(args: argparse.Namespace, env: Mapping[str, Any]) -> int:
    """The doctor: what is configured and ready, what the others need, and every value that cannot work
    or variable name that looks mistyped. Exit 0: it reports, it does not send."""
    from .outcome import SecretRedactor

    overview = channel_overview(env)
    redactor = SecretRedactor(env)
    if args.json:
        # Values masked, never keys: a short secret must not rename a field or a variable.
        print(json.dumps(redactor.tree(overview), ensure_ascii=False, indent=2))
        return OK
    configured = [c for c in overview if c["configured"]]
    others = [c for c in overview if not c["configured"]]
    print(f"configured ({len(configured)}):" if configured else "configured: none")
    rows = []
    for c in configured:
        if c["complete"]:
            state = "ready"
        elif c["missing"]:
            state = "missing " + ", ".join(c["missing"])
        else:
            state = "cannot work (see problems)"
        rows.append(("  " + c["channel"], state, " ".join(f"{k}={v}" for k, v in c["env"].items())))
    _table(("  channel", "state", "set"), [tuple(redactor.text(cell) for cell in row) for row in rows])
    print(f"not configured ({len(others)}):")
    _table(("  channel", "needs"), [("  " + c["channel"], ", ".join(c["missing"])) for c in others])
    problems = [(c["channel"], p) for c in overview for p in c["problems"]]
    for c in overview:
        for entry in c["unknown_env"]:
            hint = f"; did you mean {entry['suggestion']}?" if entry["suggestion"] else ""
            problems.append((c["channel"], f"{entry['name']}: no channel reads this variable{hint}"))
    if problems:
        print(f"problems ({len(problems)}):")
        _table(("  channel", "problem"), [("  " + channel, problem) for channel, problem in problems])
    return OK


# --- hook ----------------------------------------------------------------------------------------------


def _hook(args: argparse.Namespace, env: Mapping[str, Any]) -> int:
    from ..asking import permission
    from .agent_hooks import main as hook_main

    if permission.wanted(args.host, args.args, env):  # Claude Code's PermissionRequest asked on the phone
        return permission.main(args.host, args.args, env, hook_main)
    return hook_main(args.host, args.args, env)


def _hook_now(host: str, args: Sequence[str]) -> int:
    """`mcp-push hook HOST ...` straight to agent_hooks, without the rest of the CLI: a host waits for
    it (its parser and imports, the HTTP server's among them, cost a quarter of a second)."""
    from ..logs import log_to_stderr
    from .agent_hooks import main as hook_main

    log_to_stderr(logging.ERROR, own_process=True)
    env = agent_defaults(os.environ)
    from ..asking import permission

    if permission.wanted(host, args, env):  # Claude Code's PermissionRequest asked on the phone
        return permission.main(host, args, env, hook_main)
    return hook_main(host, args, env)


# --- serve ---------------------------------------------------------------------------------------------


def _serve(args: argparse.Namespace, env: Mapping[str, Any]) -> int:
    from .lifecycle import ServeError, serve

    try:
        serve(env, args.transport, args.host, args.port, args.path)
    except ServeError as exc:
        raise UsageError(str(exc)) from None
    return OK


# --- ask -----------------------------------------------------------------------------------------------


def _ask(args: argparse.Namespace, env: Mapping[str, Any]) -> int:
    from ..asking.cli import ask_command

    return ask_command(args, env, UsageError)


# --- main ----------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """The program (`mcp-push`, `python -m mcp_push`) when `argv` is None; a caller's own list runs in its process."""
    if argv is None:
        from .program_exit import skip_final_collection

        skip_final_collection()  # the program's exit skips the heap-wide garbage collection (program_exit.py)
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["hook"] and argv[1:2] and argv[1] not in ("-h", "--help"):
        return _hook_now(argv[1], argv[2:])
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version")):
        argv = ["serve", *argv]  # what an MCP host runs: `mcp-push`, `mcp-push --transport http`
    args = _parser().parse_args(argv)
    _setup_logging(args)
    env = agent_defaults(os.environ)
    from ..api import record_by_default
    from .cli_routing import config_check, route_explain

    record_by_default()  # what the CLI sends is in the history (`mcp-push history`), state folder set or not
    handlers = {"serve": _serve, "send": _send, "event": _event, "channels": _channels, "flush": _flush,
                "hook": _hook, "run": _run, "config": config_check, "route": route_explain}
    handlers["ask"] = _ask
    from .history_cli import history_command, status_command

    handlers.update(history=history_command, status=status_command)
    from ..config import ConfigError
    from ..specs import SpecError
    from . import pg_cli

    handlers.update(pg_cli.HANDLERS)

    # Exit codes are 0, 1 and 2 only; messages are one line and never name a Python class.
    try:
        return handlers[args.command](args, env)
    except (UsageError, ConfigError, SpecError, pg_cli.DatabaseCommandError) as exc:
        return _fail(str(exc), USAGE)
    except KeyboardInterrupt:  # a server stopped by its user is done; an interrupted send is not
        return OK if args.command == "serve" else FAILED
    except BrokenPipeError:  # `mcp-push channels | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return FAILED
    except Exception as exc:  # one line, never a traceback; -v logs the cause
        logging.getLogger("mcp_push").info("unexpected error", exc_info=True)
        detail = str(exc).strip()
        return _fail(f"unexpected error: {detail}" if detail else "unexpected error (-v tells more)", FAILED)


def _fail(message: str, code: int) -> int:
    print(f"mcp-push: error: {process_redactor().text(message)}", file=sys.stderr)
    return code


def _setup_logging(args: argparse.Namespace) -> None:
    """Quiet for send/event (the table says it all) unless -v; the server logs what it does."""
    from ..logs import log_to_stderr

    log_to_stderr(logging.INFO if args.command == "serve" or getattr(args, "verbose", False) else logging.ERROR,
                  own_process=True)


if __name__ == "__main__":
    sys.exit(main())
