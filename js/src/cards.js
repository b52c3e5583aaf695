'use strict';
// Event cards (spec/README.md, "Event cards"): an event rendered in a channel's native rich format, from
// its spec's `event` block, and fitted to the card's own size limit. python/mcp_push/cards.py does the same.
//
// An event's card (its fields, made by events.eventMessage) travels with the message in the params under
// CARD_PARAM; the planner takes it out before a hook or a template sees the params.

const { cutIndex, size, partLabel } = require('./overflow');
const { loadSettings } = require('./specs');
const { toJson } = require('./wire');

const CARD_PARAM = '$event';
const FORMAT_VAR = 'MCP_PUSH_FORMAT';

const isMapping = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

/** [the event's card or null, the params without it]. */
function takeCard(params) {
  const rest = {};
  for (const [key, value] of Object.entries(params || {})) {
    if (key !== CARD_PARAM)
      Object.defineProperty(rest, key, { value, enumerable: true, writable: true, configurable: true });
  }
  const card = params && Object.hasOwn(params, CARD_PARAM) ? params[CARD_PARAM] : null;
  return [isMapping(card) ? card : null, rest];
}

/** The card's own size limit (`event.limits.message`), else the channel's. */
function cardLimit(spec) {
  const limits = (spec.event && spec.event.limits) || {};
  return Object.hasOwn(limits, 'message') ? limits.message : spec.limits.message;
}

/** `card` and `style` (the spec's `event.style` for this event kind, {} when it has none). */
function cardContext(spec, card) {
  const styles = (spec.event && spec.event.style) || {};
  return { card: { ...card }, style: Object.hasOwn(styles, card.kind) ? styles[card.kind] : {} };
}

// `text` cut by at least `excess` units and marked; '' when not even the mark fits.
function shrunk(text, excess, unit, window, mark) {
  const keep = size(text, unit) - excess - size(mark, unit);
  if (keep <= 0) return '';
  return text.slice(0, cutIndex(text, keep, unit, window)) + mark;
}

// The card with its message (then its details) cut until the rendered card fits `room`: escaping only
// ever lengthens text, so cutting the raw text by the rendered excess shrinks the card by at least that.
function fitOne(card, room, unit, measure) {
  const settings = loadSettings().overflow;
  const window = settings.line_break_window;
  const mark = settings.truncated_mark;
  let cut = false;
  for (const field of ['message', 'details']) {
    for (let round = 0; round < 8; round += 1) {
      const excess = measure(card) - room;
      if (excess <= 0 || !card[field]) break;
      card = { ...card, [field]: shrunk(card[field], excess, unit, window, mark) };
      cut = true;
    }
  }
  return [card, cut];
}

// The message in chunks that each fit beside the card's other fields; null when those leave less than a
// quarter of the room (then the card is cut instead).
function split(card, room, unit, measure) {
  const settings = loadSettings().overflow;
  const maxParts = settings.max_parts;
  const window = settings.line_break_window;
  const label = settings.part_label;
  const labelled = { ...card, message: '', title: card.title + partLabel(label, maxParts, maxParts) };
  const budget = room - measure(labelled);
  if (budget < Math.floor(room / 4)) return null;
  const chunks = [];
  let rest = card.message;
  while (rest && chunks.length < maxParts - 1 && size(rest, unit) > budget) {
    const cut = cutIndex(rest, budget, unit, window);
    chunks.push(rest.slice(0, cut));
    rest = rest[cut] === '\n' ? rest.slice(cut + 1) : rest.slice(cut);
  }
  chunks.push(rest); // more than max_parts would hold: fitOne cuts and marks the last
  const count = chunks.length;
  return chunks.map((chunk, i) => ({
    ...card,
    message: chunk,
    title: card.title + partLabel(label, i + 1, count),
    details: i + 1 === count ? card.details : '', // the details once, on the last card
  }));
}

/**
 * [cards, truncated]: the cards to send for one event. `measure` gives a card's rendered size in the
 * limit's unit (its request bodies on the wire). As cards.py's fit_card.
 */
function fitCard(card, limit, mode, measure) {
  const whole = { ...card };
  if (!limit) return [[whole], false];
  const { unit } = limit;
  const room = limit.max - loadSettings().overflow.reserve;
  if (measure(whole) <= room) return [[whole], false];
  if (mode === 'split') {
    const parts = split(whole, room, unit, measure);
    if (parts !== null) {
      const fitted = parts.map((part) => fitOne(part, room, unit, measure));
      return [fitted.map(([part]) => part), fitted.some(([, cut]) => cut)];
    }
  }
  const [one, cut] = fitOne(whole, room, unit, measure);
  return [[one], cut];
}

/** A card's rendered body (before its encoding) in `unit`: a text as it is, a tree as canonical JSON. */
function bodySize(body, unit) {
  if (body === null || body === undefined) return 0;
  return size(typeof body === 'string' ? body : toJson(body), unit);
}

module.exports = { CARD_PARAM, FORMAT_VAR, takeCard, cardLimit, cardContext, fitCard, bodySize };
