'use strict';
// templates.render reads a simple template (text and `{{ a.b|filter('x') }}` outputs) itself instead of
// through nunjucks' runtime (a plan's hot path). Whatever it renders must be what nunjucks renders, and
// whatever nunjucks refuses must fail with nunjucks' own words: compared here on every template of every
// spec and on edge cases, against renderNunjucks (always nunjucks).

const assert = require('node:assert/strict');
const { test } = require('node:test');

const { readSpecSource } = require('../src/specSource');
const { render, renderNunjucks, simpleTemplate } = require('../src/templates');

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

// Every dotted name a template reads (outside string literals), as paths.
const pathsOf = (source) => {
  const names = new Map();
  const code = [...source.matchAll(/\{\{(.*?)\}\}|\{%(.*?)%\}/gs)].map((m) => m[1] ?? m[2]).join(' ');
  const bare = code.replace(/'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"/g, ' ');
  for (const [dotted] of bare.matchAll(/(?<![|.\w])[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*/g)) {
    if (!['if', 'elif', 'else', 'endif', 'and', 'or', 'not'].includes(dotted)) names.set(dotted, dotted.split('.'));
  }
  // a filter's name follows a |: not a path
  for (const [, filter] of bare.matchAll(/\|\s*([A-Za-z_]\w*)/g)) names.delete(filter);
  return [...names.values()];
};

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

test('the templates read without nunjucks are most of the specs', () => {
  const templates = specTemplates();
  const simple = templates.filter((source) => simpleTemplate(source) !== null);
  assert.ok(simple.length * 10 > templates.length * 8, `${simple.length} of ${templates.length}`);
  for (const source of [
    "{{ env.URL|rstrip('/') }}/api/{{ hook.id }}",
    "{% if env.BARK_PUSH|startswith('http') %}{{ env.BARK_PUSH }}{% else %}https://api.day.app/{{ env.BARK_PUSH }}{% endif %}",
    '{% if env.TG_PROXY_HOST and env.TG_PROXY_PORT %}http://{% if env.TG_PROXY_AUTH %}{{ env.TG_PROXY_AUTH }}@{% endif %}{{ env.TG_PROXY_HOST }}:{{ env.TG_PROXY_PORT }}{% endif %}',
    "{% if markup == 'markdown' %}yes{% endif %}",
    '{% if content|chars > 800 %}html{% else %}txt{% endif %}',
    "{% if a == 'x' %}1{% elif b %}2{% else %}3{% endif %}",
  ])
    assert.notEqual(simpleTemplate(source), null, source);
  assert.equal(simpleTemplate("{{ a }}-{% if b == 'x' %}y{% else %}z{% endif %}")({ a: 'A', b: 'x' }), 'A-y');
});

test('templates with anything else go to nunjucks', () => {
  for (const source of [
    '{{ env.X or "y" }}',
    '{% if env.X or env.Y %}x{% endif %}',
    '{% if not env.X %}x{% endif %}',
    '{% if a == b == c %}x{% endif %}',
    '{% if a %}x',
    '{% endif %}',
    '{% if a %}x{% else b %}y{% endif %}',
    '{% if a %}x{% endif b %}',
    '{% for a in b %}x{% endfor %}',
    '{% set a = 1 %}',
    '{{ true }}',
    '{{ none }}',
    '{{ env.true }}',
    "{{ 'literal' }}",
    '{{ env.X|upper }}',
    '{{- env.X }}',
    '{{ env.X -}}',
    '{%- if a %}x{% endif %}',
    '{{ env["X"] }}',
    '{{ env.X }}}',
    '{# note #}{{ env.X }}',
    'a { b {{ env.X }}',
    '{{ env.X + 1 }}',
    "{{ (title ~ 'x')|pct }}",
    '{{ env.X|rstrip(a) }}',
    '{{\ufeffenv.X }}',
    '{{ env.X\u2028}}',
  ]) {
    assert.equal(simpleTemplate(source), null, source);
  }
});

test('every template of every spec renders as nunjucks renders it, with any values', () => {
  let compared = 0;
  for (const source of specTemplates()) {
    if (simpleTemplate(source) === null) continue;
    const paths = pathsOf(source);
    // the template's own literals too, so each comparison is seen both ways
    const literals = [...source.matchAll(/'([^'\\]*)'|"([^"\\]*)"/g)].map((m) => m[1] ?? m[2]);
    for (const leaf of [...LEAVES, ...literals, 'x'.repeat(801)]) {
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
    ['{{ env.X|rstrip(1) }}', { env: { X: 'a1' } }],
    ["{{ env.X|rstrip('\\n') }}", { env: { X: 'a\n\n' } }],
    ["{{ env.X|replace_all('\\r\\n', '\\n')|replace_all('\\q', '\\'') }}", { env: { X: 'a\r\nq\\q' } }],
    ["{{ env.X|replace_all('}}', '%}') }}", { env: { X: 'a}}b' } }],
    ['{% if a == 1 %}one{% elif a > 1 %}more{% else %}less{% endif %}', { a: 1 }],
    ['{% if a == 1 %}one{% elif a > 1 %}more{% else %}less{% endif %}', { a: '2' }],
    ['{% if a == 1 %}one{% elif a > 1 %}more{% else %}less{% endif %}', { a: 0 }],
    ['{% if a == 1 %}one{% elif a > 1 %}more{% else %}less{% endif %}', { a: '1' }],
    ["{% if a != 'x' %}y{% endif %}", { a: 'x' }],
    ["{% if a <= 'b' and a >= 'a' %}in{% endif %}", { a: 'ab' }],
    ['{% if a and b %}both{% endif %}', { a: '', b: undefined }],
    ['{% if a and b %}both{% endif %}', { a: 'x' }],
    ['{% if a and b %}both{% endif %}', { a: 'x', b: 0 }],
    ['{% if a %}{% if b %}ab{% else %}a{% endif %}{% endif %}', { a: '0', b: false }],
    ['{% if a %}x{% endif %}', { a: [] }],
    ['{% if a %}x{% endif %}', { a: {} }],
    ['{% if a %}x{% endif %}', { a: null }],
    ['{% if a.b %}x{% endif %}', { a: {} }],
    ['{% if a.b %}x{% endif %}', {}],
    ['{% if range %}x{% endif %}', {}],
    ['{% if a|chars > 3 %}long{% endif %}', { a: 'a😀😀😀' }],
    ['{% if 800 < a|chars %}long{% endif %}', { a: 'abc' }],
    ["{% if 'x' == a %}x{% endif %}", { a: 'x' }],
    ['{% if a %}x{% endif %}', { a: true }],
    ['{{ a }}', { a: false }],
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
    ['{{\u00a0a\n}}', { a: 'v' }],
  ];
  for (const [source, context] of cases) same(source, context, JSON.stringify(context));
});
