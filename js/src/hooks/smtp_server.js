'use strict';
// SMTP server and recipients: SMTP_SERVER (host:port) + SMTP_SSL, or a well-known SMTP_SERVICE.

const { ConfigError, isTrue, stripSpace } = require('../config');

// Service names match loosely, as nodemailer's well-known list does: "QQ Mail" == "qqmail".
const serviceKey = (name) => name.toLowerCase().replace(/[^a-z0-9]/g, '');

function server({ env, data }) {
  const address = stripSpace(env.SMTP_SERVER || '');
  if (address) {
    const ssl = isTrue(env.SMTP_SSL || '');
    const cut = address.lastIndexOf(':');
    const host = cut >= 0 ? address.slice(0, cut) : address;
    const port = cut >= 0 ? address.slice(cut + 1) : '';
    if (port && !/^[0-9]+$/.test(port)) throw new ConfigError('SMTP_SERVER must be host or host:port');
    return [host, port ? Number(port) : ssl ? 465 : 25, ssl];
  }
  const name = env.SMTP_SERVICE || '';
  const services = {};
  for (const [key, value] of Object.entries((data && data.services) || {})) services[serviceKey(key)] = value;
  const known = services[serviceKey(name)];
  if (!known)
    throw new ConfigError(`SMTP_SERVICE '${name}' is not a known provider; set SMTP_SERVER=host:port instead`);
  return [known.host, Number(known.port), Boolean(known.ssl)];
}

function recipients({ env }) {
  const listed = [env.SMTP_EMAIL_TO || '', env.SMTP_TO || ''].filter(Boolean).join(';');
  // \uFF1B, the fullwidth semicolon, as an escape: the bundle stays Latin-1 (build.js says why).
  const found = listed
    .split(/[;\uFF1B,]/)
    .map(stripSpace)
    .filter(Boolean);
  return found.length ? found : [env.SMTP_EMAIL];
}

function smtp_server(input) {
  const [host, port, ssl] = server(input);
  return {
    scheme: ssl ? 'smtps' : 'smtp',
    host,
    port,
    recipients: recipients(input),
    // Only an explicit opt-in lets a password travel unencrypted (stripped STARTTLS, plain relays).
    plaintext_auth: !ssl && isTrue(input.env.SMTP_ALLOW_PLAINTEXT || ''),
  };
}

module.exports = { smtp_server, serviceKey };
