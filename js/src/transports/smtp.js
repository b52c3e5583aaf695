'use strict';
// SMTP transport (nodemailer): implicit TLS for smtps://, STARTTLS whenever offered for smtp://.
// The message is plain text with an HTML alternative; nodemailer sends UTF-8 credentials as they are.

const nodemailer = require('nodemailer');
const { secondsText } = require('../wire');
const { TransportError } = require('./index');

const TIMEOUT_CODES = new Set(['ETIMEDOUT', 'ETIMEOUT', 'ESOCKET_TIMEOUT']);

async function sendSmtp(planned, timeoutS) {
  const url = new URL(planned.url);
  const secure = url.protocol === 'smtps:';
  const ms = Math.max(1, Math.round(timeoutS * 1000));
  const user = decodeURIComponent(url.username);
  const plaintextAllowed = url.search === '?auth=plaintext';
  const transport = nodemailer.createTransport({
    host: url.hostname,
    port: url.port ? Number(url.port) : secure ? 465 : 25,
    secure,
    // Without TLS on offer (or STARTTLS stripped in transit) the password stays home unless allowed.
    requireTLS: !secure && Boolean(user) && !plaintextAllowed,
    auth: user ? { user, pass: decodeURIComponent(url.password) } : undefined,
    connectionTimeout: ms,
    greetingTimeout: ms,
    socketTimeout: ms,
  });
  const body = planned.body;
  try {
    const info = await transport.sendMail({
      from: { name: body.from.name || '', address: body.from.address },
      to: body.to,
      subject: body.subject,
      text: body.text,
      html: body.html,
    });
    if (info.rejected && info.rejected.length)
      return { status: 550, text: `refused recipients: ${info.rejected.sort().join(', ')}` };
    return { status: 250, text: '' };
  } catch (error) {
    if (error.code === 'ETLS' && !secure && !plaintextAllowed) {
      throw new TransportError(
        'config_error',
        'the SMTP server offers no TLS; refusing to send the password unencrypted (use SMTP_SSL=true, or SMTP_ALLOW_PLAINTEXT=true for a trusted relay)',
      );
    }
    if (error.responseCode) return { status: error.responseCode, text: String(error.response || error.message) };
    if (TIMEOUT_CODES.has(error.code) || /timeout/i.test(error.message)) {
      throw new TransportError('timeout', `SMTP server gave no reply within ${secondsText(timeoutS)} s`);
    }
    if (error.code === 'EAUTH') {
      throw new TransportError(
        'config_error',
        'the SMTP server offers no AUTH on this connection; check SMTP_SERVER and SMTP_SSL',
      );
    }
    // Refused or reset: the server never took the message, so another try cannot deliver it twice.
    const unreached = /\bECONN(REFUSED|RESET)\b/.test(`${error.code} ${error.message}`);
    throw new TransportError(
      'network_error',
      `SMTP connection failed: ${error.message || 'no reason given'}`,
      unreached,
    ); // no class names
  } finally {
    transport.close();
  }
}

module.exports = { sendSmtp };
