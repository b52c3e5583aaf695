'use strict';
// templates.render reads a simple template (text and `{{ a.b|filter('x') }}` outputs) itself instead of
// through nunjucks' runtime (a plan's hot path). Whatever it renders must be what nunjucks renders, and
// whatever nunjucks refuses must fail with nunjucks' own words: compared here on every template of every
// spec and on edge cases, against renderNunjucks (always nunjucks).

const assert = require('node:assert/strict');
const { test } = require('node:test');

const { readSpecSource } = require('../src/specSource');
const { render, renderNunjucks, simpleParts } = require('../src/templates');

function outcome(fn) {
  try {
    return { out: fn() };
  } catch (error) {
    return { error: `${error.name}: ${error.message}` };
  }
}

const same = (source, context, label) =>
  assert.deepEqual(
    outcome(() => render(source, context)),
    outcome(() => renderNunjucks(source, context)),
    `${JSON.stringify(source)} with ${label}`,
  );

function specTemplates() {
  const found = new Set();
  const walk = (node) => {
    if (typeof node === 'string') {
      if (node.includes('{')) found.add(node);
    } else if (node && typeof node === 'object') {
      for (const value of Object.values(node)) walk(value);
    }
  };
  const source = readSpecSource();
  walk([source.channels, source.eventTemplate]);
  return [...found].sort();
}

const pathsOf = (parts) => parts.filter((part) => part.length === 2).map(([path]) => path);

function contextWith(paths, leaf, at = null, replaced = undefined) {
  const context = {};
  paths.forEach((path, index) => {
    let node = context;
    for (const key of path.slice(0, -1)) {
      if (typeof node[key] !== 'object' || node[key] === null) node[key] = {};
      node = node[key];
    }
    const last = path[path.length - 1];
    if (index === at) {
      if (replaced === 'missing') delete node[last];
      else node[last] = replaced;
    } else if (!(last in node) || typeof node[last] !== 'object') {
      node[last] = leaf;
    }
  });
  return context;
}

const LEAVES = ['a value', 'https://x.example/p/', 'q\'u"o/te %20 \n', '', 8080, 1.5, -0, 0];
const BROKEN = ['missing', null, undefined, true, false, ['a', 'b'], { k: 'v' }, () => 'f', Symbol.for('s')];

test('the simple templates are most of the specs, and read as parts', () => {
  const templates = specTemplates();
  const simple = templates.filter((source) => simpleParts(source) !== null);
  assert.ok(simple.length * 2 > templates.length, `${simple.length} of ${templates.length}`);
  assert.deepEqual(
    JSON.parse(
      JSON.stringify(simpleParts("{{ env.URL|rstrip('/') }}/api/{{ hook.id }}"), (k, v) =>
        typeof v === 'function' ? `fn:${v.name}` : v,
      ),
    ),
    [[['env', 'URL'], [['fn:rstrip', ['/']]]], ['/api/'], [['hook', 'id'], []]],
  );
});

test('templates with anything but outputs of names and string-argument filters go to nunjucks', () => {
  for (const source of [
    '{% if env.X %}x{% endif %}',
    '{{ env.X or "y" }}',
    '{{ true }}',
    '{{ none }}',
    '{{ env.true }}',
    '{{ env.X|upper }}',
    '{{ env.X|rstrip(1) }}',
    "{{ env.X|rstrip('\\n') }}",
    '{{- env.X }}',
    '{{ env.X -}}',
    '{{ env["X"] }}',
    '{{ env.X }}}',
    '{# note #}{{ env.X }}',
    'a { b {{ env.X }}',
    '{{ env.X + 1 }}',
    '{{ range }}',
  ]) {
    if (source !== '{{ range }}') assert.equal(simpleParts(source), null, source);
  }
});

test('every template of every spec renders as nunjucks renders it, with any values', () => {
  let compared = 0;
  for (const source of specTemplates()) {
    const parts = simpleParts(source);
    if (parts === null) continue;
    const paths = pathsOf(parts);
    for (const leaf of LEAVES) {
      same(source, contextWith(paths, leaf), `every value ${JSON.stringify(leaf)}`);
      compared += 1;
    }
    paths.forEach((path, index) => {
      for (const broken of BROKEN) {
        same(source, contextWith(paths, 'v', index, broken), `${path.join('.')} = ${String(broken)}`);
        compared += 1;
      }
      if (path.length > 1) {
        // a name on the way that is no mapping: a text, a list
        const upper = path.slice(0, -1);
        for (const broken of ['text', ['a'], 5]) {
          const context = contextWith(paths, 'v');
          let node = context;
          for (const key of upper.slice(0, -1)) node = node[key];
          node[upper[upper.length - 1]] = broken;
          same(source, context, `${upper.join('.')} = ${JSON.stringify(broken)}`);
          compared += 1;
        }
      }
    });
  }
  assert.ok(compared > 500, `${compared} comparisons`);
});

test('edge cases: inherited and pass-through keys, filters that return other types, odd names', () => {
  const cases = [
    ['{{ env.constructor }}', { env: {} }],
    ['{{ env.length }}', { env: { length: 3 } }],
    ['{{ env.toString }}', { env: { toString: 'own' } }],
    ['{{ env.then }}', { env: { then: 'own' } }],
    ['{{ env.__proto__ }}', { env: {} }],
    ['{{ env.hasOwnProperty }}', { env: {} }],
    ["{{ env.X|startswith('ht') }}", { env: { X: 'http' } }],
    ["{{ env.X|startswith('zz') }}/", { env: { X: 'http' } }],
    ['{{ env.X|chars }}', { env: { X: 'a😀' } }],
    ['{{ env.X|pct|pct }}', { env: { X: 'a b/ü' } }],
    ["{{ env.X|replace_all('a', 'b') }}", { env: { X: 'banana' } }],
    ["{{ env.X|replace_all('a') }}", { env: { X: 'banana' } }],
    ["{{ env.X | rstrip( '/' ) }}", { env: { X: 'u//' } }],
    ['{{ env.X|rstrip }}', { env: { X: 'u  ' } }],
    ['{{ X }}', { X: 'top' }],
    ['{{ X }}', {}],
    ['{{ X }}', Object.create({ X: 'inherited' })],
    ['{{ _x.y_2 }}', { _x: { y_2: 'u' } }],
    ['{{ a.b.c.d }}', { a: { b: { c: { d: 42 } } } }],
    ['{{ a.b }}', { a: Object.assign(Object.create({ b: 'inherited' }), {}) }],
    ['x{{ a }}y{{ b }}z', { a: '1', b: 2 }],
    ['{{ a }}', { a: 'contains {{ b }} and {% x %}' }],
    ['{{ a }}\n', { a: 'v' }],
  ];
  for (const [source, context] of cases) same(source, context, JSON.stringify(context));
});
