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
  // `markup`: a card is written in the channel's own dialect (spec `markdown`), so the request's dialect rules hold.
  const style = Object.hasOwn(styles, card.kind) ? styles[card.kind] : {};
  return { card: { ...card }, style, markup: spec.markdown };
}

// Where to cut `text` so the card still fits with the head (and `suffix`) in place of it: the cut (cutIndex)
// of the largest budget, found by bisection over the budget in `unit`, whose head fits; null when not even
// an empty head does. The card is measured as rendered, so text that grows when escaped counts as it grows.
function largestCut(text, fits, unit, window, suffix = '') {
  const head = (budget) => text.slice(0, cutIndex(text, budget, unit, window)) + suffix;
  if (!fits(head(0))) return null;
  let low = 0;
  let high = size(text, unit);
  while (low < high) {
    const middle = Math.floor((low + high + 1) / 2);
    if (fits(head(middle))) low = middle;
    else high = middle - 1;
  }
  return cutIndex(text, low, unit, window);
}

// The card with its message (then its details) cut, and marked, until the rendered card fits `room`; a
// field in which not even the mark fits is emptied.
function fitOne(card, room, unit, measure) {
  const settings = loadSettings().overflow;
  const window = settings.line_break_window;
  const mark = settings.truncated_mark;
  let cut = false;
  for (const field of ['message', 'details']) {
    if (measure(card) <= room) break;
    if (!card[field]) continue;
    const text = card[field];
    const base = card;
    const at = largestCut(text, (candidate) => measure({ ...base, [field]: candidate }) <= room, unit, window, mark);
    card = { ...card, [field]: at === null ? '' : text.slice(0, at) + mark };
    cut = true;
  }
  return [card, cut];
}

// The message in chunks, each the most that fits in a card beside its other fields (the details only on
// the last card); null when those fields leave less than a quarter of the room or no text fits at all.
function split(card, room, unit, measure) {
  const settings = loadSettings().overflow;
  const maxParts = settings.max_parts;
  const window = settings.line_break_window;
  const label = settings.part_label;
  // Every label has the same size (the count is one digit): the widest stands for all while cutting.
  const labelled = { ...card, details: '', title: card.title + partLabel(label, maxParts, maxParts) };
  if (measure({ ...labelled, message: '' }) > room - Math.floor(room / 4)) return null;
  const fits = (candidate) => measure({ ...labelled, message: candidate }) <= room;
  const lastFits = (candidate) => measure({ ...labelled, message: candidate, details: card.details }) <= room;
  const chunks = [];
  let rest = card.message;
  while (rest && chunks.length < maxParts - 1 && !lastFits(rest)) {
    const at = largestCut(rest, fits, unit, window);
    if (!at) return null;
    chunks.push(rest.slice(0, at));
    // A cut at a line break drops the break itself: each part starts on a fresh line.
    rest = rest[at] === '\n' ? rest.slice(at + 1) : rest.slice(at);
  }
  chunks.push(rest); // more than max_parts would hold: fitOne cuts and marks the last
  const count = chunks.length;
  return chunks.map((chunk, i) => ({
    ...card,
    message: chunk,
    title: card.title + partLabel(label, i + 1, count),
    details: i + 1 === count ? card.details : '',
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
