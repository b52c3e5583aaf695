"""A question as each channel shows it, with its way to answer (its "affordance"):

- telegram: an inline keyboard (reply_markup, one button per option, callback_data `ask:<token>`); a
  free-text question asks for a reply (force_reply) to the message.
- ntfy: action buttons of type http that POST the option's token to the question's private reply topic
  on the same server (ntfy shows at most 3; more options, or free text, get one `view` button to the
  answer page when there is a public URL).
- matrix: the options numbered; a reply with the number or the option answers.
- every other channel: each option a link to /v1/answer/<token> on MCP_PUSH_PUBLIC_URL (Bark also opens
  the answer page on tap). Without a public URL they get the question as information only, naming the
  channels it can be answered on.

The message is sent by the delivery engine like any other (engine.submit, one channel at a time, with
that channel's content and params).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .store import AnswerToken, Ask, new_token

BUTTON_CHANNELS = ("telegram", "ntfy", "matrix")  # answered through the channel itself
NTFY_MAX_ACTIONS = 3
ANSWER_PATH = "/v1/answer/"
CALLBACK_PREFIX = "ask:"


@dataclass
class Rendered:
    """One channel's copy: its content and params, the tokens it carries, and whether it can answer
    (`note` says why not, or how)."""

    channel: str
    content: str
    params: dict[str, Any] = field(default_factory=dict)
    tokens: list[AnswerToken] = field(default_factory=list)
    answerable: bool = True
    note: str | None = None


def title_of(ask: Ask) -> str:
    return f"Question #{ask.code}"


def answer_link(public_url: str, token: str) -> str:
    return public_url.rstrip("/") + ANSWER_PATH + token


def _options_block(ask: Ask, numbered: bool) -> str:
    if not ask.options:
        return ""
    if numbered:
        return "\n".join(f"{i}. {option}" for i, option in enumerate(ask.options, 1))
    return " / ".join(ask.options)


def _information(ask: Ask, answer_on: list[str]) -> str:
    where = ", ".join(answer_on) if answer_on else "another channel"
    options = _options_block(ask, numbered=False)
    return ask.question + (f"\n\nOptions: {options}" if options else "") + f"\n\n(Answer on {where}.)"


def render(ask: Ask, channel: str, public_url: str, answer_on: list[str], ntfy_base: str = "") -> Rendered:
    """`answer_on`: display names of the channels this question can be answered on (for the information
    copies); `ntfy_base`: the ntfy server's URL (the reply topic lives there)."""
    if channel == "telegram":
        return _telegram(ask)
    if channel == "matrix":
        return _matrix(ask)
    if channel == "ntfy":
        return _ntfy(ask, public_url, answer_on, ntfy_base)
    return _links(ask, channel, public_url, answer_on)


def _telegram(ask: Ask) -> Rendered:
    if not ask.options:
        return Rendered("telegram", f"{ask.question}\n\nReply to this message with your answer.",
                        {"reply_markup": {"force_reply": True}}, note="a reply to the message answers")
    tokens = [AnswerToken(new_token(), ask.id, "telegram", i) for i in range(len(ask.options))]
    buttons = [{"text": option, "callback_data": CALLBACK_PREFIX + t.token}
               for option, t in zip(ask.options, tokens, strict=True)]
    # One row when the labels are short, else one button a row (Telegram cuts long labels in a row).
    rows = [buttons] if sum(len(o) for o in ask.options) <= 30 else [[b] for b in buttons]
    return Rendered("telegram", ask.question, {"reply_markup": {"inline_keyboard": rows}}, tokens)


def _matrix(ask: Ask) -> Rendered:
    if not ask.options:
        return Rendered("matrix", f"{ask.question}\n\nReply with your answer.", note="a reply answers")
    return Rendered("matrix", f"{ask.question}\n\n{_options_block(ask, numbered=True)}\n\n"
                              "Reply with the number or the option.")


def _ntfy(ask: Ask, public_url: str, answer_on: list[str], ntfy_base: str) -> Rendered:
    if ask.options and len(ask.options) <= NTFY_MAX_ACTIONS and ask.reply_topic:
        tokens = [AnswerToken(new_token(), ask.id, "ntfy", i) for i in range(len(ask.options))]
        reply_url = f"{ntfy_base.rstrip('/')}/{ask.reply_topic}"
        actions = [{"action": "http", "label": option, "url": reply_url, "method": "POST", "body": t.token,
                    "clear": True} for option, t in zip(ask.options, tokens, strict=True)]
        return Rendered("ntfy", ask.question, {"actions": json.dumps(actions, ensure_ascii=False)}, tokens)
    if public_url:
        token = AnswerToken(new_token(), ask.id, "ntfy", None)
        actions = [{"action": "view", "label": "Answer", "url": answer_link(public_url, token.token), "clear": True}]
        return Rendered("ntfy", ask.question + (f"\n\nOptions: {_options_block(ask, False)}" if ask.options else ""),
                        {"actions": json.dumps(actions, ensure_ascii=False)}, [token],
                        note="the Answer button opens the answer page")
    return Rendered("ntfy", _information(ask, answer_on), answerable=False,
                    note="sent as information: ntfy buttons take at most 3 options and no free text, and "
                         "MCP_PUSH_PUBLIC_URL is not set")


def _links(ask: Ask, channel: str, public_url: str, answer_on: list[str]) -> Rendered:
    if not public_url:
        return Rendered(channel, _information(ask, answer_on), answerable=False,
                        note="sent as information: link answers need MCP_PUSH_PUBLIC_URL")
    choice = AnswerToken(new_token(), ask.id, channel, None)
    params: dict[str, Any] = {"url": answer_link(public_url, choice.token)} if channel == "bark" else {}
    if not ask.options:
        return Rendered(channel, f"{ask.question}\n\nAnswer: {answer_link(public_url, choice.token)}", params,
                        [choice])
    tokens = [AnswerToken(new_token(), ask.id, channel, i) for i in range(len(ask.options))]
    lines = "\n".join(f"{option}: {answer_link(public_url, t.token)}"
                      for option, t in zip(ask.options, tokens, strict=True))
    return Rendered(channel, f"{ask.question}\n\n{lines}", params, tokens + ([choice] if params else []))
