'use strict';
// Transports put a planned request on the wire: HTTP (undici), SMTP (nodemailer), console (stderr), Apprise.
// A transport is an object (python/mcp_push/transports/__init__.py has the same three): `send(request,
// timeout)`, `roundTrips` (how many times one request may wait the full timeout: api.timeBudget),
// `retryable(status)` (an answer that says "later") and `encodesBody` (the planner writes the body tree
// as wire text; a transport that does not gets the tree). The library behind `send` is loaded on the
// first send only: planning must not pay for undici or nodemailer.

/**
 * No reply was had. `kind` is a result status: network_error, timeout or config_error. `retryable` is
 * true when the request surely never reached the vendor (refused before any byte was written): trying
 * again cannot deliver it twice. `maybeDelivered` is true when the request was written and the reply is
 * missing or cut: the vendor may have the message, so only a spec with an idempotency key
 * (`retry.idempotent`) tries again. A timeout is neither: it is never retried.
 */
class TransportError extends Error {
  constructor(kind, message, retryable = false, maybeDelivered = false) {
    super(message);
    this.kind = kind;
    this.retryable = retryable;
    this.maybeDelivered = maybeDelivered;
  }
}

const TRANSPORTS = Object.freeze({
  http: Object.freeze({
    name: 'http',
    roundTrips: 2, // connect, then the reply
    encodesBody: true,
    send: (request, timeout) => require('./http').sendHttp(request, timeout),
    retryable: (status) => status === 429 || status >= 500,
  }),
  smtp: Object.freeze({
    name: 'smtp',
    roundTrips: 8, // a dialogue: greeting, EHLO, STARTTLS, AUTH, MAIL, RCPT, DATA, QUIT
    encodesBody: false,
    send: (request, timeout) => require('./smtp').sendSmtp(request, timeout),
    retryable: (status) => status >= 400 && status < 500, // SMTP 4xx: transient (greylisting, mailbox busy)
  }),
  console: Object.freeze({
    name: 'console', // writes to stderr: it never answers "later"
    roundTrips: 1,
    encodesBody: false,
    send: (request, timeout) => require('./console').sendConsole(request, timeout),
    retryable: () => false,
  }),
  // One URL of APPRISE_URLS through the `apprise` command on PATH. Never "later": Apprise does not say
  // whether a failed service got the message.
  apprise: Object.freeze({
    name: 'apprise',
    roundTrips: 2, // the service's connect, then its reply
    encodesBody: false,
    send: (request, timeout) => require('./apprise').sendApprise(request, timeout),
    retryable: () => false,
  }),
});

function transportFor(name) {
  if (!Object.prototype.hasOwnProperty.call(TRANSPORTS, name)) throw new Error(`no transport named '${name}'`);
  return TRANSPORTS[name];
}

module.exports = { TransportError, TRANSPORTS, transportFor };
