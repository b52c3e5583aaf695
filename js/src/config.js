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

/** MCP_PUSH_TIMEOUT in seconds: a finite number above zero, or a ConfigError naming the variable. */
function requestTimeout(text) {
  const value = text.trim() === '' ? NaN : Number(text);
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

module.exports = { ConfigError, SPACE, stripSpace, asText, messageText, requestTimeout, isTrue, resolveVar, isSet, channelEnv, isConfigured, missingConfig };
