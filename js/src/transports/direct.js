'use strict';
// A request with no proxy on its way, over node:http / node:https: a one-shot script that sends never
// loads undici, whose HTTP parser is WebAssembly that V8 compiles a second time, optimised, in the
// background once it has run (about 30 MiB of peak memory after a send, and 40 ms of CPU; node:http's
// parser is native). What goes on the wire and what comes back is what undici's `request()` makes of
// the same planned request (js/test/direct.test.js sends each through both and compares the bytes):
// the header lines in undici's order and spelling, its rules for which headers it refuses, its
// Content-Length rule, its reading of the reply's headers. Failures carry the same codes (both sit on
// node:net and node:tls), so transports/http.js classifies them alike.

// A pooled socket idle this long is closed (undici's keepAliveTimeout before; the Python transport's
// IDLE_REUSE_SECONDS), clear of servers' 5 s. Idle sockets are unref'd by node:http's Agent, so they
// never keep the process alive. node:https (and TLS with it) loads at the first https request.
const IDLE_REUSE_MS = 2000;
const clients = {};

function clientFor(protocol) {
  let client = clients[protocol];
  if (!client) {
    const lib = protocol === 'https:' ? require('node:https') : require('node:http');
    client = { lib, agent: new lib.Agent({ keepAlive: true, timeout: IDLE_REUSE_MS }) };
    clients[protocol] = client;
  }
  return client;
}

// undici's error classes, by the name and code transports/http.js reads.
function undiciError(name, code, message) {
  const error = new Error(message);
  error.name = name;
  error.code = code;
  return error;
}
const invalidArgument = (message) => undiciError('InvalidArgumentError', 'UND_ERR_INVALID_ARG', message);

