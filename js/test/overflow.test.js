'use strict';
// Long messages (spec/README.md, "Long messages"): sizes in the spec's unit, cuts on whole characters
// and near line breaks, split or truncate. The limits here are small (100 units: room 68 after the
// 32 reserved) so every expected part can be checked by eye.

const assert = require('node:assert/strict');
const { test } = require('node:test');

const { plan, send } = require('../src');
const { ConfigError } = require('../src/config');
const { cutIndex, fit, overflowMode, size } = require('../src/overflow');

const fitMessage = (title, content, limit, mode) => fit(title, content, limit, mode).parts;

const BYTES = { max: 100, unit: 'bytes' };
const CHARACTERS = { max: 100, unit: 'characters' };
const MARK = '\n…(truncated)'; // 15 bytes, 13 characters

test('sizes: UTF-8 bytes, or UTF-16 code units as Telegram counts characters (an emoji is 2)', () => {
  assert.equal(size('中😀a', 'bytes'), 8);
  assert.equal(size('中😀a', 'characters'), 4);
  assert.equal(size('', 'bytes'), 0);
  // A lone surrogate: one character, and three bytes as Python encodes it (surrogatepass).
  assert.equal(size('\ud800', 'bytes'), 3);
  assert.equal(size('\ud800', 'characters'), 1);
});

test('a cut never falls between the halves of a surrogate pair', () => {
  // 3 units have room for one emoji (2) but not half of the next.
  const cut = cutIndex('😀😀', 3, 'characters', 80);
  assert.equal('😀😀'.slice(0, cut), '😀');
});

test('a cut never falls inside a UTF-8 sequence', () => {
  assert.equal(cutIndex('中中', 5, 'bytes', 80), 1);
  assert.equal(cutIndex('中中', 6, 'bytes', 80), 2);
});

test('a cut moves back to the last line break when the head keeps the window share of the budget', () => {
  const text = `${'x'.repeat(50)}\n${'y'.repeat(30)}`;
  assert.equal(cutIndex(text, 61, 'bytes', 80), 50); // 50 * 100 >= 61 * 80
  assert.equal(cutIndex(text, 61, 'bytes', 90), 61); // 50 * 100 < 61 * 90: the part is filled
  assert.equal(cutIndex(`\n${'y'.repeat(80)}`, 61, 'bytes', 0), 61); // a break at the very start is never used
});

test('a message within the room (max - reserve) is sent as it is', () => {
  assert.deepEqual(fitMessage('T', 'a'.repeat(67), BYTES, 'split'), [['T', 'a'.repeat(67)]]);
  assert.deepEqual(fitMessage('T', 'a'.repeat(500), null, 'split'), [['T', 'a'.repeat(500)]]); // no known limit
});

test('split: one unit over the room makes two numbered parts; the first holds room - title - label', () => {
  assert.deepEqual(fitMessage('T', 'a'.repeat(68), BYTES, 'split'), [
    ['T (1/2)', 'a'.repeat(61)],
    ['T (2/2)', 'a'.repeat(7)],
  ]);
});

test('split: a cut at a line break drops the break itself; a break under the window is not used', () => {
  assert.deepEqual(fitMessage('T', `${'x'.repeat(50)}\n${'y'.repeat(30)}`, BYTES, 'split'), [
    ['T (1/2)', 'x'.repeat(50)],
    ['T (2/2)', 'y'.repeat(30)],
  ]);
  assert.deepEqual(fitMessage('T', `${'x'.repeat(10)}\n${'y'.repeat(70)}`, BYTES, 'split'), [
    ['T (1/2)', `${'x'.repeat(10)}\n${'y'.repeat(50)}`],
    ['T (2/2)', 'y'.repeat(20)],
  ]);
});

test('split counts characters as UTF-16 units: 40 emoji become 30 and 10, none cut in half', () => {
  assert.deepEqual(fitMessage('T', '😀'.repeat(40), CHARACTERS, 'split'), [
    ['T (1/2)', '😀'.repeat(30)],
    ['T (2/2)', '😀'.repeat(10)],
  ]);
});

