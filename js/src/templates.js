'use strict';
// Renders spec templates and body trees with nunjucks, in the subset Jinja2 renders identically:
// variables, `if`, and the filters below, which the Python runtime registers under the same names.
// Values are data: a `{{ x }}` inside a title or content is never evaluated.

const { precompiled, precompiledSimple } = require('./precompiled');
const { NO_VALUE, compileSimple } = require('./simpleTemplates');
const { pct, toJson } = require('./wire');
const { resolvePath } = require('./paths');
const { valuePasses } = require('./success');

const b64 = (v) => Buffer.from(String(v), 'utf8').toString('base64');

function rstrip(value, chars = ' ') {
  let s = String(value);
  while (s.length && chars.includes(s[s.length - 1])) s = s.slice(0, -1);
  return s;
}

const HTML_ENTITIES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#x27;' };

// The characters that can start Markdown markup (CommonMark lets a backslash escape any ASCII punctuation):
// emphasis, code, links and images, raw HTML and autolinks, headings, lists, quotes, tables, strikethrough,
// entities. A card's Markdown shows a message's text with each of them escaped, so it is never markup.
const MD_SPECIAL = /[\\`*_{}[\]()<>#+\-!|~&]/g;

// In a URL that goes into markup (a Markdown link's destination, an HTML attribute, Slack's <url|text>),
// the characters that could end it there, percent-encoded; an artifact_url is already http(s) with no
// space or control character (spec/envelope.schema.json).
const URL_UNSAFE = /[()<>[\]"'`|\\ ]/g;
const hex2 = (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`;

const FILTERS = {
  pct: (v) => pct(String(v)),
  rfc2047: (v) => (String(v) ? `=?utf-8?B?${b64(v)}?=` : ''),
  replace_all: (v, oldText, newText) => String(v).split(oldText).join(newText),
  nl2br: (v) => String(v).replace(/\r\n/g, '\n').replace(/\n/g, '<br/>'),
  // Every character Python's str.splitlines() breaks at (CR, LF, VT, FF, FS, GS, RS, NEL, U+2028,
  // U+2029), CRLF counting as one: Python's e-mail library refuses them in a header; both fold alike.
  one_line: (v) => String(v).replace(/\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]/g, ' '),
  html_escape: (v) => String(v).replace(/[&<>"']/g, (c) => HTML_ENTITIES[c]),
  startswith: (v, prefix) => String(v).startsWith(prefix),
  rstrip,
  chars: (v) => [...String(v)].length, // code points, as Python's len(); not UTF-16 units
  md_escape: (v) => String(v).replace(MD_SPECIAL, (c) => `\\${c}`),
  url_safe: (v) => String(v).replace(URL_UNSAFE, hex2),
};

let environment = null;

function getEnvironment() {
  if (environment) return environment;
  // Loaded at the first template rendered, not at require: a script that never sends does not pay for it.
  const nunjucks = require('nunjucks');
  environment = new nunjucks.Environment(null, { autoescape: false, throwOnUndefined: true });
  environment.filters = {}; // only the shared filters: a nunjucks-only one would drift from Jinja2
  for (const [name, fn] of Object.entries(FILTERS)) environment.addFilter(name, fn);
  return environment;
}

const compiled = new Map();

// nunjucks' throwOnUndefined only checks what is output; Jinja2's StrictUndefined also raises when a
// missing name is tested (`{% if env.TYPO %}`). Mappings in the context are wrapped so a lookup of a
// missing key throws in both places, and a spec typo fails in Node as it does in Python.
const PASS_THROUGH = new Set(['__keywords', 'then', 'toJSON', 'length', 'constructor', 'toString', 'valueOf']);

function strict(value, path) {
  if (!isMapping(value)) return value;
  return new Proxy(value, {
    get(target, prop, receiver) {
      if (typeof prop === 'symbol' || PASS_THROUGH.has(prop)) return Reflect.get(target, prop, receiver);
      if (!Object.prototype.hasOwnProperty.call(target, prop)) throw new Error(`'${path}' has no attribute '${prop}'`);
      return strict(target[prop], `${path}.${prop}`);
    },
  });
}

const strictContexts = new WeakMap();

function strictContext(context) {
  let wrapped = strictContexts.get(context);
  if (!wrapped) {
    wrapped = Object.fromEntries(Object.entries(context).map(([name, value]) => [name, strict(value, name)]));
    strictContexts.set(context, wrapped);
  }
  return wrapped;
}

function nunjucksTemplate(entry, source) {
  if (!entry.template) {
    const nunjucks = require('nunjucks');
    const props = precompiled(source); // the bundle's, compiled at build time by the same compiler
    entry.template = props
      ? new nunjucks.Template({ type: 'code', obj: props }, getEnvironment())
      : nunjucks.compile(source, getEnvironment());
  }
  return entry.template;
}

/** The template rendered by nunjucks, always (the reference simple templates are checked against). */
function renderNunjucks(source, context) {
  return nunjucksTemplate({ template: null }, source).render(strictContext(context));
}

/** The template read without nunjucks (simpleTemplates.js), or null when it is not of that subset. */
function simpleTemplate(source) {
  return compiledEntry(source).simple;
}

function compiledEntry(source) {
  let entry = compiled.get(source);
  if (!entry) {
    entry = { simple: compileSimple(source, FILTERS, precompiledSimple(source)), template: null };
    compiled.set(source, entry);
  }
  return entry;
}

function render(source, context) {
  if (!source.includes('{')) return source; // most leaves are literals
  const entry = compiledEntry(source);
  // Most templates put settings into a URL or choose a word: read without nunjucks' runtime and the
  // strict wrappers of the context (most of a plan's rendering time), with the same output.
  if (entry.simple) {
    const out = entry.simple(context);
    if (out !== NO_VALUE) return out;
  }
  return nunjucksTemplate(entry, source).render(strictContext(context));
}

const OMIT = Symbol('omit');

const isMapping = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

// `obj[key] = v` and Object.assign treat a "__proto__" key as the prototype setter and drop it; data
// keys (params, WEBHOOK_BODY fields) are always own properties, as in Python's dicts.
// Any other key of a plain object is the same own property either way, and assignment is much cheaper.
function setOwn(obj, key, value) {
  if (key === '__proto__')
    Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  else obj[key] = value;
  return obj;
}

// `$when: {path, <test>}`: a success-style rule on the context, whose path must exist (a typo is an error).
const whenHolds = (context, rule) => valuePasses(resolvePath(context, rule.path), rule);

/** Renders a body tree: template strings, literals, lists, mappings and the $-forms of spec/README.md. */
function renderTree(node, context) {
  if (typeof node === 'string') return render(node, context);
  if (Array.isArray(node)) return node.map((item) => renderTree(item, context)).filter((item) => item !== OMIT);
  if (isMapping(node)) {
    if ('$ref' in node) {
      const value = resolvePath(context, node.$ref);
      return value === null || value === undefined ? OMIT : value;
    }
    if ('$optional' in node) {
      const text = render(node.$optional, context);
      return text === '' ? OMIT : text;
    }
    if ('$json' in node) return toJson(renderTree(node.$json, context));
    if ('$when' in node && !whenHolds(context, node.$when)) return OMIT;
    const result = {};
    for (const [key, child] of Object.entries(node)) {
      if (key === '$when') continue;
      if (key === '$merge') {
        for (const [mergedKey, mergedValue] of Object.entries(resolvePath(context, child) || {}))
          setOwn(result, mergedKey, mergedValue);
        continue;
      }
      const value = renderTree(child, context);
      if (value !== OMIT) setOwn(result, key, value);
    }
    return result;
  }
  return node;
}

module.exports = {
  FILTERS,
  getEnvironment,
  render,
  renderNunjucks,
  simpleTemplate,
  renderTree,
  OMIT,
  isMapping,
  setOwn,
};
