"""Event cards (spec/README.md, "Event cards"): an event rendered in a channel's native rich format, from
its spec's `event` block, and fitted to the card's own size limit. js/src/cards.js does the same.

An event's card (its fields, made by events.event_message) travels with the message in the params under
CARD_PARAM, so a delivery the MCP server's outbox stores keeps its card; the planner takes it out before
a hook or a template sees the params.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .overflow import cut_index, size
from .specs import ChannelSpec, load_settings

CARD_PARAM = "$event"
FORMAT_VAR = "MCP_PUSH_FORMAT"


def take_card(params: Mapping[str, Any]) -> tuple[Mapping[str, Any] | None, dict[str, Any]]:
    """(the event's card or None, the params without it)."""
    rest = {key: value for key, value in params.items() if key != CARD_PARAM}
    card = params.get(CARD_PARAM)
    return (card if isinstance(card, Mapping) else None), rest


def card_limit(spec: ChannelSpec) -> Mapping[str, Any] | None:
    """The card's own size limit (`event.limits.message`), else the channel's."""
    event = spec.event or {}
    limits = event.get("limits") or {}
    return limits["message"] if "message" in limits else spec.limits.get("message")


def card_context(spec: ChannelSpec, card: Mapping[str, Any]) -> dict[str, Any]:
    """What the card's templates see besides the usual context: `card` and `style` (the spec's
    `event.style` for this event kind, {} when it has none)."""
    style = ((spec.event or {}).get("style") or {}).get(card["kind"], {})
    return {"card": dict(card), "style": style}


def _shrunk(text: str, excess: int, unit: str, window: int, mark: str) -> str:
    """`text` cut by at least `excess` units and marked; "" when not even the mark fits."""
    keep = size(text, unit) - excess - size(mark, unit)
    if keep <= 0:
        return ""
    return text[: cut_index(text, keep, unit, window)] + mark


def _fit_one(card: dict[str, Any], room: int, unit: str, measure: Callable[[Mapping[str, Any]], int]
             ) -> tuple[dict[str, Any], bool]:
    """The card with its message (then its details) cut until the rendered card fits `room`. Escaping
    only ever lengthens text, so cutting the raw text by the rendered excess shrinks the card by at least
    that much: a few rounds at most."""
    settings = load_settings()["overflow"]
    window, mark = settings["line_break_window"], settings["truncated_mark"]
    cut = False
    for field in ("message", "details"):
        for _ in range(8):
            excess = measure(card) - room
            if excess <= 0 or not card[field]:
                break
            card = {**card, field: _shrunk(card[field], excess, unit, window, mark)}
            cut = True
    return card, cut


def fit_card(card: Mapping[str, Any], limit: Mapping[str, Any] | None, mode: str,
             measure: Callable[[Mapping[str, Any]], int]) -> tuple[list[dict[str, Any]], bool]:
    """The cards to send for one event, and whether text was cut. `measure` gives a card's rendered
    size in the limit's unit (its request bodies on the wire). Within the limit: the card as it is. Over
    it, `split` sends the message in numbered cards (the part label on the card's title), at most
    overflow.max_parts; `truncate` (and an edit) cuts the message, then the details, and marks the cut."""
    whole = dict(card)
    if not limit:
        return [whole], False
    settings = load_settings()["overflow"]
    unit, room = limit["unit"], limit["max"] - settings["reserve"]
    if measure(whole) <= room:
        return [whole], False
    if mode == "split":
        parts = _split(whole, room, unit, measure)
        if parts is not None:
            fitted = [_fit_one(part, room, unit, measure) for part in parts]
            return [part for part, _ in fitted], any(cut for _, cut in fitted)
    one, cut = _fit_one(whole, room, unit, measure)
    return [one], cut


def _split(card: dict[str, Any], room: int, unit: str, measure: Callable[[Mapping[str, Any]], int]
           ) -> list[dict[str, Any]] | None:
    """The message in chunks that each fit beside the card's other fields; None when those leave less
    than a quarter of the room (then the card is cut instead)."""
    settings = load_settings()["overflow"]
    max_parts, window = settings["max_parts"], settings["line_break_window"]
    label = settings["part_label"]
    labelled = {**card, "message": "", "title": card["title"] + label.format(index=max_parts, count=max_parts)}
    budget = room - measure(labelled)
    if budget < room // 4:
        return None
    chunks: list[str] = []
    rest = card["message"]
    while rest and len(chunks) < max_parts - 1 and size(rest, unit) > budget:
        cut = cut_index(rest, budget, unit, window)
        chunks.append(rest[:cut])
        rest = rest[cut + 1:] if rest[cut:cut + 1] == "\n" else rest[cut:]
    chunks.append(rest)  # more than max_parts would hold: _fit_one cuts and marks the last
    count = len(chunks)
    return [
        {**card, "message": chunk, "title": card["title"] + label.format(index=index, count=count),
         # The details once, on the last card.
         "details": card["details"] if index == count else ""}
        for index, chunk in enumerate(chunks, start=1)
    ]


def body_size(body: Any, unit: str) -> int:
    """A card's rendered body (before its encoding) in `unit`: a text as it is, a tree as canonical JSON."""
    from .wire import to_json

    if body is None:
        return 0
    return size(body if isinstance(body, str) else to_json(body), unit)
