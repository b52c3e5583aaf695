'use strict';
// HTTP transport: sends the planned bytes unchanged, with a timeout on connect, on the headers and on
// every body read (undici ignores a plain `timeout` option, QingLong's 300 s hang; these apply).

const { finished } = require('node:stream');
const { secondsText } = require('../wire');
const { TransportError } = require('./index');

// Failures worth another try: the vendor may be restarting. DNS and TLS failures are configuration.
const RETRYABLE_REASONS = new Set(['connection refused', 'connection reset', 'connection failed']);

// The request was written, then the connection closed (or a reply was cut short): the vendor may have
// it. The same words in both runtimes (spec/README.md, "Retries").
const AFTER_WRITE = 'connection closed after the request was sent; the message may have been delivered';

// Socket errors raised while connecting, before any byte of the request was written. Everything else
// (undici's 'other side closed', a reset while reading the reply) may have reached the vendor.
const CONNECT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EAI_FAIL',
  'EAI_NONAME',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EHOSTDOWN',
  'EADDRNOTAVAIL',
]);

let injected = null;

/** Routes every request through `dispatcher` (undici MockAgent in tests); null restores the default. */
function useDispatcher(dispatcher) {
  injected = dispatcher;
}

// Without a spec-named proxy, HTTP(S)_PROXY / NO_PROXY from the environment apply, as they do for
// Python's requests: through undici's proxy agents, pooled (proxies.js). With no proxy variable at all
// every request is direct, over node:http (direct.js), with one keep-alive Agent per protocol: undici
// is then never loaded. No redirect following either way: the planned request is the request (a
// redirect would turn a POST into a GET).
const PROXY_VARIABLES = ['http_proxy', 'HTTP_PROXY', 'https_proxy', 'HTTPS_PROXY'];

let undici = null;
let direct = null;
let proxies = null;

/** How one request goes: {send() -> reply-like, abort() (it timed out), release() (it ended)}. */
function routeFor(planned, ms, body) {
  const viaUndici = (dispatcher, lease = null) => {
    // An abort signal reaches undici's request only once it has a connection: the lease's timedOut()
    // retires the dispatcher, which ends a CONNECT a stuck proxy never answers (proxies.js).
    const controller = new AbortController();
    return {
      send: () =>
        (undici ||= require('undici')).request(planned.url, {
          method: planned.method,
          headers: { ...planned.headers }, // a copy: undici's proxy agent edits the headers it is given; a plan is frozen
          body,
          headersTimeout: ms,
          bodyTimeout: ms,
          dispatcher,
          signal: controller.signal,
        }),
      abort() {
        if (lease) lease.timedOut();
        controller.abort();
      },
      release: () => lease && lease.release(),
    };
  };
  if (injected) return viaUndici(injected);
  if (planned.proxy || PROXY_VARIABLES.some((name) => process.env[name])) {
    const lease = (proxies ||= require('./proxies')).leaseProxy(planned.proxy || null, ms);
    return viaUndici(lease.dispatcher, lease);
  }
  const request = (direct ||= require('./direct')).requestDirect(planned, body);
  return { send: () => request.reply, abort: request.abort, release: () => {} };
}

// Vendors mean UTF-8 unless they say otherwise (Chinese error messages). TextDecoder drops a leading
// byte order mark; the Python transport drops it too.
// A decoder is made once per label (a one-off decode keeps no state between calls).
const decoders = new Map();

function decoderFor(label) {
  let decoder = decoders.get(label);
  if (decoder === undefined) {
    try {
      decoder = new TextDecoder(label);
    } catch {
      decoder = null; // an unknown charset label: UTF-8
    }
    if (decoders.size < 64) decoders.set(label, decoder);
  }
  return decoder;
}