// undici's checks (core/util.js): an HTTP token, a header value, a request path, a Content-Length value.
const TOKEN = /^[\^_`a-zA-Z\-0-9!#$%&'*+.|~]+$/;
const INVALID_VALUE = /[^\t\x20-\x7e\x80-\xff]/;
const INVALID_PATH = /[^\u0021-\u00ff]/;
const DIGITS = /^[0-9]+$/;
// Methods after which undici sends Content-Length: 0 when there is no body (client-h1.js expectsPayload).
const EXPECTS_PAYLOAD = new Set(['PUT', 'POST', 'PATCH', 'QUERY', 'PROPFIND', 'PROPPATCH']);
const NO_CONTENT_LENGTH = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'CONNECT']);
// node:http's own refusals of a request it was given (its header, token and path checks).
const NODE_REFUSALS = new Set([
  'ERR_INVALID_CHAR',
  'ERR_INVALID_HTTP_TOKEN',
  'ERR_HTTP_INVALID_HEADER_VALUE',
  'ERR_UNESCAPED_CHARACTERS',
  'ERR_INVALID_PROTOCOL',
]);

/**
 * The header lines undici writes for `planned` (core/request.js processHeader, client-h1.js writeH1),
 * as [name, value] pairs in order; throws what undici throws for a request it refuses.
 */
function headerLines(url, method, headers, body) {
  if (!TOKEN.test(method)) throw invalidArgument('invalid request method');
  if (INVALID_PATH.test(url.pathname + url.search)) throw invalidArgument('invalid request path');
  let host = null;
  let declaredLength = null;
  let close = false;
  const lines = [];
  for (const [key, value] of Object.entries(headers)) {
    const name = key.toLowerCase();
    if (!TOKEN.test(name)) throw invalidArgument('invalid header key');
    if (INVALID_VALUE.test(value)) throw invalidArgument(`invalid ${key} header`);
    if (name === 'host') {
      if (host !== null) throw invalidArgument('duplicate host header');
      host = value;
    } else if (name === 'content-length') {
      if (declaredLength !== null) throw invalidArgument('duplicate content-length header');
      if (!DIGITS.test(value)) throw invalidArgument('invalid content-length header');
      declaredLength = parseInt(value, 10);
    } else if (name === 'transfer-encoding' || name === 'keep-alive' || name === 'upgrade') {
      throw invalidArgument(`invalid ${name} header`);
    } else if (name === 'connection') {
      // Read, never sent as given: undici writes its own connection line.
      for (const token of value.toLowerCase().split(',')) {
        const trimmed = token.trim();
        if (!TOKEN.test(trimmed)) throw invalidArgument('invalid connection header');
        if (trimmed === 'close') close = true;
      }
    } else if (name === 'expect') {
      throw undiciError('NotSupportedError', 'UND_ERR_NOT_SUPPORTED', 'expect header not supported');
    } else {
      lines.push([key, value]);
    }
  }
  // undici counts the body it is given (none: 0); a declared length is only checked against it.
  let length = body ? body.length : 0;
  if (length === 0 && !EXPECTS_PAYLOAD.has(method)) length = null;
  if (!NO_CONTENT_LENGTH.has(method) && length > 0 && declaredLength !== null && declaredLength !== length) {
    throw undiciError(
      'RequestContentLengthMismatchError',
      'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH',
      'Request body length does not match content-length header',
    );
  }
  const head = [['host', host === null ? url.host : host], ['connection', close ? 'close' : 'keep-alive'], ...lines];
  if (length !== null) head.push(['content-length', String(length)]);
  return head;
}

/** The reply's headers as undici's request() gives them: names lower-cased, a repeated one an array. */
function replyHeaders(raw) {
  const headers = {};
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toLowerCase();
    const value = raw[i + 1];
    if (!Object.hasOwn(headers, name)) {
      if (name === '__proto__') {
        Object.defineProperty(headers, name, { value, enumerable: true, configurable: true, writable: true });
      } else {
        headers[name] = value;
      }
    } else if (typeof headers[name] === 'string') {
      headers[name] = [headers[name], value];
    } else {
      headers[name].push(value);
    }
  }
  return headers;
}

/**
 * Sends `planned` directly: {reply, abort()}. `reply` resolves to {statusCode, headers, body} once the
 * reply's headers are in (body: an async iterable of Buffers), as undici's request() does; abort()
 * destroys the request (its timeout ran out).
 */
function requestDirect(planned, body) {
  let request = null;
  const reply = new Promise((resolve, reject) => {
    const url = new URL(planned.url); // throws ERR_INVALID_URL, as undici's request() does
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw invalidArgument('Invalid URL protocol: the URL must start with `http:` or `https:`.');
    }
    const head = headerLines(url, planned.method, planned.headers, body);
    const { lib, agent } = clientFor(url.protocol);
    // An object keeps every spelling undici writes; two names that differ only in case (a user's
    // WEBHOOK_HEADERS) would be one key there, so those go as an array of lines.
    const distinct = new Set(head.map(([name]) => name.toLowerCase())).size === head.length;
    try {
      request = lib.request(url, {
        method: planned.method,
        headers: distinct ? Object.fromEntries(head) : head.flat(),
        setHost: false, // the host line is in `head`, first, as undici writes it
        agent,
      });
    } catch (error) {
      // node:http checks what headerLines checked, by the same rules; should it ever refuse more, the
      // request was not sent: a configuration error, never "may have been delivered".
      if (NODE_REFUSALS.has(error.code)) throw invalidArgument(error.message);
      throw error;
    }
    // Content-Length is in `head` whenever undici would send it; node:http must add nothing (no chunking).
    request.useChunkedEncodingByDefault = false;
    request.on('response', (response) => {
      resolve({ statusCode: response.statusCode, headers: replyHeaders(response.rawHeaders), body: response });
    });
    request.on('error', reject);
    request.end(body);
  });
  return {
    reply,
    abort: () => {
      if (request) request.destroy(new Error('timed out'));
    },
  };
}

module.exports = { requestDirect, headerLines, replyHeaders, IDLE_REUSE_MS };
