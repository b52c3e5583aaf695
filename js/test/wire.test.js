'use strict';
// secondsText: waits and timeouts in texts (spec/README.md, canonical rule 9). The same table is in
// python/tests/test_wire.py: both runtimes write every value alike.

const assert = require('node:assert/strict');
const { test } = require('node:test');

const { secondsText } = require('../src/wire');

const TABLE = [
  [0, '0'], [1, '1'], [45, '45'], [60, '60'], [120, '120'], [0.5, '0.5'], [1.5, '1.5'], [0.25, '0.25'],
  [0.734212, '0.734'], [1 / 3, '0.333'], [29.99999999, '30'], [0.0004, '0'], [0.0005, '0.001'],
  // Exact binary halves of a millisecond round up (C's %.3f and Python's round half to even would not).
  [0.0625, '0.063'], [90.0625, '90.063'], [2.0625, '2.063'], [0.1875, '0.188'],
  [1e6, '1000000'], [2 ** 31, '2147483648'], [1e15, '1000000000000000'], [-2.5, '-2.5'], [-0.0001, '0'],
  // Every digit of a large one, as the product of the doubles gives it (1e21 * 1000 is not 1e24 exactly).
  [1e21, '999999999999999983222.784'],
];

test('seconds to the millisecond, halves up, at most three decimals, no trailing zeros, no exponent', () => {
  assert.deepEqual(TABLE.map(([value]) => [value, secondsText(value)]), TABLE);
});
