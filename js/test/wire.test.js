'use strict';
// wire.js where JavaScript's defaults differ from Python's: encodeURIComponent leaves !*'() raw, and URLs
// are normalized by hand; secondsText writes waits and timeouts in texts (spec/README.md, canonical rule 9).
// python/tests/test_wire.py pins the Python side, with the same secondsText table.

const assert = require('node:assert/strict');
const { test } = require('node:test');

const { encodeBody, normalizeUrl, pct, secondsText } = require('../src/wire');

test("pct encodes !*'() that encodeURIComponent leaves raw, and keeps ~", () => {
  assert.equal(pct("!*'()~"), '%21%2A%27%28%29~'); // encodeURIComponent would give !*'()~
});

test('pct encodes a space as %20 and UTF-8 bytes in upper-case hex', () => {
  assert.equal(pct('a b+中😀/'), 'a%20b%2B%E4%B8%AD%F0%9F%98%80%2F');
});

test('normalizeUrl percent-encodes characters that may not stand raw in a URL, and leaves the rest', () => {
  assert.equal(
    normalizeUrl('https://h.test/p a|t"h<>^`{}\\/中?q=%20x&k=~!*\'()'),
    "https://h.test/p%20a%7Ct%22h%3C%3E%5E%60%7B%7D%5C/%E4%B8%AD?q=%20x&k=~!*'()",
  );
});

test('normalizeUrl is idempotent: normalizing twice changes nothing', () => {
  for (const url of [
    'https://h.test/a b/中文?x=1&y=😀#frag',
    'http://h.test/%E4%B8%AD%20x',
    'http://u:p@h.test:8080/{x}|y',
  ]) {
    const once = normalizeUrl(url);
    assert.equal(normalizeUrl(once), once, url);
  }
});

const TABLE = [
  [0, '0'],
  [1, '1'],
  [45, '45'],
  [60, '60'],
  [120, '120'],
  [0.5, '0.5'],
  [1.5, '1.5'],
  [0.25, '0.25'],
  [0.734212, '0.734'],
  [1 / 3, '0.333'],
  [29.99999999, '30'],
  [0.0004, '0'],
  [0.0005, '0.001'],
  // Exact binary halves of a millisecond round up (C's %.3f and Python's round half to even would not).
  [0.0625, '0.063'],
  [90.0625, '90.063'],
  [2.0625, '2.063'],
  [0.1875, '0.188'],
  [1e6, '1000000'],
  [2 ** 31, '2147483648'],
  [1e15, '1000000000000000'],
  [-2.5, '-2.5'],
  [-0.0001, '0'],
  // Every digit of a large one, as the product of the doubles gives it (1e21 * 1000 is not 1e24 exactly).
  [1e21, '999999999999999983222.784'],
];

test('seconds to the millisecond, halves up, at most three decimals, no trailing zeros, no exponent', () => {
  assert.deepEqual(
    TABLE.map(([value]) => [value, secondsText(value)]),
    TABLE,
  );
});

test('an encoding outside spec format 2 is refused by name (query, the same as none, was removed)', () => {
  for (const encoding of ['query', 'xml']) {
    assert.throws(() => encodeBody(encoding, { a: 1 }), {
      message: `unknown body encoding '${encoding}' (json, form, multipart, text, none)`,
    });
  }
});
