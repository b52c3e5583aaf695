'use strict';
// Transports put a planned request on the wire: HTTP (undici), SMTP (nodemailer), console (stderr).

/**
 * No reply was had. `kind` is a result status: network_error, timeout or config_error. `retryable` is
 * true when the request surely never reached the vendor (refused, reset before an answer): trying again
 * cannot deliver it twice. A timeout is not retryable: the vendor may have the message already.
 */
class TransportError extends Error {
  constructor(kind, message, retryable = false) {
    super(message);
    this.kind = kind;
    this.retryable = retryable;
  }
}

function transportFor(name) {
  if (name === 'http') return require('./http').sendHttp;
  if (name === 'smtp') return require('./smtp').sendSmtp;
  if (name === 'console') return require('./console').sendConsole;
  throw new Error(`no transport named '${name}'`);
}

module.exports = { TransportError, transportFor };
