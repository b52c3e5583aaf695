'use strict';
// Transports put a planned request on the wire: HTTP (undici), SMTP (nodemailer), console (stderr).

/** No reply was had. `kind` is a result status: network_error, timeout or config_error. */
class TransportError extends Error {
  constructor(kind, message) {
    super(message);
    this.kind = kind;
  }
}

function transportFor(name) {
  if (name === 'http') return require('./http').sendHttp;
  if (name === 'smtp') return require('./smtp').sendSmtp;
  if (name === 'console') return require('./console').sendConsole;
  throw new Error(`no transport named '${name}'`);
}

module.exports = { TransportError, transportFor };
