'use strict';
// formatG and pyRepr write numbers and strings as Python's f"{x:g}" and repr() do, so error texts
// agree between the runtimes. Every expected value here is what CPython prints.

const assert = require('node:assert/strict');
const { test } = require('node:test');

const { formatG, pyRepr } = require('../src/format');

const cases = (table) => table.map(([value, expected]) => [formatG(value), expected]);
const same = (table) => table.map(([, expected]) => [expected, expected]);

test('integers print without a decimal point, up to six digits', () => {
  const table = [[0, '0'], [1, '1'], [45, '45'], [60, '60'], [120, '120'], [999999, '999999']];
  assert.deepEqual(cases(table), same(table));
});

test('halves and other short fractions print as written', () => {
  const table = [[0.5, '0.5'], [1.5, '1.5'], [2.25, '2.25'], [0.1, '0.1'], [65.4, '65.4'], [0.2 + 0.1, '0.3']];
  assert.deepEqual(cases(table), same(table));
});

test('jittered waits keep six significant digits', () => {
  const table = [[0.734212, '0.734212'], [1 / 3, '0.333333'], [2 * (1 - 0.5 * 0.123456789), '1.87654'], [29.99999999, '30']];
  assert.deepEqual(cases(table), same(table));
});

test('from 1e6 and below 1e-4 the exponent form, with a sign and at least two digits', () => {
  const table = [[1e6, '1e+06'], [1234567, '1.23457e+06'], [1e16, '1e+16'], [0.0001, '0.0001'], [0.00001, '1e-05'], [2.5e-5, '2.5e-05'], [1e300, '1e+300']];
  assert.deepEqual(cases(table), same(table));
});

test('an exact tie rounds half to even, as Python does on the binary value', () => {
  const table = [[123456.5, '123456'], [123457.5, '123458'], [1234565, '1.23456e+06'], [999999.5, '1e+06'], [0.0001234565, '0.000123457']];
  assert.deepEqual(cases(table), same(table));
});

test('infinities, NaN and negative zero print as Python prints them', () => {
  const table = [[Infinity, 'inf'], [-Infinity, '-inf'], [NaN, 'nan'], [-0, '-0'], [-2.5, '-2.5']];
  assert.deepEqual(cases(table), same(table));
});

test('a precision other than 6 is %.<n>g: the retry log line uses three digits', () => {
  assert.deepEqual([formatG(0.734212, 3), formatG(123456.5, 3), formatG(45, 3), formatG(0.5, 3)], ['0.734', '1.23e+05', '45', '0.5']);
});

test("pyRepr quotes as Python's repr: single quotes unless the text has one and no double quote", () => {
  assert.deepEqual([pyRepr('cut'), pyRepr("it's"), pyRepr('a"b\'c')], ["'cut'", '"it\'s"', "'a\"b\\'c'"]);
});

test('pyRepr escapes backslashes, line ends, controls and invisible characters; printable text stays', () => {
  assert.equal(pyRepr('a\\b\n\r\t\x00\x7f'), "'a\\\\b\\n\\r\\t\\x00\\x7f'");
  assert.equal(pyRepr('\x85\xa0\u2028\u200b\ufeff'), "'\\x85\\xa0\\u2028\\u200b\\ufeff'");
  assert.equal(pyRepr('中文 😀'), "'中文 😀'");
  assert.equal(pyRepr('\u{e0001}'), "'\\U000e0001'");
});
