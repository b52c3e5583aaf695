'use strict';
// The templates most specs use, read without nunjucks: text, `{{ a.b|filter('x') }}` outputs and
// `{% if %}/{% elif %}/{% else %}/{% endif %}` on names, filters, one comparison (== != < > <= >=) and
// `and`. Planning a message then needs neither nunjucks' runtime nor its strict context wrappers (most
// of a plan's rendering time), and a script's first send does not load nunjucks before its requests go
// out. Everything here does what nunjucks' compiled code does (runtime.js contextOrFrameLookup,
// memberLookup, suppressValue, ensureDefined; JavaScript's == and && in an `if`); wherever its answer
// is anything but a text, number or boolean reached through own keys of mappings, the template is
// handed back (NO_VALUE) and nunjucks renders it, and raises, as always. js/test/template_fast_path.test.js
// compares both on every template of every spec.

const NO_VALUE = Symbol('no value');

// Words nunjucks reads as something other than a context name (literals, operators, tag names).
const KEYWORDS = new Set(
  'true false True False none None null and or not in is if else elif endif for endfor set block raw macro call import from include extends filter endfilter'.split(
    ' ',
  ),
);

// White space as nunjucks' lexer reads it (lexer.js whitespaceChars), not JavaScript's \s.
const TOKEN =
  /[ \n\t\r\u00a0]*(?:([A-Za-z_][A-Za-z0-9_]*)|('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")|([0-9]+(?:\.[0-9]+)?)|(==|!=|<=|>=|[<>.|(),]))/y;

// A string literal's escapes as nunjucks' lexer reads them: \n \t \r, any other character as itself.
const unquote = (literal) =>
  literal.slice(1, -1).replace(/\\(.)/gs, (_, c) => (c === 'n' ? '\n' : c === 't' ? '\t' : c === 'r' ? '\r' : c));

/** The tokens of a tag's expression: [kind, text]; null when something in it is not of this subset. */
function tokenize(text) {
  const tokens = [];
  TOKEN.lastIndex = 0;
  let at = 0;
  while (at < text.length) {
    if (/^[ \n\t\r\u00a0]*$/.test(text.slice(at))) break;
    TOKEN.lastIndex = at;
    const m = TOKEN.exec(text);
    if (!m) return null;
    if (m[1] !== undefined) tokens.push(['name', m[1]]);
    else if (m[2] !== undefined) tokens.push(['string', unquote(m[2])]);
    else if (m[3] !== undefined) tokens.push(['number', Number(m[3])]);
    else tokens.push(['op', m[4]]);
    at = TOKEN.lastIndex;
  }
  return tokens;
}

/** A parser over one tag's tokens; each parse* returns a node or null (not of this subset). */
class Expression {
  constructor(tokens, filters) {
    this.tokens = tokens;
    this.at = 0;
    this.filters = filters;
  }

  peek(kind, text) {
    const token = this.tokens[this.at];
    return token !== undefined && token[0] === kind && (text === undefined || token[1] === text);
  }

  take(kind, text) {
    if (!this.peek(kind, text)) return null;
    return this.tokens[this.at++][1];
  }

  get done() {
    return this.at === this.tokens.length;
  }

  // name(.name)* (|filter(('str'|number)(, ...)*)?)*
  path() {
    const first = this.take('name');
    if (first === null || KEYWORDS.has(first)) return null;
    const path = [first];
    while (this.take('op', '.') !== null) {
      const key = this.take('name');
      if (key === null || KEYWORDS.has(key)) return null;
      path.push(key);
    }
    const filters = [];
    while (this.take('op', '|') !== null) {
      const name = this.take('name');
      if (name === null || !Object.hasOwn(this.filters, name)) return null;
      const args = [];
      if (this.take('op', '(') !== null && this.take('op', ')') === null) {
        for (;;) {
          const arg = this.peek('string') || this.peek('number') ? this.tokens[this.at++][1] : NO_VALUE;
          if (arg === NO_VALUE) return null;
          args.push(arg);
          if (this.take('op', ')') !== null) break;
          if (this.take('op', ',') === null) return null;
        }
      }
      filters.push([name, args]);
    }
    return { path, filters };
  }

  operand() {
    if (this.peek('string') || this.peek('number')) return { literal: this.tokens[this.at++][1] };
    return this.path();
  }

  comparison() {
    const left = this.operand();
    if (left === null) return null;
    for (const op of ['==', '!=', '<=', '>=', '<', '>']) {
      if (this.take('op', op) !== null) {
        const right = this.operand();
        if (right === null || ['==', '!=', '<=', '>=', '<', '>'].some((o) => this.peek('op', o))) return null;
        return { op, left, right };
      }
    }
    return left;
  }

  condition() {
    const all = [this.comparison()];
    while (this.take('name', 'and') !== null) all.push(this.comparison());
    return all.includes(null) ? null : all.length === 1 ? all[0] : { and: all };
  }
}

function value(context, node, filters) {
  if ('literal' in node) return node.literal;
  let current = context;
  for (const key of node.path) {
    // A mapping's own key only: the strict context raises for any other (templates.js strict), and a
    // list, a text or a name nunjucks finds among its globals is for nunjucks to read.
    if (
      current === null ||
      typeof current !== 'object' ||
      Array.isArray(current) ||
      !Object.prototype.hasOwnProperty.call(current, key)
    )
      return NO_VALUE;
    current = current[key];
  }
  if (!isPrimitive(current)) return NO_VALUE;
  try {
    for (const [name, args] of node.filters) current = filters[name](current, ...args);
  } catch {
    return NO_VALUE; // nunjucks words a filter's error its own way (pure filters: it runs again there)
  }
  return isPrimitive(current) ? current : NO_VALUE;
}

const isPrimitive = (v) => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';

// nunjucks compiles == and != to JavaScript's loose ones.
const COMPARE = {
  '==': (a, b) => a == b,
  '!=': (a, b) => a != b,
  '<': (a, b) => a < b,
  '>': (a, b) => a > b,
  '<=': (a, b) => a <= b,
  '>=': (a, b) => a >= b,
};

/** The condition's truth, as JavaScript's if() takes nunjucks' compiled condition; NO_VALUE to hand back. */
function holds(context, cond, filters) {
  if (cond.and) {
    for (const part of cond.and) {
      const truth = holds(context, part, filters);
      if (truth !== true) return truth; // false ends it, as && does; NO_VALUE hands it back
    }
    return true;
  }
  if (cond.op) {
    const left = value(context, cond.left, filters);
    if (left === NO_VALUE) return NO_VALUE;
    const right = value(context, cond.right, filters);
    if (right === NO_VALUE) return NO_VALUE;
    return COMPARE[cond.op](left, right);
  }
  const v = value(context, cond, filters);
  return v === NO_VALUE ? NO_VALUE : Boolean(v);
}

// Text, `{{ ... }}` and `{% ... %}`; text holds no brace at all (no comment, raw block or stray delimiter).
const PIECE =
  /([^{}]+)|\{\{((?:[^}'"]|'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")*)\}\}|\{%((?:[^%'"]|'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")*)%\}/y;

/** The pieces of a template: ['text', s] ['out', expr] ['tag', tokens]; null when not of this subset. */
function pieces(source, filters) {
  const out = [];
  PIECE.lastIndex = 0;
  while (PIECE.lastIndex < source.length) {
    const m = PIECE.exec(source);
    if (!m) return null;
    if (m[1] !== undefined) {
      out.push(['text', m[1]]);
      continue;
    }
    // {{- and -}} (and {%- -%}) trim white space: not of this subset.
    const inner = m[2] !== undefined ? m[2] : m[3];
    if (inner.startsWith('-') || inner.endsWith('-')) return null;
    const tokens = tokenize(inner);
    if (tokens === null || !tokens.length) return null;
    if (m[2] !== undefined) {
      const parser = new Expression(tokens, filters);
      const expr = parser.path();
      if (expr === null || !parser.done) return null;
      out.push(['out', expr]);
    } else {
      out.push(['tag', tokens]);
    }
  }
  return out;
}

/** Nodes from pieces[at...] until an elif/else/endif tag: [nodes, index of that tag]; null when malformed. */
function block(list, at, filters) {
  const nodes = [];
  while (at < list.length) {
    const [kind, data] = list[at];
    if (kind === 'text') nodes.push(data);
    else if (kind === 'out') nodes.push(data);
    else {
      const word = data[0][0] === 'name' ? data[0][1] : null;
      if (word === 'elif' || word === 'else' || word === 'endif') return [nodes, at];
      if (word !== 'if') return null;
      const branches = [];
      let otherwise = [];
      let tokens = data;
      for (;;) {
        const parser = new Expression(tokens.slice(1), filters);
        const cond = parser.condition();
        if (cond === null || !parser.done) return null;
        const inner = block(list, at + 1, filters);
        if (inner === null) return null;
        branches.push([cond, inner[0]]);
        at = inner[1];
        if (at >= list.length) return null;
        const next = list[at][1];
        if (next[0][1] === 'elif') {
          tokens = next;
          continue;
        }
        if (next[0][1] === 'else') {
          if (next.length !== 1) return null;
          const rest = block(list, at + 1, filters);
          if (rest === null || rest[1] >= list.length) return null;
          otherwise = rest[0];
          at = rest[1];
        }
        const end = list[at][1];
        if (end[0][1] !== 'endif' || end.length !== 1) return null;
        break;
      }
      nodes.push({ branches, otherwise });
    }
    at += 1;
  }
  return [nodes, at];
}

/**
 * The template's parsed form (plain data: text, outputs with filter names, if blocks), or null when the
 * template is not of this subset. The single-file bundle carries it for every spec template (build.js).
 */
function parseSimple(source, filters) {
  const list = pieces(source, filters);
  if (list === null) return null;
  const parsed = block(list, 0, filters);
  if (parsed === null || parsed[1] !== list.length) return null;
  return parsed[0];
}

/**
 * The template as a function of the (plain, unwrapped) context returning its text, or NO_VALUE where
 * nunjucks must render it; null when the template is not of this subset. `parsed`: its parseSimple form
 * when known already (the bundle's).
 */
function compileSimple(source, filters, parsed = undefined) {
  const nodes = parsed === undefined ? parseSimple(source, filters) : parsed;
  if (nodes === null) return null;
  return (context) => renderNodes(nodes, context, filters);
}

function renderNodes(nodes, context, filters) {
  let out = '';
  for (const node of nodes) {
    if (typeof node === 'string') {
      out += node;
    } else if (node.path) {
      const v = value(context, node, filters);
      if (v === NO_VALUE) return NO_VALUE;
      out += v;
    } else {
      let chosen = node.otherwise;
      for (const [cond, body] of node.branches) {
        const truth = holds(context, cond, filters);
        if (truth === NO_VALUE) return NO_VALUE;
        if (truth) {
          chosen = body;
          break;
        }
      }
      const text = renderNodes(chosen, context, filters);
      if (text === NO_VALUE) return NO_VALUE;
      out += text;
    }
  }
  return out;
}

module.exports = { NO_VALUE, compileSimple, parseSimple };
