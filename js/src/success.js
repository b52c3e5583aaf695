'use strict';
// Decides from a vendor's reply whether a message was delivered, as the spec's `success` block says.

const { stripSpace } = require('./config');
const { resolvePath } = require('./paths');

const MISSING = Symbol('missing');

const get = (data, path) => resolvePath(data, path, MISSING);

// Python's truthiness (empty list/object false), so both runtimes read `truthy` alike.
function truthy(value) {
  if (Array.isArray(value)) return value.length > 0;
  if (value !== null && typeof value === 'object') return Object.keys(value).length > 0;
  return Boolean(value);
}

function ruleHolds(data, rule) {
  const value = get(data, rule.path);
  if (value === MISSING) return false;
  return valuePasses(value, rule);
}

/** Whether a value already read passes the rule's test (a success rule's, or a body's `$when`). */
function valuePasses(value, rule) {
  if ('equals' in rule) {
    // 0 and "0" are the same answer from vendors loose with types; true is not 1.
    const expected = rule.equals;
    if (typeof value === 'boolean' || typeof expected === 'boolean') return value === expected;
    if (value === null || expected === null) return value === expected;
    return value === expected || (typeof value !== 'object' && String(value) === String(expected));
  }
  if ('in' in rule) return rule.in.some((option) => valuePasses(value, { equals: option }));
  if ('truthy' in rule) return truthy(value);
  if ('nonempty' in rule) {
    if (typeof value === 'string' || Array.isArray(value)) return value.length > 0;
    return value !== null && typeof value === 'object' && Object.keys(value).length > 0;
  }
  // Every item of a list passes the inner rule (WxPusher reports each recipient separately).
  if ('all' in rule) return Array.isArray(value) && value.every((item) => ruleHolds(item, rule.all));
  throw new Error(`rule has no test: ${JSON.stringify(rule)}`);
}

function parseJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return MISSING;
  }
}

function describe(rule, data) {
  const value = get(data, rule.path);
  const shown = value === MISSING ? 'missing' : JSON.stringify(value);
  if ('equals' in rule) return `${rule.path}=${shown}, expected ${JSON.stringify(rule.equals)}`;
  if ('in' in rule) return `${rule.path}=${shown}, expected one of ${JSON.stringify(rule.in)}`;
  if ('truthy' in rule) return `${rule.path}=${shown}, expected a true value`;
  if ('all' in rule) return `${rule.path}=${shown}, expected every item to have ${rule.all.path} as required`;
  return `${rule.path}=${shown}, expected a non-empty value`;
}

/** [delivered?, why not]. */
function evaluate(success, status, text) {
  const allowed = success.status;
  if (allowed && !allowed.includes(status)) return [false, `HTTP ${status}`];
  if (!allowed && !(status >= 200 && status < 300)) return [false, `HTTP ${status}`];
  if ('text' in success && stripSpace(text) !== success.text)
    return [false, `reply is not ${JSON.stringify(success.text)}`];
  if (success.json || success.json_any) {
    const data = parseJson(text);
    if (data === MISSING) return [false, 'reply is not JSON'];
    for (const rule of success.json || []) if (!ruleHolds(data, rule)) return [false, describe(rule, data)];
    const anyRules = success.json_any || [];
    if (anyRules.length && !anyRules.some((r) => ruleHolds(data, r))) {
      return [false, anyRules.map((r) => describe(r, data)).join(' and ')];
    }
  }
  return [true, null];
}

/** The vendor's own explanation (not shortened: the caller masks secrets first, then shortens). */
function vendorMessage(text, paths) {
  const data = parseJson(text);
  if (data === MISSING) {
    const stripped = stripSpace(text);
    return stripped && [...stripped].length < 200 && !stripped.includes('<') ? stripped : null;
  }
  for (const path of paths) {
    const value = get(data, path);
    const empty = value === null || value === '' || (typeof value === 'object' && !truthy(value));
    if (value !== MISSING && !empty) return typeof value === 'string' ? value : JSON.stringify(value);
  }
  return null;
}

module.exports = { evaluate, vendorMessage, ruleHolds, valuePasses, truthy, parseJson, MISSING };
