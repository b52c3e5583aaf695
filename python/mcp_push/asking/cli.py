"""`mcp-push ask "Deploy?" --option yes --option no --timeout 120`: asks on the configured channels and
prints the answer (exit 0); exit 1 when nobody answered in time and there is no --default; exit 2 for a
question that cannot be asked ('<field>: <rule>', the words of notify_ask)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from typing import Any

OK, FAILED = 0, 1


def add_ask_parser(sub: Any) -> None:
    ask = sub.add_parser("ask", help="ask a question on the phone and print the first answer",
                         description="Sends the question to the configured channels (Telegram buttons, ntfy "
                         "actions, Matrix, answer links with MCP_PUSH_PUBLIC_URL) and waits for the first answer. "
                         "Prints the answer; exit 0, or 1 when nobody answered in time and there is no "
                         "--default.")
    ask.add_argument("question")
    ask.add_argument("--option", action="append", metavar="TEXT",
                     help="a possible answer (2 to 5 of them); none: a free-text answer")
    ask.add_argument("--timeout", type=float, default=300.0, metavar="SECONDS",
                     help="seconds to wait for an answer (default 300)")
    ask.add_argument("--default", help="the answer to print when nobody answers in time")
    ask.add_argument("--run-id", help="the run this question belongs to (audit log)")
    ask.add_argument("--channel", action="append", metavar="NAME",
                     help="only this configured channel (repeatable); default: all configured")
    ask.add_argument("--json", action="store_true", help="print the whole result as JSON")
    ask.add_argument("-v", "--verbose", action="store_true", help="log what happens on stderr")


def ask_command(args: argparse.Namespace, env: Mapping[str, Any], usage_error: type[Exception]) -> int:
    from . import ask

    try:
        result = ask(args.question, args.option, timeout=args.timeout, default=args.default,
                     channels=args.channel, run_id=args.run_id, env=env)
    except ValueError as exc:
        raise usage_error(str(exc)) from None
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    elif result.get("answer") is not None:
        print(result["answer"])
    else:
        print("mcp-push: nobody answered in time", file=sys.stderr)
    return OK if result.get("answer") is not None else FAILED
