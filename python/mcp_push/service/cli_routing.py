"""The CLI's routing commands (docs/ROUTING.md): `mcp-push config check [FILE]` (every problem of a config
file, one a line with its line number; warnings for secrets written into it), `mcp-push route --explain`
(what routing would decide for a message, and the rule, from the state in the state folder, which it
leaves unchanged) and the routing part of `send --dry-run` / `event --dry-run`."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..configfile import ConfigFileError, config_path, inline_secrets, load_config, parse_config

OK, USAGE = 0, 2


def add_parsers(sub: Any) -> None:
    """`config check` and `route --explain`, registered on the CLI's subcommands (cli._parser)."""
    config = sub.add_parser("config", help="check the routing config file (mcp-push.yaml)",
                            description="mcp-push config check [FILE]: reads FILE (default: MCP_PUSH_CONFIG, "
                            "./mcp-push.yaml or the user config folder's) and reports every problem, one a line "
                            "with its line number, and warns of secrets written into it. Exit 0 when usable.")
    config.add_argument("action", choices=("check",))
    config.add_argument("file", nargs="?", help="the file to check (default: the one in use)")
    route = sub.add_parser("route", help="explain what routing decides for a message, and why",
                           description="Prints, for each instance, what the routing config decides for the "
                           "message (send, drop, defer, digest), its priority and the rule that decided; the "
                           "state in the state folder (only:, throttle:) is read, not changed. Sends nothing.")
    route.add_argument("--explain", action="store_true", required=True, help="print the decisions (the default)")
    route.add_argument("--event", choices=("message", "start", "update", "end", "error"), default="message")
    route.add_argument("--run-id")
    route.add_argument("--title", default="")
    route.add_argument("--tag", action="append", metavar="TAG", help="a caller's tag (repeatable)")
    route.add_argument("--channel", action="append", metavar="NAME", help="an explicit instance (repeatable)")
    route.add_argument("--json", action="store_true", help="print the decisions as JSON")


def config_check(args: argparse.Namespace, env: Mapping[str, Any]) -> int:
    try:
        path = Path(args.file) if args.file else config_path(env)
    except ConfigFileError as exc:
        print(exc)
        return USAGE
    if path is None:
        print("no config file (MCP_PUSH_CONFIG, ./mcp-push.yaml or the user config folder's): every configured "
              "channel gets every message")
        return OK
    try:
        config = parse_config(path.read_text(encoding="utf-8"), str(path))
    except OSError as exc:
        print(f"{path}: cannot be read: {exc.strerror or exc}")
        return USAGE
    except ConfigFileError as exc:
        print(exc)
        print(f"{path}: {len(exc.problems)} problem{'s' if len(exc.problems) != 1 else ''}; nothing is sent "
              "while it has any")
        return USAGE
    for warning in inline_secrets(config):
        print(f"warning: {warning}")
    print(f"{path}: ok ({len(config.channels)} instances, {len(config.routes)} routes)")
    return OK


def _decisions(env: Mapping[str, Any], kind: str, run_id: str | None, title: str, tags: Iterable[str] | None,
               channels: Iterable[str] | None) -> list[dict[str, Any]] | None:
    """What routing decides now, its state (the state folder's, or the replicas' with MCP_PUSH_DATABASE_URL)
    read but left as it is; None without a config file."""
    from ..api import channel_names, prepare_message
    from ..routed import decide_for
    from .pg_cli import DatabaseCommandError
    from .routing_stores import routing_store_for

    names = channel_names(channels)
    prepared = prepare_message(title or "-", "-", env, names)
    if prepared.result is not None and prepared.result.channels:
        raise ConfigFileError([r.error or r.status for r in prepared.result.channels])
    store = _ReadOnly(routing_store_for(env, DatabaseCommandError))
    return decide_for(prepared, env, kind, run_id, tags, names, store)


class _ReadOnly:
    """A store whose state is read and never written (explain and dry runs change nothing)."""

    def __init__(self, store: Any):
        self._state = store.state()
        store.close()

    def update(self, change: Any) -> Any:
        return change(self._state)


def _shown(decision: Mapping[str, Any]) -> str:
    from ..routed import when_text

    until = f" until {when_text(decision['until'])}" if "until" in decision else ""
    return f"{decision['instance']}: {decision['action']}{until} ({decision['priority']}) — {decision['rule']}"


def route_explain(args: argparse.Namespace, env: Mapping[str, Any]) -> int:
    try:
        if load_config(env) is None:
            print("no config file: every configured channel gets every message")
            return OK
        decisions = _decisions(env, args.event, args.run_id, args.title, args.tag, args.channel)
    except ConfigFileError as exc:
        print(exc)
        return USAGE
    if args.json:
        print(json.dumps(decisions, ensure_ascii=False, indent=2))
    else:
        for decision in decisions or []:
            print(_shown(decision))
    return OK


def dry_run_decisions(env: Mapping[str, Any], kind: str, run_id: str | None, title: str,
                      tags: Iterable[str] | None, channels: Iterable[str] | None) -> list[dict[str, Any]] | None:
    """For `send --dry-run` / `event --dry-run`: the decisions (also printed on stderr, one a line), or
    None without a config file."""
    import sys

    if load_config(env) is None:
        return None
    decisions = _decisions(env, kind, run_id, title, tags, channels) or []
    for decision in decisions:
        print(f"route: {_shown(decision)}", file=sys.stderr)
    return decisions
