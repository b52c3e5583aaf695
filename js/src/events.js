'use strict';
// Agent events: validate an envelope (spec/envelope.schema.json), render it as a title and content
// (spec/templates/event.yaml), and send it. Word for word what python/mcp_push/events.py does:
// conformance cases pin both the rendering and the validation messages.

const { plan } = require('./api');
const { EDITS, dispatchRun } = require('./edits');
const { readSpecSource } = require('./specSource');
const { FILTERS, render } = require('./templates');
const { toJson } = require('./wire');

class EnvelopeError extends Error {
  constructor(field, rule) {
    super(`${field}: ${rule}`);
    this.field = field;
    this.rule = rule;
  }
}

let validator = null;

function getValidator() {
  if (!validator) {
    const Ajv2020 = require('ajv/dist/2020');
    // allErrors + verbose: every problem, with the schema value, so they are worded and ordered as in Python.
    validator = new Ajv2020({ allErrors: true, verbose: true, strict: false }).compile(readSpecSource().envelopeSchema);
  }
  return validator;
}

const TYPE_WORDS = { string: 'a string', number: 'a number', integer: 'an integer', object: 'an object' };
const PATTERN_RULES = { artifact_url: 'must be an http(s) URL', timestamp: 'must be an RFC 3339 date-time' };

const typeRule = (expected) =>
  `must be ${[]
    .concat(expected)
    .map((k) => TYPE_WORDS[k] || k)
    .join(' or ')}`;

function fieldOf(instancePath, name) {
  const parts = instancePath.split('/').filter(Boolean);
  if (name) parts.push(name);
  return parts.join('.') || 'envelope';
}

function problemOf(error) {
  const { keyword, instancePath, params } = error;
  if (keyword === 'required') return [fieldOf(instancePath, params.missingProperty), 'is required'];
  if (keyword === 'additionalProperties')
    return [fieldOf(instancePath, params.additionalProperty), 'is not a known field'];
  const field = fieldOf(instancePath);
  const leaf = instancePath.split('/').pop();
  switch (keyword) {
    case 'type':
      return [field, typeRule(error.schema)];
    case 'enum':
      return [field, `must be one of ${error.schema.join(', ')}`];
    case 'minLength':
      return [field, params.limit === 1 ? 'must not be empty' : `must be at least ${params.limit} characters`];
    case 'maxLength':
      return [field, `must be at most ${params.limit} characters`];
    case 'minimum':
      return [field, `must be at least ${params.limit}`];
    case 'maximum':
      return [field, `must be at most ${params.limit}`];
    case 'pattern':
      return [field, PATTERN_RULES[leaf] || 'has the wrong form'];
    default:
      return [field, error.message];
  }
}

/**
 * NaN where the schema wants a number: JSON Schema has no word for it (ajv calls it "below the
 * minimum"), so it is named here with the range, as Python's events.py names it.
 */
function nanProblems(schema, data, path = []) {
  if (typeof data === 'number' && Number.isNaN(data) && schema.type === 'number') {
    const bounded = schema.minimum !== undefined && schema.maximum !== undefined;
    return [
      [
        path.join('.') || 'envelope',
        bounded ? `must be a number from ${schema.minimum} to ${schema.maximum}` : 'must be a number',
      ],
    ];
  }
  if (!data || typeof data !== 'object' || Array.isArray(data)) return [];
  const properties = schema.properties || {};
  return Object.keys(data)
    .filter((name) => Object.prototype.hasOwnProperty.call(properties, name))
    .flatMap((name) => nanProblems(properties[name], data[name], [...path, name]));
}

// Python sorts (field, rule) tuples by code point; compare the same way (not localeCompare).
const byFieldThenRule = (a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0);

/** Unix seconds as RFC 3339 UTC with milliseconds. */
const rfc3339 = (now) => new Date(Math.floor(now * 1000)).toISOString();

