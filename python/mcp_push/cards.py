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
    if CARD_PARAM not in params:  # a message that is no event: nothing to take out
        return None, dict(params)
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
    `event.style` for this event kind, {} when it has none), and `markup`: a card is written in the
    channel's own dialect (spec `markdown`), so the request's dialect rules hold for it."""
    style = ((spec.event or {}).get("style") or {}).get(card["kind"], {})
    return {"card": dict(card), "style": style, "markup": spec.markdown}


def _largest_cut(text: str, fits: Callable[[str], bool], unit: str, window: int, suffix: str = "") -> int | None:
    """Where to cut `text` so the card still fits with the head (and `suffix`) in place of it: the cut
    (overflow.cut_index) of the largest budget, found by bisection over the budget in `unit`, whose head
    fits; None when not even an empty head does. The card is measured as rendered, so text that grows
    when escaped (a full-width ＜, a backslash, a JSON escape) is counted as it grows."""
    def head(budget: int) -> str:
        return text[: cut_index(text, budget, unit, window)] + suffix

    if not fits(head(0)):
        return None
    low, high = 0, size(text, unit)
    while low < high:
        middle = (low + high + 1) // 2
        if fits(head(middle)):
            low = middle
        else:
            high = middle - 1
    return cut_index(text, low, unit, window)


def _fit_one(card: dict[str, Any], room: int, unit: str, measure: Callable[[Mapping[str, Any]], int]
             ) -> tuple[dict[str, Any], bool]:
    """The card with its message (then its details) cut, and marked, until the rendered card fits
    `room`; a field in which not even the mark fits is emptied."""
    settings = load_settings()["overflow"]
    window, mark = settings["line_break_window"], settings["truncated_mark"]
    cut = False
    for field in ("message", "details"):
        if measure(card) <= room:
            break
        if not card[field]:
            continue
        text, base = card[field], card

        def fits(candidate: str, base: dict[str, Any] = base, field: str = field) -> bool:
            return measure({**base, field: candidate}) <= room

        at = _largest_cut(text, fits, unit, window, mark)
        card = {**card, field: "" if at is None else text[:at] + mark}
        cut = True
    return card, cut


def fit_card(card: Mapping[str, Any], limit: Mapping[str, Any] | None, mode: str,
             measure: Callable[[Mapping[str, Any]], int]) -> tuple[list[dict[str, Any]], bool]:
    """The cards to send for one event, and whether text was cut. `measure` gives a card's rendered
    size in the limit's unit (its body before encoding). Within the limit: the card as it is. Over it,
    `split` sends the message in numbered cards (the part label on the card's title), at most
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
    """The message in chunks, each the most that fits in a card beside its other fields (the details
    only on the last card); None when those fields leave less than a quarter of the room (then the card
    is cut instead) or no text fits at all."""
    settings = load_settings()["overflow"]
    max_parts, window, label = settings["max_parts"], settings["line_break_window"], settings["part_label"]
    # Every label has the same size (the count is one digit): the widest stands for all while cutting.
    labelled = {**card, "details": "", "title": card["title"] + label.format(index=max_parts, count=max_parts)}
    if measure({**labelled, "message": ""}) > room - room // 4:
        return None

    def fits(candidate: str) -> bool:
        return measure({**labelled, "message": candidate}) <= room

    chunks: list[str] = []
    rest = card["message"]
    def last_fits(candidate: str) -> bool:  # the last card: the details are on it
        return measure({**labelled, "message": candidate, "details": card["details"]}) <= room

    while rest and len(chunks) < max_parts - 1 and not last_fits(rest):
        at = _largest_cut(rest, fits, unit, window)
        if not at:
            return None
        chunks.append(rest[:at])
        # A cut at a line break drops the break itself: each part starts on a fresh line.
        rest = rest[at + 1:] if rest[at:at + 1] == "\n" else rest[at:]
    chunks.append(rest)  # more than max_parts would hold: _fit_one cuts and marks the last
    count = len(chunks)
    return [
        {**card, "message": chunk, "title": card["title"] + label.format(index=index, count=count),
         "details": card["details"] if index == count else ""}
        for index, chunk in enumerate(chunks, start=1)
    ]


def body_size(body: Any, unit: str) -> int:
    """A card's rendered body (before its encoding) in `unit`: a text as it is, a tree as canonical JSON."""
    from .wire import to_json

    if body is None:
        return 0
    return size(body if isinstance(body, str) else to_json(body), unit)
