"""Fits a message to a channel's size limit (spec/README.md, "Long messages").

A message longer than the spec's `limits.message` is split into numbered parts (MCP_PUSH_OVERFLOW=split,
the default) or cut once and marked (truncate). Sizes are counted in the spec's unit: UTF-8 bytes, or
characters as UTF-16 code units (what Telegram and JavaScript count, so an emoji is 2). A cut never falls
inside a character (nor, in Node, between the halves of a surrogate pair), and moves back to the last
line break when that keeps most of the part. The Node runtime's overflow.js follows the same steps.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .config import ConfigError, strip_space
from .specs import load_settings

MODES = ("split", "truncate")
# A line-break window no cut can meet: the cut stays after the last whole character that fits.
NO_BREAK = 101


def char_size(char: str, unit: str) -> int:
    point = ord(char)
    if unit == "bytes":
        return 1 if point < 0x80 else 2 if point < 0x800 else 3 if point < 0x10000 else 4
    return 2 if point > 0xFFFF else 1


def size(text: str, unit: str) -> int:
    if text.isascii():  # one byte, one UTF-16 unit a character
        return len(text)
    if unit == "bytes":
        return len(text.encode("utf-8", "surrogatepass"))
    # UTF-16 code units, counted by the codec: a lone surrogate is one unit, as in JavaScript.
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def cut_index(text: str, budget: int, unit: str, window_percent: int) -> int:
    """Where to cut `text` so the head fits `budget` units: after the last whole character that fits,
    or at the last line break when the head up to it keeps at least window_percent of the budget."""
    used, index = 0, 0
    for index, char in enumerate(text):  # noqa: B007 (index is read after the loop)
        step = char_size(char, unit)
        if used + step > budget:
            break
        used += step
    else:
        return len(text)
    head = text[:index]
    line_break = head.rfind("\n")
    if line_break > 0 and size(head[:line_break], unit) * 100 >= budget * window_percent:
        return line_break
    return index


def overflow_mode(value: str) -> str:
    mode = strip_space(value).lower() or "split"
    if mode not in MODES:
        raise ConfigError(f"MCP_PUSH_OVERFLOW must be split or truncate, not '{value}'")
    return mode


class Fit:
    """A message fitted to a channel: its (title, content) parts, in order, and whether any content was
    cut (truncate mode, a title leaving too little room, or a split that needed more than max_parts).
    A plain class: only read, and cheaper to define at import than a dataclass."""

    __slots__ = ("parts", "truncated")

    def __init__(self, parts: list[tuple[str, str]], truncated: bool = False) -> None:
        self.parts = parts
        self.truncated = truncated


def fit(title: str, content: str, limit: Mapping[str, Any] | None, mode: str) -> Fit:
    """The message's parts for a channel's limit, and whether content was cut to make them."""
    if not limit:
        return Fit([(title, content)])
    settings = load_settings()["overflow"]
    unit, window = limit["unit"], settings["line_break_window"]
    room = limit["max"] - settings["reserve"]
    if size(title, unit) + size(content, unit) <= room:
        return Fit([(title, content)])
    mark = settings["truncated_mark"]
    if mode == "truncate":
        return Fit([_cut_once(title, content, room, unit, window, mark)], True)
    max_parts = settings["max_parts"]
    # Every label has the same size: the count is one digit (max_parts is at most 9).
    label_size = size(settings["part_label"].format(index=max_parts, count=max_parts), unit)
    budget = room - size(title, unit) - label_size
    if budget < room // 4:
        # A title too long to leave a quarter of the room for content: cut the content instead of splitting.
        return Fit([_cut_once(title, content, room, unit, window, mark)], True)
    chunks: list[str] = []
    rest = content
    while rest and len(chunks) < max_parts - 1 and size(rest, unit) > budget:
        cut = cut_index(rest, budget, unit, window)
        chunks.append(rest[:cut])
        # A cut at a line break drops the break itself: each part starts on a fresh line.
        rest = rest[cut + 1:] if rest[cut:cut + 1] == "\n" else rest[cut:]
    cut = size(rest, unit) > budget  # more than max_parts would hold: the last part ends with the mark
    chunks.append(_truncated(rest, budget, unit, window, mark) if cut else rest)
    count = len(chunks)
    return Fit([
        (title + settings["part_label"].format(index=i, count=count), chunk)
        for i, chunk in enumerate(chunks, start=1)
    ], cut)


def _cut_once(title: str, content: str, room: int, unit: str, window: int, mark: str) -> tuple[str, str]:
    """One part: the content cut to the room the title leaves, and marked. A title leaving less room
    than the mark itself is cut too, after its last whole character that fits (never at a line break:
    NO_BREAK), and the content is the mark alone, so the mark is always within the room."""
    mark_size = size(mark, unit)
    if room - size(title, unit) < mark_size:
        return title[: cut_index(title, max(room - mark_size, 0), unit, NO_BREAK)], mark
    return title, _truncated(content, room - size(title, unit), unit, window, mark)


def _truncated(text: str, budget: int, unit: str, window: int, mark: str) -> str:
    if size(text, unit) <= budget:
        return text
    keep = max(budget - size(mark, unit), 0)
    return text[: cut_index(text, keep, unit, window)] + mark
