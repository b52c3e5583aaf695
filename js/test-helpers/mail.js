'use strict';
// A real SMTP server (smtp-server) on 127.0.0.1 that records what it is told, a self-signed CA for its
// TLS, and a minimal MIME reader for the messages nodemailer writes (enough to check headers and parts).

const { SMTPServer } = require('smtp-server');

/**
 * Starts an SMTP server. mode: "implicit" (TLS from the first byte, as on port 465), "starttls"
 * (offers STARTTLS; AUTH only after it), "plain" (no TLS at all; AUTH in the clear allowed).
 * Records `auths` ({method, username, password, secure}), `messages` ({mailFrom, rcptTo, raw, secure})
 * and `events` (AUTH, DATA in order). authOptional: true accepts mail without AUTH, as a local relay.
 */
async function startSmtp(
  mode,
  { user, password, tls = null, echoCredentials = false, disabledCommands = [], authOptional = false },
) {
  const recorder = { auths: [], messages: [], events: [] };
  const options = {
    authOptional, // true: a relay that takes mail without AUTH (onAuth still records any AUTH sent)
    authMethods: ['PLAIN', 'LOGIN'],
    logger: false,
    disableReverseLookup: true, // no DNS query: the tests stay on loopback
    disabledCommands: [...disabledCommands],
    onAuth(auth, session, callback) {
      recorder.events.push('AUTH');
      recorder.auths.push({
        method: auth.method,
        username: auth.username,
        password: auth.password,
        secure: session.secure,
      });
      if (auth.username === user && auth.password === password) return callback(null, { user: auth.username });
      const error = new Error(
        echoCredentials ? `bad login ${auth.username} / ${auth.password}` : 'Authentication credentials invalid',
      );
      error.responseCode = 535;
      return callback(error);
    },
    onData(stream, session, callback) {
      const chunks = [];
      stream.on('data', (c) => chunks.push(c));
      stream.on('end', () => {
        recorder.events.push('DATA');
        recorder.messages.push({
          mailFrom: session.envelope.mailFrom.address,
          rcptTo: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks).toString('utf8'),
          secure: session.secure,
        });
        callback(null, 'OK queued');
      });
    },
  };
  if (mode === 'implicit') Object.assign(options, { secure: true, key: tls.key, cert: tls.cert });
  else if (mode === 'starttls')
    Object.assign(options, { secure: false, key: tls.key, cert: tls.cert, allowInsecureAuth: false });
  else if (mode === 'plain') {
    options.allowInsecureAuth = true;
    options.disabledCommands.push('STARTTLS');
  } else throw new Error(`unknown SMTP mode ${mode}`);
  const server = new SMTPServer(options);
  server.on('error', () => {}); // a client that gives up (certificate refused) is not a test failure
  await new Promise((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return {
    ...recorder,
    address: `127.0.0.1:${server.server.address().port}`,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

/** A CA and a certificate for 127.0.0.1 it signed: {caCert, key, cert} in PEM. */
async function makeTls() {
  const selfsigned = require('selfsigned');
  const notAfterDate = new Date(Date.now() + 24 * 3600 * 1000);
  const ca = await selfsigned.generate([{ name: 'commonName', value: 'mcp-push test CA' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    notAfterDate,
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    ],
  });
  const leaf = await selfsigned.generate([{ name: 'commonName', value: '127.0.0.1' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    notAfterDate,
    ca: { key: ca.private, cert: ca.cert },
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] },
    ],
  });
  return { caCert: ca.cert, key: leaf.private, cert: leaf.cert };
}

// ---- a minimal MIME reader ---------------------------------------------------------------------------

function decodeQ(text) {
  return Buffer.from(
    text.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g, (_, hex) => String.fromCharCode(parseInt(hex, 16))),
    'latin1',
  ).toString('utf8');
}

/** Decodes RFC 2047 encoded words (UTF-8, B or Q); white space between adjacent words is dropped. */
function decodeWords(value) {
  return value
    .replace(/(=\?[^?]+\?[BbQq]\?[^?]*\?=)\s+(?==\?)/g, '$1')
    .replace(/=\?([^?]+)\?([BbQq])\?([^?]*)\?=/g, (_, charset, enc, data) => {
      if (!/^utf-8$/i.test(charset)) throw new Error(`unexpected charset ${charset}`);
      return enc.toUpperCase() === 'B' ? Buffer.from(data, 'base64').toString('utf8') : decodeQ(data);
    });
}

function splitHead(raw) {
  const cut = raw.indexOf('\r\n\r\n');
  const head = raw.slice(0, cut).replace(/\r\n[ \t]+/g, ' '); // unfold
  const headers = {};
  for (const line of head.split('\r\n')) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { headers, body: raw.slice(cut + 4) };
}

function decodeBody(body, encoding) {
  const kind = (encoding || '7bit').toLowerCase();
  if (kind === 'base64') return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  if (kind === 'quoted-printable') {
    const bytes = body
      .replace(/=\r\n/g, '')
      .replace(/=([0-9A-Fa-f]{2})/g, (_, hex) => String.fromCharCode(parseInt(hex, 16)));
    return Buffer.from(bytes, 'latin1').toString('utf8');
  }
  return body;
}

/** {headers (lower-case names, encoded words decoded), contentType, parts: [{contentType, text}]}. */
function parseMail(raw) {
  const { headers, body } = splitHead(raw);
  const decoded = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, decodeWords(v)]));
  const contentType = headers['content-type'] || 'text/plain';
  const boundary = /boundary="?([^";]+)"?/i.exec(contentType);
  let parts;
  if (boundary) {
    parts = body
      .split(`--${boundary[1]}`)
      .slice(1, -1)
      .map((chunk) => {
        const part = splitHead(chunk.replace(/^\r\n/, ''));
        const text = decodeBody(part.body.replace(/\r\n$/, ''), part.headers['content-transfer-encoding']);
        return { contentType: part.headers['content-type'], text };
      });
  } else {
    parts = [{ contentType, text: decodeBody(body, headers['content-transfer-encoding']) }];
  }
  return { headers: decoded, contentType, parts };
}

module.exports = { startSmtp, makeTls, parseMail, decodeWords };
