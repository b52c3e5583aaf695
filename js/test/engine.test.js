'use strict';
// Engine units where JavaScript's defaults differ from Python's: UTF-16 string lengths, encodeURIComponent,
// nunjucks' built-ins and its lenient undefined handling. The conformance suite pins whole plans; these
// pin the pieces that would otherwise drift silently.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { test } = require('node:test');

const { FILTERS, render } = require('../src/templates');
const { normalizeUrl, pct } = require('../src/wire');

test('chars counts code points, so an emoji is one character, not two UTF-16 units', () => {
  assert.equal(render('{{ x|chars }}', { x: '😀' }), '1');
  assert.equal(render('{{ x|chars }}', { x: 'a👍🏽中' }), '4'); // thumbs up + skin tone modifier are two code points
  assert.equal('😀'.length, 2); // what a naive .length would have said
});

test('html_escape turns & < > " \' into &amp; &lt; &gt; &quot; &#x27;', () => {
  assert.equal(render('{{ x|html_escape }}', { x: `a&b<c>d"e'f` }), 'a&amp;b&lt;c&gt;d&quot;e&#x27;f');
});

test('html_escape escapes an existing entity again, as Python\'s html.escape does', () => {
  assert.equal(render('{{ x|html_escape }}', { x: '&amp;' }), '&amp;amp;');
});

test('pct encodes !*\'() that encodeURIComponent leaves raw, and keeps ~', () => {
  assert.equal(pct("!*'()~"), '%21%2A%27%28%29~');
  assert.equal(encodeURIComponent("!*'()"), "!*'()"); // the JS default this rule corrects
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

test('a misspelt variable throws instead of rendering empty', () => {
  assert.throws(() => render('{{ titel }}', { title: 't' }));
  assert.throws(() => render('x{{ env.TG_BOT_TOKNE }}y', { env: { TG_BOT_TOKEN: 'a' } }));
});

test('a misspelt variable in an if condition throws instead of counting as false', () => {
  assert.throws(() => render('{% if env.TG_PROXY_HOTS %}proxy{% endif %}', { env: { TG_PROXY_HOST: 'h' } }));
});

test('a {{ }} inside a value is sent literally, never evaluated', () => {
  assert.equal(render('{{ title }}: {{ content }}', { title: '{{ 7*7 }}', content: '{% if 1 %}x{% endif %}' }), '{{ 7*7 }}: {% if 1 %}x{% endif %}');
});

test('autoescape is off: a value with < & " is rendered as it is', () => {
  assert.equal(render('{{ x }}', { x: '<b>&"' }), '<b>&"');
});

test('a template keeps its trailing newline', () => {
  assert.equal(render('{{ x }}\n', { x: 'a' }), 'a\n');
});
