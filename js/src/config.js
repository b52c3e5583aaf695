'use strict';
// Reads a channel's env vars the way QingLong does: a non-empty value wins, otherwise the spec default.

const FALSE_WORDS = new Set(['', 'false', '0', 'no', 'off']);
// ASCII white space: String.trim() and Python's str.strip() disagree beyond it (\ufeff, \x1c-\x1f,
// \x85), so both runtimes strip exactly these.
const SPACE = ' \t\n\r\f\v';

function stripSpace(text) {
  let start = 0;
  let end = text.length;
  while (start < end && SPACE.includes(text[start])) start += 1;
  while (end > start && SPACE.includes(text[end - 1])) end -= 1;
  return text.slice(start, end);
}

class ConfigError extends Error {}

/** Parameters may carry JS values; specs only ever see text. */
function asText(value) {
  if (value === null || value === undefined) return '';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  return String(value);
}

/** Title or content as text, made well-formed (a lone surrogate becomes U+FFFD), as the Python side. */
const messageText = (value) => asText(value).toWellFormed();

// A decimal number in a setting: ASCII digits, an optional fraction; no sign, exponent, "_" or "0x".
// Number() and float() read every such text to the same double.
const DECIMAL = /^[0-9]+(?:\.[0-9]+)?$/;

/** MCP_PUSH_TIMEOUT in seconds: a decimal number above zero, or a ConfigError naming the variable. */
function requestTimeout(text) {
  const number = stripSpace(text);
  const value = DECIMAL.test(number) ? Number(number) : NaN;
  if (!(value > 0 && Number.isFinite(value))) {
    throw new ConfigError(`MCP_PUSH_TIMEOUT must be a positive number of seconds, got '${text}'`);
  }
  return value;
}

const isTrue = (value) => !FALSE_WORDS.has(stripSpace(value).toLowerCase());

function resolveVar(variable, source) {
  const value = asText(source[variable.name]);
  return value !== '' ? value : variable.default;
}

const isSet = (variable, value) => (variable.type === 'bool' ? isTrue(value) : value !== '');

function channelEnv(spec, source) {
  const env = {};
  for (const [name, variable] of Object.entries(spec.env)) env[name] = resolveVar(variable, source);
  return env;
}

const isConfigured = (spec, env) => spec.active_when.some((name) => isSet(spec.env[name], env[name]));

// The checks of the spec's env types; python/mcp_push/config.py words them identically. ASCII classes
// only, so both regex engines agree.
const URL_START = /^[Hh][Tt][Tt][Pp][Ss]?:\/\/[^/?#\x00-\x20]/;
const INTEGER = /^-?[0-9]{1,18}$/;

function intRule(variable) {
  const { min, max } = variable;
  const has = (bound) => bound !== undefined && bound !== null;
  if (has(min) && has(max)) return `must be an integer from ${min} to ${max}`;
  if (has(min)) return `must be an integer of at least ${min}`;
  if (has(max)) return `must be an integer of at most ${max}`;
  return 'must be an integer';
}

/**
 * What is wrong with a set value of a typed variable, naming it and the rule ("NTFY_PRIORITY: must be
 * one of 1, 2, 3 ..."), or null. An empty value is unset: missingConfig says what is required.
 */
function valueProblem(variable, value) {
  if (value === '') return null;
  if (variable.type === 'url' && !URL_START.test(value)) return `${variable.name}: must be an http(s) URL`;
  if (variable.type === 'int') {
    const number = INTEGER.test(value) ? Number(value) : null;
    const { min, max } = variable;
    if (
      number === null ||
      (min !== undefined && min !== null && number < min) ||
      (max !== undefined && max !== null && number > max)
    ) {
      return `${variable.name}: ${intRule(variable)}`;
    }
  }
  if (variable.type === 'enum') {
    const fold = (text) => (variable.ignore_case ? text.toLowerCase() : text);
    if (!variable.enum.map(fold).includes(fold(value)))
      return `${variable.name}: must be one of ${variable.enum.join(', ')}`;
  }
  return null;
}

/**
 * The one way to read a setting (spec/settings.yaml's `env`): the source's value, else its declared
 * default, checked against its declared type (ASCII white space around it stripped first) with a
 * ConfigError "<VAR>: <rule>"; the text is returned as set. An undeclared name is a bug. config.py's setting.
 */
let specs = null; // ./specs, required at the first setting read: specs.js requires this module

function setting(name, source) {
  specs = specs || require('./specs');
  const variable = specs.loadSettings().env[name];
  if (!variable) throw new Error(`${name}: not declared in spec/settings.yaml`);
  const value = resolveVar(variable, source);
  const problem = settingProblem(variable, stripSpace(value));
  if (problem) throw new ConfigError(problem);
  return value;
}

/** What is wrong with a setting's value: its spec type (valueProblem), or `seconds`, a decimal number above zero. */
function settingProblem(variable, value) {
  if (
    variable.type === 'seconds' &&
    value !== '' &&
    !(DECIMAL.test(value) && Number(value) > 0 && Number.isFinite(Number(value)))
  ) {
    return `${variable.name}: must be a number of seconds above 0`;
  }
  return valueProblem(variable, value);
}

/** Every set variable of the channel whose value breaks its spec type, as valueProblem words it. */
const invalidConfig = (spec, env) =>
  Object.entries(spec.env)
    .map(([name, variable]) => valueProblem(variable, env[name] ?? ''))
    .filter(Boolean);

/**
 * The set variables the channel's requests are built from (a hook may read any of them): what a
 * request that cannot even be sent (a malformed URL, a control character in a header) is blamed on.
 */
function requestVariables(spec, env) {
  const templates = JSON.stringify([spec.request, spec.token, spec.edit]);
  const used = new Set([...templates.matchAll(/env\.([A-Z][A-Z0-9_]*)/g)].map((m) => m[1]));
  // A default is not the user's doing.
  return Object.entries(spec.env)
    .filter(
      ([name, variable]) =>
        ![undefined, '', variable.default].includes(env[name]) &&
        variable.type !== 'bool' &&
        (spec.hook || used.has(name)),
    )
    .map(([name]) => name);
}

/** What a configured channel still lacks, as readable phrases (empty when complete). */
function missingConfig(spec, env) {
  const missing = Object.entries(spec.env)
    .filter(([name, variable]) => variable.required && !isSet(variable, env[name]))
    .map(([name]) => name);
  for (const group of spec.require_one_of) {
    if (!group.some((name) => isSet(spec.env[name], env[name]))) missing.push(group.join(' or '));
  }
  return missing;
}

module.exports = {
  ConfigError,
  SPACE,
  stripSpace,
  asText,
  messageText,
  requestTimeout,
  isTrue,
  resolveVar,
  isSet,
  channelEnv,
  isConfigured,
  missingConfig,
  valueProblem,
  invalidConfig,
  requestVariables,
  setting,
};
