'use strict';
// Custom webhook: WEBHOOK_URL / WEBHOOK_BODY / WEBHOOK_HEADERS with $title and $content placeholders.
// The body template is parsed first and the message substituted afterwards, so nothing in a title or
// content can change the body's structure; a value that is literal JSON in the template keeps its type.
// A text body (text/plain, any other type) that is a JSON document gets the title and content escaped as
// JSON string content, so it stays JSON (QingLong users send whole JSON objects that way).

const { ConfigError, stripSpace: strip } = require('../config');
const { setOwn } = require('../templates');
const { pct, toJson } = require('../wire');

// Keys are ASCII words; a value runs until the next line that starts a key, so JSON values may span lines.
const FIELD = /(\w+):[ \t\n\r\f\v]*((?:(?!\n\w+:)[\s\S])*)/g;
const PLACEHOLDER = /\$(title|content)/g;

const substitute = (template, title, content) =>
  template.replace(PLACEHOLDER, (_, which) => (which === 'title' ? title : content));

/**
 * True when the template, with every $title and $content replaced by the letter x, parses as JSON
 * (RFC 8259). An x parses only inside a JSON string, so then every placeholder stands inside one, and a
 * value escaped as string content keeps the document JSON (webhook_request.py's is_json_document).
 */
function isJsonDocument(template) {
  try {
    JSON.parse(template.replace(PLACEHOLDER, 'x'));
    return true;
  } catch {
    return false;
  }
}

/** A text body: the template with the placeholders replaced; JSON-escaped in a JSON document. */
function substituteText(template, title, content) {
  if (!isJsonDocument(template)) return substitute(template, title, content);
  return substitute(template, toJson(title).slice(1, -1), toJson(content).slice(1, -1));
}

function fill(node, title, content) {
  if (typeof node === 'string') return substitute(node, title, content);
  if (Array.isArray(node)) return node.map((item) => fill(item, title, content));
  if (node !== null && typeof node === 'object') {
    const out = {};
    for (const [key, value] of Object.entries(node)) setOwn(out, key, fill(value, title, content));
    return out;
  }
  return node;
}

// WEBHOOK_BODY -> its parsed form (fieldTemplates), kept for the few bodies a process uses: parsing it
// (a regex over every character, a JSON.parse per field) is the same work for every message. fill()
// builds new values and never changes what is kept. Bounded: cleared when full.
const parsedBodies = new Map();
const PARSED_BODIES_MAX = 64;

/** The body template as a JSON object (`{json}`) or its `key: value` fields ([key, JSON value or undefined, text]). */
function fieldTemplates(body) {
  const whole = strip(body);
  if (whole.startsWith('{')) {
    let parsed = null;
    try {
      parsed = JSON.parse(whole);
    } catch {
      // not JSON: read it as key: value lines
    }
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) return { json: parsed };
  }
  const fields = [];
  for (const [, key, raw] of body.matchAll(FIELD)) {
    const template = strip(raw);
    let parsed;
    try {
      parsed = JSON.parse(template);
    } catch {
      fields.push([key, undefined, template]);
      continue;
    }
    fields.push([key, parsed, template]);
  }
  return { fields };
}

/** A JSON object template is the body itself; otherwise one `key: value` per line. */
function parseFields(body, title, content) {
  let parsed = parsedBodies.get(body);
  if (!parsed) {
    parsed = fieldTemplates(body);
    if (parsedBodies.size >= PARSED_BODIES_MAX) parsedBodies.clear();
    parsedBodies.set(body, parsed);
  }
  if (parsed.json) return fill(parsed.json, title, content);
  const fields = {};
  for (const [key, value, template] of parsed.fields)
    setOwn(fields, key, value === undefined ? substitute(template, title, content) : fill(value, title, content));
  return fields;
}

function parseHeaders(text) {
  const headers = {};
  for (const line of text.split(/\r\n|\n|\r/)) {
    const cut = line.indexOf(':');
    if (cut < 0) continue;
    const name = strip(line.slice(0, cut));
    const value = strip(line.slice(cut + 1));
    if (!name) continue;
    const existing = Object.keys(headers).find((k) => k.toLowerCase() === name.toLowerCase());
    if (existing) headers[existing] = `${headers[existing]}, ${value}`;
    else setOwn(headers, name, value);
  }
  return headers;
}

function encodingFor(contentType, body) {
  const kind = strip(contentType.split(';', 1)[0]).toLowerCase();
  if (kind === 'application/json' || kind.endsWith('+json')) return 'json';
  if (kind === 'application/x-www-form-urlencoded') return 'form';
  if (kind === 'multipart/form-data') return 'multipart';
  if (kind === '' && (new RegExp(FIELD.source).test(body) || strip(body).startsWith('{'))) return 'form';
  return 'text';
}

function webhook_request({ env, title, content }) {
  const urlTemplate = env.WEBHOOK_URL;
  const bodyTemplate = env.WEBHOOK_BODY || '';
  if (!new RegExp(PLACEHOLDER.source).test(urlTemplate) && !new RegExp(PLACEHOLDER.source).test(bodyTemplate)) {
    throw new ConfigError('WEBHOOK_URL or WEBHOOK_BODY must contain $title or $content');
  }
  const url = urlTemplate.replace(PLACEHOLDER, (_, which) => pct(which === 'title' ? title : content));
  let headers = parseHeaders(env.WEBHOOK_HEADERS || '');
  const contentType = strip(env.WEBHOOK_CONTENT_TYPE || '');
  const encoding = bodyTemplate ? encodingFor(contentType, bodyTemplate) : 'none';
  let body = null;
  if (encoding === 'text') body = substituteText(bodyTemplate, title, content);
  else if (encoding !== 'none') {
    body = parseFields(bodyTemplate, title, content);
    if (!Object.keys(body).length)
      throw new ConfigError('WEBHOOK_BODY has no `key: value` lines and is not a JSON object');
  }
  if (encoding === 'multipart') {
    // The boundary is chosen when the body is encoded; a Content-Type from WEBHOOK_HEADERS cannot name it.
    headers = Object.fromEntries(Object.entries(headers).filter(([k]) => k.toLowerCase() !== 'content-type'));
  }
  const hasType = Object.keys(headers).some((k) => k.toLowerCase() === 'content-type');
  if (contentType && encoding !== 'multipart' && encoding !== 'none' && !hasType) headers['Content-Type'] = contentType;
  // WEBHOOK_URL's and WEBHOOK_HEADERS' credentials are masked by the spec's secret marks (redact.js).
  return { url, headers, encoding, body };
}

module.exports = { webhook_request, parseFields, parseHeaders, isJsonDocument };