function decode(buffer, contentType) {
  const match = /charset=["']?([^;"'\s]+)/i.exec(contentType || '');
  return ((match && decoderFor(match[1])) || decoderFor('utf-8')).decode(buffer);
}

// Header names lower-cased (undici's already are); a repeated header joined with ", " as Python's requests does.
function replyHeaders(raw) {
  const headers = {};
  for (const [name, value] of Object.entries(raw || {})) {
    headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
  }
  return headers;
}

// undici's refusals of a request it was given (besides InvalidArgumentError), before writing any of it.
const REFUSED_CODES = new Set(['UND_ERR_NOT_SUPPORTED', 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH']);

const TIMEOUT_CODES = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'ETIMEDOUT',
]);

// Why a connection failed, in the words both runtimes use (the Python transport classifies alike).
function failureReason(code, message) {
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'host not found';
  if ((code && (code.startsWith('ERR_TLS') || code.includes('CERT'))) || /SSL|TLS|certificate/i.test(message))
    return 'TLS failed';
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' || code === 'EPIPE') return 'connection reset';
  return 'connection failed';
}

/** False only when the failure surely came before any byte of the request was written (retry.py's twin). */
function writtenBeforeFailure(code, message, reason) {
  if (reason === 'TLS failed') return false; // the handshake comes before the request
  if (CONNECT_CODES.has(code)) return false;
  return !/when HTTP Tunneling/.test(message); // a proxy that refused the CONNECT tunnel
}

/**
 * The whole body of a reply stream (node:http's IncomingMessage, undici's body), `onChunk` called as each
 * piece arrives; rejects as `for await` over it would: with its error, or ERR_STREAM_PREMATURE_CLOSE when
 * it ends early. Listeners and stream.finished, not an async iterator, whose machinery cost a script's
 * first reply more than a millisecond (its last reply is read after every other one).
 */
function readBody(stream, onChunk) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    stream.on('data', (chunk) => {
      chunks.push(chunk);
      onChunk();
    });
    finished(stream, { writable: false }, (error) => (error ? reject(error) : resolve(Buffer.concat(chunks))));
  });
}

async function sendHttp(planned, timeoutS) {
  const ms = Math.max(1, Math.round(timeoutS * 1000));
  let route = null;
  // undici runs headersTimeout/bodyTimeout on a coarse timer wheel (0.5 s ticks: 0.5 s fired after
  // 1-1.5 s), and an abort signal reaches a request only once it has a connection (a proxy that never
  // answers the CONNECT held it for minutes). A native timer, restarted whenever bytes arrive, ends the
  // wait itself (a connect too, for node:http): MCP_PUSH_TIMEOUT is what it says.
  let timedOut = false;
  let expire;
  const expired = new Promise((resolve, reject) => {
    expire = reject;
  });
  expired.catch(() => {});
  const timer = setTimeout(() => {
    timedOut = true;
    if (route) route.abort();
    expire(new Error('timed out'));
  }, ms);
  try {
    const body = typeof planned.body === 'string' ? Buffer.from(planned.body, 'utf8') : undefined;
    route = routeFor(planned, ms, body); // a proxy URL that does not parse throws here
    const pending = route.send();
    pending.catch(() => {}); // settled after the race was lost: nobody waits for it
    const response = await Promise.race([pending, expired]);
    timer.refresh();
    const received = await readBody(response.body, () => timer.refresh());
    return {
      status: response.statusCode,
      text: decode(received, response.headers['content-type']),
      headers: replyHeaders(response.headers),
    };
  } catch (error) {
    const code = error.code || (error.cause && error.cause.code);
    if (timedOut) throw new TransportError('timeout', `no reply within ${secondsText(timeoutS)} s`);
    if (code === 'ERR_INVALID_URL') {
      // A proxy URL from TG_PROXY_* that does not parse (a '/' in TG_PROXY_AUTH, a port that is no
      // number): Python's requests says InvalidURL; this was an internal_error here.
      throw new TransportError('config_error', 'the request cannot be sent as configured (InvalidURL)');
    }
    if (code === 'UND_ERR_INVALID_ARG' || error.name === 'InvalidArgumentError' || REFUSED_CODES.has(code)) {
      // A control character in a header value or a malformed URL, an Expect header, a Content-Length the body
      // does not have: refused before a byte was written. The configuration, not the network.
      throw new TransportError('config_error', `the request cannot be sent as configured (${error.name})`);
    }
    if (TIMEOUT_CODES.has(code) || error.name === 'TimeoutError') {
      throw new TransportError('timeout', `no reply within ${secondsText(timeoutS)} s`);
    }
    const message = `${error.message} ${error.cause ? error.cause.message : ''}`;
    const reason = failureReason(code, message);
    if (writtenBeforeFailure(code, message, reason)) {
      // Never retried unless the spec has an idempotency key: a second POST could post twice.
      throw new TransportError('network_error', `${AFTER_WRITE} (${planned.method} ${planned.url})`, false, true);
    }
    throw new TransportError(
      'network_error',
      `${reason} (${planned.method} ${planned.url})`,
      RETRYABLE_REASONS.has(reason),
    );
  } finally {
    clearTimeout(timer);
    if (route) route.release();
  }
}

module.exports = { sendHttp, useDispatcher };
