'use strict';
// Transports put a planned request on the wire: HTTP (undici), SMTP (nodemailer), console (stderr).

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

function transportFor(name) {
  if (name === 'http') return require('./http').sendHttp;
  if (name === 'smtp') return require('./smtp').sendSmtp;
  if (name === 'console') return require('./console').sendConsole;
  throw new Error(`no transport named '${name}'`);
}

module.exports = { TransportError, transportFor };
