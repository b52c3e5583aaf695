'use strict';
// wire.js where JavaScript's defaults differ from Python's: encodeURIComponent leaves !*'() raw, and URLs
// are normalized by hand (python/tests/test_wire.py pins the Python side).

const assert = require('node:assert/strict');
const { test } = require('node:test');

const { normalizeUrl, pct } = require('../src/wire');

test('pct encodes !*\'() that encodeURIComponent leaves raw, and keeps ~', () => {
  assert.equal(pct("!*'()~"), '%21%2A%27%28%29~'); // encodeURIComponent would give !*'()~
});

test('pct encodes a space as %20 and UTF-8 bytes in upper-case hex', () => {
  assert.equal(pct('a b+中😀/'), 'a%20b%2B%E4%B8%AD%F0%9F%98%80%2F');
});

test('normalizeUrl percent-encodes characters that may not stand raw in a URL, and leaves the rest', () => {
  assert.equal(
    normalizeUrl('https://h.test/p a|t"h<>^`{}\\/中?q=%20x&k=~!*\'()'),
    'https://h.test/p%20a%7Ct%22h%3C%3E%5E%60%7B%7D%5C/%E4%B8%AD?q=%20x&k=~!*\'()',
  );
});

test('normalizeUrl is idempotent: normalizing twice changes nothing', () => {
  for (const url of ['https://h.test/a b/中文?x=1&y=😀#frag', 'http://h.test/%E4%B8%AD%20x', 'http://u:p@h.test:8080/{x}|y']) {
    const once = normalizeUrl(url);
    assert.equal(normalizeUrl(once), once, url);
  }
});
