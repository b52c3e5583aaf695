'use strict';
// templates.js where JavaScript's defaults differ from Python's: UTF-16 string lengths, nunjucks' built-ins
// and its lenient undefined handling. The conformance suite pins whole plans; these pin the pieces that
// would otherwise drift silently (python/tests/test_templates.py pins the Python side).

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { test } = require('node:test');

const { FILTERS, render } = require('../src/templates');

test('chars counts code points, so an emoji is one character, not two UTF-16 units', () => {
  assert.equal(render('{{ x|chars }}', { x: '😀' }), '1');
  // thumbs up + skin tone modifier are two code points; a naive .length would have said 2 and 6
  assert.equal(render('{{ x|chars }}', { x: 'a👍🏽中' }), '4');
});

test('html_escape turns & < > " \' into &amp; &lt; &gt; &quot; &#x27;', () => {
  assert.equal(render('{{ x|html_escape }}', { x: `a&b<c>d"e'f` }), 'a&amp;b&lt;c&gt;d&quot;e&#x27;f');
});

test("html_escape escapes an existing entity again, as Python's html.escape does", () => {
  assert.equal(render('{{ x|html_escape }}', { x: '&amp;' }), '&amp;amp;');
});

test('nunjucks built-in filters are not available, so a spec cannot use one Jinja2 renders differently', () => {
  for (const builtin of ['upper', 'length', 'default', 'join', 'trim', 'safe', 'escape']) {
    assert.throws(() => render(`{{ x|${builtin} }}`, { x: 'a' }), /filter not found/, builtin);
  }
});

test('the registered filters are exactly the ones spec/README.md documents', () => {
  const readme = fs.readFileSync(path.join(__dirname, '..', '..', 'spec', 'README.md'), 'utf8');
  const table = readme.slice(readme.indexOf('| filter | does |'));
  const documented = [...table.slice(0, table.indexOf('\n\n')).matchAll(/^\| `([a-z_0-9]+)/gm)].map((m) => m[1]);
  assert.deepEqual(Object.keys(FILTERS).sort(), documented.sort());
});

test('the filters spec format 2 removed are unknown', () => {
  for (const removed of ['b64', 'lower', 'to_json']) {
    assert.throws(() => render(`{{ x|${removed} }}`, { x: 'a' }), /filter not found/, removed);
  }
});

test('a misspelt variable throws instead of rendering empty', () => {
  assert.throws(() => render('{{ titel }}', { title: 't' }), /undefined value/);
  assert.throws(
    () => render('x{{ env.TG_BOT_TOKNE }}y', { env: { TG_BOT_TOKEN: 'a' } }),
    /no attribute 'TG_BOT_TOKNE'/,
  );
});

test('a misspelt variable in an if condition throws instead of counting as false', () => {
  assert.throws(
    () => render('{% if env.TG_PROXY_HOTS %}proxy{% endif %}', { env: { TG_PROXY_HOST: 'h' } }),
    /no attribute 'TG_PROXY_HOTS'/,
  );
});

test('a {{ }} inside a value is sent literally, never evaluated', () => {
  assert.equal(
    render('{{ title }}: {{ content }}', { title: '{{ 7*7 }}', content: '{% if 1 %}x{% endif %}' }),
    '{{ 7*7 }}: {% if 1 %}x{% endif %}',
  );
});

test('autoescape is off: a value with < & " is rendered as it is', () => {
  assert.equal(render('{{ x }}', { x: '<b>&"' }), '<b>&"');
});

test('a template keeps its trailing newline', () => {
  assert.equal(render('{{ x }}\n', { x: 'a' }), 'a\n');
});
