'use strict';
// Fits a message to a channel's size limit (spec/README.md, "Long messages"); overflow.py's twin.
// A message longer than the spec's `limits.message` is split into numbered parts (MCP_PUSH_OVERFLOW=split,
// the default) or cut once and marked (truncate). Sizes are counted in the spec's unit: UTF-8 bytes, or
// characters as UTF-16 code units (what Telegram and JavaScript count, so an emoji is 2). A cut never
// falls inside a character nor between the halves of a surrogate pair, and moves back to the last line
// break when that keeps most of the part. Indices here are UTF-16 offsets; Python's are code points,
// and both name the same cut because the walk below steps one code point at a time.

const { ConfigError, stripSpace } = require('./config');
const { loadSettings } = require('./specs');

const MODES = ['split', 'truncate'];

/** Units one code point takes. A lone surrogate is one character, and three bytes as Python encodes it. */
function charSize(point, unit) {
  if (unit === 'bytes') return point < 0x80 ? 1 : point < 0x800 ? 2 : point < 0x10000 ? 3 : 4;
  return point > 0xffff ? 2 : 1;
}

function size(text, unit) {
  if (unit !== 'bytes') return text.length;
  let total = 0;
  for (const char of text) total += charSize(char.codePointAt(0), unit);
  return total;
}

/**
 * Where to cut `text` so the head fits `budget` units: after the last whole character that fits, or at
 * the last line break when the head up to it keeps at least windowPercent of the budget.
 */
function cutIndex(text, budget, unit, windowPercent) {
  let used = 0;
  let index = 0;
  let full = true;
  for (const char of text) {
    const step = charSize(char.codePointAt(0), unit);
    if (used + step > budget) {
      full = false;
      break;
    }
    used += step;
    index += char.length;
  }
  if (full) return text.length;
  const head = text.slice(0, index);
  const lineBreak = head.lastIndexOf('\n');
  if (lineBreak > 0 && size(head.slice(0, lineBreak), unit) * 100 >= budget * windowPercent) return lineBreak;
  return index;
}

/** MCP_PUSH_OVERFLOW: split (also when empty) or truncate, or a ConfigError naming the variable. */
function overflowMode(value) {
  const mode = stripSpace(value).toLowerCase() || 'split';
  if (!MODES.includes(mode)) throw new ConfigError(`MCP_PUSH_OVERFLOW must be split or truncate, not '${value}'`);
  return mode;
}

const partLabel = (template, index, count) =>
  template.replace(/\{(index|count)\}/g, (_, name) => String(name === 'index' ? index : count));

// A line-break window no cut can meet: the cut stays after the last whole character that fits.
const NO_BREAK = 101;

/**
 * One part: the content cut to the room the title leaves, and marked. A title leaving less room than the
 * mark itself is cut too, after its last whole character that fits (never at a line break), and the
 * content is the mark alone, so the mark is always within the room.
 */
function cutOnceParts(title, content, room, unit, window, mark) {
  const markSize = size(mark, unit);
  if (room - size(title, unit) < markSize)
    return [title.slice(0, cutIndex(title, Math.max(room - markSize, 0), unit, NO_BREAK)), mark];
  return [title, truncated(content, room - size(title, unit), unit, window, mark)];
}

function truncated(text, budget, unit, window, mark) {
  if (size(text, unit) <= budget) return text;
  const keep = Math.max(budget - size(mark, unit), 0);
  return text.slice(0, cutIndex(text, keep, unit, window)) + mark;
}

/**
 * The message's parts for a channel's limit, and whether any content was cut to make them (truncate
 * mode, a title leaving too little room, or a split that needed more than max_parts): {parts, truncated}.
 */
function fit(title, content, limit, mode) {
  if (!limit) return { parts: [[title, content]], truncated: false };
  const settings = loadSettings().overflow;
  const { unit } = limit;
  const window = settings.line_break_window;
  const room = limit.max - settings.reserve;
  if (size(title, unit) + size(content, unit) <= room) return { parts: [[title, content]], truncated: false };
  const mark = settings.truncated_mark;
  const cutOnce = () => ({ parts: [cutOnceParts(title, content, room, unit, window, mark)], truncated: true });
  if (mode === 'truncate') return cutOnce();
  const maxParts = settings.max_parts;
  // Every label has the same size: the count is one digit (max_parts is at most 9).
  const labelSize = size(partLabel(settings.part_label, maxParts, maxParts), unit);
  const budget = room - size(title, unit) - labelSize;
  if (budget < Math.floor(room / 4)) {
    // A title too long to leave a quarter of the room for content: cut the content instead of splitting.
    return cutOnce();
  }
  const chunks = [];
  let rest = content;
  while (rest && chunks.length < maxParts - 1 && size(rest, unit) > budget) {
    const cut = cutIndex(rest, budget, unit, window);
    chunks.push(rest.slice(0, cut));
    // A cut at a line break drops the break itself: each part starts on a fresh line.
    rest = rest[cut] === '\n' ? rest.slice(cut + 1) : rest.slice(cut);
  }
  const cut = size(rest, unit) > budget; // more than maxParts would hold: the last part ends with the mark
  chunks.push(cut ? truncated(rest, budget, unit, window, mark) : rest);
  const parts = chunks.map((chunk, i) => [title + partLabel(settings.part_label, i + 1, chunks.length), chunk]);
  return { parts, truncated: cut };
}

module.exports = { MODES, charSize, size, cutIndex, overflowMode, fit, partLabel };
