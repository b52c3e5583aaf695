'use strict';
// Canonical wire encodings shared with the Python runtime (the rules are in spec/README.md).
// Nothing here may lean on a library default that differs between languages.

const crypto = require('node:crypto');

// encodeURIComponent leaves !'()* raw; the canonical rule keeps only A-Z a-z 0-9 - . _ ~.
function pct(value) {
  return encodeURIComponent(String(value)).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}

// RFC 3986 reserved + unreserved characters and '%' may stay as they are in a URL we were given.
const URL_UNSAFE = /[^A-Za-z0-9\-._~!#$%&'()*+,/:;=?@[\]]/gu;

function normalizeUrl(url) {
  return url.replace(URL_UNSAFE, (ch) => encodeURIComponent(ch));
}

function toJson(value) {
  return JSON.stringify(value);
}

/**
 * A wait or timeout in a text: seconds rounded to the millisecond (halves up), at most three decimals,
 * no trailing zeros (1, 0.5, 45, 0.734). The same arithmetic on the same double as wire.py; BigInt
 * writes every digit of a large one, as Python's int does.
 */
function secondsText(seconds) {
  const millis = BigInt(Math.floor(Math.abs(seconds) * 1000 + 0.5));
  const fraction = millis % 1000n;
  const sign = seconds < 0 && millis ? '-' : '';
  return `${sign}${millis / 1000n}${fraction ? `.${String(fraction).padStart(3, '0').replace(/0+$/, '')}` : ''}`;
}

/**
 * Percent-decoding (proxy credentials, userinfo forms of secrets): each run of %XX is UTF-8, a stray %
 * stays as it is (decodeURIComponent would throw on user:p@ss:w%rd). Python's urllib.parse.unquote.
 */
function unquote(text) {
  return text.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => Buffer.from(run.replace(/%/g, ''), 'hex').toString('utf8'));
}

function scalarText(value) {
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (value !== null && typeof value === 'object') return toJson(value);
  return String(value);
}

function formEncode(fields) {
  return Object.entries(fields)
    .filter(([, v]) => v !== null && v !== undefined)
    .map(([k, v]) => `${pct(String(k))}=${pct(scalarText(v))}`)
    .join('&');
}

function appendQuery(url, query) {
  const encoded = formEncode(query);
  if (!encoded) return url;
  if (!url.includes('?')) return `${url}?${encoded}`;
  if (url.endsWith('?') || url.endsWith('&')) return url + encoded;
  return `${url}&${encoded}`;
}

// Derived from the content so a plan is deterministic and identical in both runtimes.
function multipartBoundary(fields) {
  const asText = {};
  for (const [k, v] of Object.entries(fields)) asText[k] = scalarText(v);
  const digest = crypto.createHash('sha256').update(toJson(asText), 'utf8').digest('hex');
  return `mcp-push-${digest.slice(0, 32)}`;
}

function multipartEncode(fields, boundary) {
  let out = '';
  for (const [key, value] of Object.entries(fields)) {
    if (value === null || value === undefined) continue;
    const name = String(key).replace(/"/g, '%22').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
    out += `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${scalarText(value)}\r\n`;
  }
  return out + `--${boundary}--\r\n`;
}

function asFields(body, encoding) {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new Error(`a ${encoding} body must be a mapping of fields`);
  }
  return body;
}

/** Returns [wire body text, default Content-Type] for a rendered body tree. */
function encodeBody(encoding, body) {
  if (encoding === 'none' || body === null || body === undefined) return [null, null];
  if (encoding === 'json') return [toJson(body), 'application/json'];
  if (encoding === 'form') return [formEncode(asFields(body, encoding)), 'application/x-www-form-urlencoded'];
  if (encoding === 'multipart') {
    const fields = asFields(body, encoding);
    const boundary = multipartBoundary(fields);
    return [multipartEncode(fields, boundary), `multipart/form-data; boundary=${boundary}`];
  }
  if (encoding === 'text') return [scalarText(body), null];
  throw new Error(`unknown body encoding '${encoding}' (json, form, multipart, text, none)`);
}

module.exports = {
  secondsText,
  unquote,
  pct,
  normalizeUrl,
  toJson,
  scalarText,
  formEncode,
  appendQuery,
  multipartBoundary,
  multipartEncode,
  encodeBody,
};