test('split: a message needing more than max_parts (5) gets four full parts and a fifth cut with the mark', () => {
  const parts = fitMessage('T', 'a'.repeat(1000), BYTES, 'split');
  assert.deepEqual(
    parts.map(([title]) => title),
    ['T (1/5)', 'T (2/5)', 'T (3/5)', 'T (4/5)', 'T (5/5)'],
  );
  assert.deepEqual(
    parts.slice(0, 4).map(([, content]) => content.length),
    [61, 61, 61, 61],
  );
  assert.equal(parts[4][1], 'a'.repeat(61 - 15) + MARK);
});

test('truncate: one part, the title unchanged, the content cut to room - title - mark and marked', () => {
  assert.deepEqual(fitMessage('T', 'a'.repeat(68), BYTES, 'truncate'), [['T', 'a'.repeat(67 - 15) + MARK]]);
});

test('a title leaving less than a quarter of the room for content truncates instead of splitting', () => {
  // Room 68: a 50-byte title leaves 12 for content with a label (under 68 / 4), 18 without: 3 and the mark.
  assert.deepEqual(fitMessage('T'.repeat(50), 'a'.repeat(30), BYTES, 'split'), [['T'.repeat(50), `aaa${MARK}`]]);
});

test('a title leaving less room than the mark is cut too, so title and mark stay within the room', () => {
  // Room 68, mark 15 bytes: the title keeps 53 bytes and the content is the mark alone, in both modes.
  for (const mode of ['split', 'truncate']) {
    assert.deepEqual(fitMessage('T'.repeat(60), 'a'.repeat(30), BYTES, mode), [['T'.repeat(53), MARK]]);
    assert.deepEqual(fitMessage('T'.repeat(500), 'a', BYTES, mode), [['T'.repeat(53), MARK]]);
  }
  // Never inside a character: 17 CJK characters are 51 bytes, the 18th would pass 53.
  assert.deepEqual(fitMessage('中'.repeat(40), 'a', BYTES, 'split'), [['中'.repeat(17), MARK]]);
});

test('MCP_PUSH_OVERFLOW is split (also when empty) or truncate, in any case and with white space around', () => {
  assert.deepEqual(['', 'split', ' Truncate\n', 'SPLIT'].map(overflowMode), ['split', 'split', 'truncate', 'split']);
  assert.throws(() => overflowMode('cut'), new ConfigError("MCP_PUSH_OVERFLOW must be split or truncate, not 'cut'"));
});

test('an invalid MCP_PUSH_OVERFLOW is a config_error for every channel in send, and plan() throws it', async () => {
  const env = {
    HITOKOTO: 'false',
    NTFY_TOPIC: 't',
    GOTIFY_URL: 'http://127.0.0.1:9',
    GOTIFY_TOKEN: 'g',
    MCP_PUSH_OVERFLOW: 'chop',
  };
  const result = await send('t', 'c', { env });
  assert.deepEqual(
    result.channels.map((r) => [r.channel, r.status, r.error]),
    [
      ['gotify', 'config_error', "MCP_PUSH_OVERFLOW must be split or truncate, not 'chop'"],
      ['ntfy', 'config_error', "MCP_PUSH_OVERFLOW must be split or truncate, not 'chop'"],
    ],
  );
  assert.throws(() => plan('t', 'c', { env }), ConfigError);
});

test('a plan lists one request per part, in order, each through the channel template', () => {
  const env = { HITOKOTO: 'false', QYWX_KEY: 'k', MCP_PUSH_OVERFLOW: 'split' };
  const entries = plan('T', 'a'.repeat(2016), { env, redact: false }); // WeCom bot: 2048 bytes, room 2016
  assert.deepEqual(
    entries.map((e) => JSON.parse(e.body).text.content),
    [`T (1/2)\n\n${'a'.repeat(2009)}`, 'T (2/2)\n\naaaaaaa'],
  );
});