const STAMP =
  /^([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?(?:([Zz])|([+-])([0-9]{2}):([0-9]{2}))$/;

/** RFC 3339 to Unix milliseconds; digits past the millisecond are dropped. */
function timestampMs(stamp) {
  const match = STAMP.exec(stamp);
  if (!match) throw new EnvelopeError('timestamp', 'must be an RFC 3339 date-time');
  const [, year, month, day, hour, minute, second, fraction, , sign, offH, offM] = match;
  const parts = [year, month, day, hour, minute, second].map(Number);
  // setUTCFullYear, not Date.UTC, which reads years 0-99 as 1900-1999.
  const back = new Date(0);
  back.setUTCFullYear(parts[0], parts[1] - 1, parts[2]);
  back.setUTCHours(parts[3], parts[4], parts[5], 0);
  const utc = back.getTime();
  // A date that does not exist (year 0, month 13, 30 February, second 60) is no date-time.
  const real = [
    back.getUTCFullYear(),
    back.getUTCMonth() + 1,
    back.getUTCDate(),
    back.getUTCHours(),
    back.getUTCMinutes(),
    back.getUTCSeconds(),
  ];
  if (parts[0] < 1 || real.some((value, i) => value !== parts[i]))
    throw new EnvelopeError('timestamp', 'must be an RFC 3339 date-time');
  const offset = sign === undefined ? 0 : (sign === '+' ? 1 : -1) * (Number(offH) * 60 + Number(offM)) * 60000;
  return utc - offset + Number((fraction || '0').slice(0, 3).padEnd(3, '0'));
}

/** A normalized copy (timestamp filled in when absent), or EnvelopeError naming the first problem. */
function validateEnvelope(data, now = null) {
  const validate = getValidator();
  const nan = nanProblems(readSpecSource().envelopeSchema, data);
  if (!validate(data) || nan.length) {
    // ajv's bound errors for a NaN are replaced by nanProblems' one.
    const errors = (validate.errors || []).filter(
      (e) => !(['minimum', 'maximum'].includes(e.keyword) && Number.isNaN(e.data)),
    );
    const problems = [...errors.map(problemOf), ...nan].sort(byFieldThenRule);
    throw new EnvelopeError(...problems[0]);
  }
  const envelope = { ...data };
  if (!('timestamp' in envelope)) envelope.timestamp = rfc3339(now === null ? Date.now() / 1000 : now);
  timestampMs(envelope.timestamp);
  return envelope;
}

function formatElapsed(ms) {
  const total = Math.floor(Math.max(ms, 0) / 1000);
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = total % 60;
  if (hours) return `${hours}h ${minutes}m ${seconds}s`;
  if (minutes) return `${minutes}m ${seconds}s`;
  return `${seconds}s`;
}

/** When this process saw each run start, so `end` and `error` can say how long the run took. */
class RunLog {
  constructor(limit = 1000) {
    this.limit = limit; // runs remembered; the oldest are forgotten first
    this.starts = new Map();
  }

  elapsed(envelope) {
    const at = timestampMs(envelope.timestamp);
    const { run_id: runId, event } = envelope;
    if (event === 'start') {
      this.starts.delete(runId);
      this.starts.set(runId, at);
      while (this.starts.size > this.limit) this.starts.delete(this.starts.keys().next().value);
      return '';
    }
    if ((event === 'end' || event === 'error') && this.starts.has(runId)) {
      const started = this.starts.get(runId);
      this.starts.delete(runId);
      return formatElapsed(at - started);
    }
    return '';
  }
}

const RUNS = new RunLog();

const text = (value) =>
  value === null || value === undefined ? '' : typeof value === 'boolean' ? String(value) : String(value);

/**
 * The data fields the template has no line for, one `key: value` line each (spec/README.md, Events):
 * in the object's key order (the wire's), a string as it is, any other value as the wire's JSON; line
 * breaks folded (one_line), so no field can start a line of its own; at most `fields` lines of at most
 * `chars` code points, and a last line saying how many fields were left out. As events.py does.
 */
function detailLines(data, limits) {
  const known = readSpecSource().envelopeSchema.properties.data.properties;
  // An undefined value is no field, as JSON.stringify leaves it out.
  const extra = Object.entries(data).filter(
    ([key, value]) => !Object.prototype.hasOwnProperty.call(known, key) && value !== undefined,
  );
  const lines = extra.slice(0, limits.fields).map(([key, value]) => {
    let shown;
    try {
      shown = typeof value === 'string' ? value : toJson(value);
    } catch {
      shown = undefined; // a BigInt, a cycle: JSON has no word for it
    }
    if (shown === undefined) throw new EnvelopeError(`data.${key}`, 'must be a JSON value'); // a function
    const line = [...FILTERS.one_line(`${key}: ${shown}`)]; // code points, as Python's len()
    return line.length <= limits.chars ? line.join('') : `${line.slice(0, limits.chars - 1).join('')}…`;
  });
  const left = extra.length - limits.fields;
  if (left > 0) lines.push(`(${left} more field${left === 1 ? '' : 's'})`);
  return lines.join('\n');
}

/** [title, content] for a validated envelope, from spec/templates/event.yaml. */
function renderEvent(envelope, runs = RUNS) {
  const template = readSpecSource().eventTemplate;
  const data = envelope.data || {};
  let percent = '';
  let bar = '';
  if (data.progress !== undefined && data.progress !== null) {
    const { cells, full, empty } = template.bar;
    const filled = Math.floor(data.progress * cells);
    percent = String(Math.floor(data.progress * 100 + 0.5));
    bar = full.repeat(filled) + empty.repeat(cells - filled);
  }
  const context = {
    mark: template.marks[envelope.event],
    run_id: envelope.run_id,
    event: envelope.event,
    message: envelope.message,
    timestamp: envelope.timestamp,
    step: text(data.step),
    artifact_url: text(data.artifact_url),
    error_code: text(data.error_code),
    percent,
    bar,
    details: detailLines(data, template.details),
    elapsed: runs.elapsed(envelope),
  };
  const title = render(template.title, context);
  const content = template.lines
    .map((line) => render(line, context))
    .filter(Boolean)
    .join('\n');
  return [title, content];
}

/**
 * Validates (rejects with EnvelopeError when invalid), renders and sends an event. With
 * MCP_PUSH_EDIT_PROGRESS=true a run's updates edit its message where a channel can (edits.js,
 * remembering messages in `edits`, this process's store by default).
 */
async function sendEvent(
  envelope,
  { channels = null, env = null, runs = RUNS, now = null, edits = EDITS, tags = null } = {},
) {
  const valid = validateEnvelope(envelope, now);
  const [title, content] = renderEvent(valid, runs);
  return dispatchRun(title, content, env === null ? process.env : env, valid.run_id, valid.event, {
    channels,
    now,
    refs: edits,
    tags,
  });
}

/**
 * The dry run of an event; `seen` are earlier events of this process, rendered into a fresh run log;
 * `editRefs` and `channels` as in `plan`.
 */
function planEvent(
  envelope,
  { env = null, now = null, seen = [], redact = true, editRefs = null, channels = null } = {},
) {
  const runs = new RunLog();
  for (const earlier of seen) renderEvent(validateEnvelope(earlier, now), runs);
  const [title, content] = renderEvent(validateEnvelope(envelope, now), runs);
  return plan(title, content, { env, now, redact, editRefs, channels });
}

module.exports = {
  EnvelopeError,
  validateEnvelope,
  renderEvent,
  detailLines,
  sendEvent,
  planEvent,
  RunLog,
  RUNS,
  rfc3339,
  timestampMs,
};
