'use strict';
// The SMTP channel end to end (nodemailer) against a real SMTP server (smtp-server) on 127.0.0.1.
// TLS tests send from a child process started with NODE_EXTRA_CA_CERTS naming a CA made for this run,
// the one way to make Node's default trust store accept it; the server runs here and records.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { after, before, describe, test } = require('node:test');

const { send } = require('../src');
const { closedPort, captureStderr, fakeRetryPace, runNode } = require('../test-helpers');
const { makeTls, parseMail, startSmtp } = require('../test-helpers/mail');

// Retry waits (refused connections are tried again) pass on a fake clock.
fakeRetryPace();

const USER = 'bot+push@x.test';
const PASSWORD = 'p@ss:w/rd %?#&=1'; // every character that must survive the smtp://user:password@ URL

let tls;
let caFile;
const servers = [];

before(async () => {
  tls = await makeTls();
  caFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-push-ca-')), 'ca.pem');
  fs.writeFileSync(caFile, tls.caCert);
});

after(async () => {
  await Promise.all(servers.map((s) => s.close()));
  fs.rmSync(path.dirname(caFile), { recursive: true, force: true });
});

async function smtp(mode, options = {}) {
  const server = await startSmtp(mode, { user: USER, password: PASSWORD, tls, ...options });
  servers.push(server);
  return server;
}

const config = (address, extra = {}) => ({
  HITOKOTO: 'false',
  SMTP_SERVER: address,
  SMTP_EMAIL: USER,
  SMTP_PASSWORD: PASSWORD,
  ...extra,
});

/** Sends from a child process; trustCa adds the test CA through NODE_EXTRA_CA_CERTS. Resolves to the smtp result. */
async function sendInChild(title, content, env, { trustCa = true } = {}) {
  const code = `require('./src').send(${JSON.stringify(title)}, ${JSON.stringify(content)}, { env: ${JSON.stringify(env)} })
    .then((result) => report(result.toJSON()));`;
  const child = await runNode(code, trustCa ? { NODE_EXTRA_CA_CERTS: caFile } : {});
  assert.equal(child.code, 0, child.stderr);
  const [entry] = child.report.channels;
  assert.equal(entry.channel, 'smtp');
  return entry;
}

// Each test has its own server; they wait on sockets and child processes, so they run concurrently.
describe('smtp', { concurrency: true, timeout: 20_000 }, () => {
  test('implicit TLS delivers one authenticated message with CJK subject, sender name, text and HTML parts', async () => {
    const server = await smtp('implicit');
    const title = '部署完成 ✅ Deploy';
    const content = 'line <b>1</b> & "quoted"\n第二行 🚀';
    const result = await sendInChild(
      title,
      content,
      config(server.address, { SMTP_SSL: 'true', SMTP_NAME: 'Bot 机器人' }),
    );

    assert.deepEqual(
      { ok: result.ok, status: result.status, http_status: result.http_status, error: result.error },
      { ok: true, status: 'delivered', http_status: 250, error: null },
    );
    assert.equal(server.auths.length, 1);
    const [auth] = server.auths;
    assert.deepEqual([auth.username, auth.password, auth.secure], [USER, PASSWORD, true]);
    assert.ok(['PLAIN', 'LOGIN'].includes(auth.method), auth.method);
    assert.equal(server.messages.length, 1);
    const [message] = server.messages;
    assert.deepEqual([message.mailFrom, message.rcptTo, message.secure], [USER, [USER], true]);
    const mail = parseMail(message.raw);
    assert.equal(mail.headers.subject, title);
    assert.equal(mail.headers.from, `Bot 机器人 <${USER}>`);
    assert.equal(mail.headers.to, USER);
    assert.match(mail.contentType, /^multipart\/alternative;/);
    assert.equal(mail.parts.length, 2);
    const [plain, html] = mail.parts;
    assert.match(plain.contentType, /^text\/plain; charset=utf-8/);
    assert.equal(plain.text, content.replace(/\n/g, '\r\n'));
    assert.match(html.contentType, /^text\/html; charset=utf-8/);
    assert.equal(html.text, 'line &lt;b&gt;1&lt;/b&gt; &amp; &quot;quoted&quot;<br/>第二行 🚀');
  });

  test('STARTTLS is used before AUTH when the server offers it', async () => {
    const server = await smtp('starttls'); // refuses AUTH until the connection is upgraded
    const result = await sendInChild('t', 'c', config(server.address));
    assert.deepEqual([result.ok, result.status], [true, 'delivered']);
    assert.deepEqual(server.events, ['AUTH', 'DATA']);
    assert.deepEqual(
      server.auths.map((a) => [a.username, a.password, a.secure]),
      [[USER, PASSWORD, true]],
    );
    assert.equal(server.messages[0].secure, true);
  });

  for (const [mode, ssl] of [
    ['implicit', 'true'],
    ['starttls', 'false'],
  ]) {
    test(`${mode}: a certificate from a CA the client does not trust is refused before the password is sent`, async () => {
      const server = await smtp(mode);
      const result = await sendInChild('t', 'c', config(server.address, { SMTP_SSL: ssl }), { trustCa: false });
      assert.deepEqual([result.ok, result.status, result.http_status], [false, 'network_error', null]);
      assert.match(result.error, /certificate/i);
      assert.deepEqual([server.auths, server.messages], [[], []]);
    });
  }

  test('a server without TLS gets no password unless SMTP_ALLOW_PLAINTEXT is true', async () => {
    const server = await smtp('plain'); // no STARTTLS; would accept AUTH in the clear
    const { value: sent, stderr } = await captureStderr(() => send('t', 'c', { env: config(server.address) }));
    const result = sent.get('smtp');
    assert.deepEqual([result.ok, result.status], [false, 'config_error']);
    assert.match(result.error, /SMTP_ALLOW_PLAINTEXT/);
    assert.deepEqual([server.auths, server.messages], [[], []]);
    assert.ok(!stderr.includes(PASSWORD));
  });

  test('with SMTP_ALLOW_PLAINTEXT=true a server without TLS gets AUTH in the clear and the message', async () => {
    const server = await smtp('plain');
    const result = (await send('t', 'c', { env: config(server.address, { SMTP_ALLOW_PLAINTEXT: 'true' }) })).get(
      'smtp',
    );
    assert.deepEqual([result.ok, result.status, result.http_status], [true, 'delivered', 250]);
    assert.deepEqual(server.events, ['AUTH', 'DATA']);
    assert.deepEqual(
      server.auths.map((a) => [a.username, a.password, a.secure]),
      [[USER, PASSWORD, false]],
    );
  });

  test("a wrong password is rejected with the server's 535, the password in neither result nor log", async () => {
    const server = await smtp('plain');
    const wrong = 'wrong-secret-42';
    const { value: sent, stderr } = await captureStderr(() =>
      send('t', 'c', { env: config(server.address, { SMTP_ALLOW_PLAINTEXT: 'true', SMTP_PASSWORD: wrong }) }),
    );
    const result = sent.get('smtp');
    assert.deepEqual([result.ok, result.status, result.http_status], [false, 'rejected', 535]);
    assert.match(result.error, /535/);
    assert.deepEqual(
      server.auths.map((a) => a.password),
      [wrong],
    ); // it really was sent
    assert.deepEqual(server.messages, []);
    assert.ok(!JSON.stringify(sent).includes(wrong));
    assert.match(stderr, /rejected: HTTP 535: .*Authentication credentials invalid/); // the failure is logged …
    assert.ok(!stderr.includes(wrong)); // … without the password
  });

  test('a password the server echoes back in its 535 reply is masked', async () => {
    const server = await smtp('plain', { echoCredentials: true });
    const wrong = 'wrong-secret-42';
    const { value: sent, stderr } = await captureStderr(() =>
      send('t', 'c', { env: config(server.address, { SMTP_ALLOW_PLAINTEXT: 'true', SMTP_PASSWORD: wrong }) }),
    );
    const result = sent.get('smtp');
    assert.deepEqual([result.status, result.http_status], ['rejected', 535]);
    assert.match(result.error, /bad login .*\*\*\*/); // the reply did carry it, masked
    assert.ok(!JSON.stringify(sent).includes(wrong));
    assert.ok(!stderr.includes(wrong));
  });

  test('a non-ASCII password logs in as UTF-8', async () => {
    const password = 'pässwörd 密码';
    const server = await smtp('plain', { password });
    const result = (
      await send('t', 'c', { env: config(server.address, { SMTP_ALLOW_PLAINTEXT: 'true', SMTP_PASSWORD: password }) })
    ).get('smtp');
    assert.deepEqual([result.ok, result.status], [true, 'delivered']);
    assert.deepEqual(
      server.auths.map((a) => a.password),
      [password],
    );
  });

  test('SMTP_EMAIL_TO lists every recipient, split on ASCII and full-width semicolons', async () => {
    const server = await smtp('plain');
    const env = config(server.address, { SMTP_ALLOW_PLAINTEXT: 'true', SMTP_EMAIL_TO: 'a@x.test;b@x.test；c@x.test' });
    const result = (await send('t', 'c', { env })).get('smtp');
    assert.equal(result.ok, true);
    const [message] = server.messages;
    assert.deepEqual(message.rcptTo, ['a@x.test', 'b@x.test', 'c@x.test']);
    assert.equal(parseMail(message.raw).headers.to, 'a@x.test, b@x.test, c@x.test');
  });

  for (const mode of ['plain', 'starttls']) {
    test(`${mode}: a relay that needs no login gets no AUTH when SMTP_PASSWORD is not set`, async () => {
      const server = await smtp(mode, { authOptional: true });
      const env = { HITOKOTO: 'false', SMTP_SERVER: server.address, SMTP_EMAIL: USER };
      const result = mode === 'plain' ? (await send('t', 'c', { env })).get('smtp') : await sendInChild('t', 'c', env);
      assert.deepEqual([result.ok, result.status, result.error], [true, 'delivered', null]);
      assert.deepEqual(server.events, ['DATA']); // onAuth was never called: no AUTH command was sent
      assert.deepEqual(server.auths, []);
      assert.deepEqual([server.messages[0].mailFrom, server.messages[0].rcptTo], [USER, [USER]]);
    });
  }

  test('a title with Unicode line breaks (VT, FF, NEL, U+2028 ...) arrives as a one-line subject, as in Python', async () => {
    const server = await smtp('plain');
    const env = config(server.address, { SMTP_ALLOW_PLAINTEXT: 'true' });
    const result = (await send('a\vb\fc\x85d\u2028e\u2029f\x1cg\r\nh', 'c', { env })).get('smtp');
    assert.deepEqual([result.ok, result.status], [true, 'delivered']);
    assert.equal(parseMail(server.messages[0].raw).headers.subject, 'a b c d e f g h');
  });

  test('a line break in the title cannot add a header: the subject stays one line', async () => {
    const server = await smtp('plain');
    const env = config(server.address, { SMTP_ALLOW_PLAINTEXT: 'true' });
    const result = (await send('Report\r\nBcc: eve@x.test', 'c', { env })).get('smtp');
    assert.equal(result.ok, true);
    const [message] = server.messages;
    assert.deepEqual(message.rcptTo, [USER]);
    const mail = parseMail(message.raw);
    assert.equal(mail.headers.subject, 'Report Bcc: eve@x.test');
    assert.equal(mail.headers.bcc, undefined);
  });

  test('a refused connection is a network_error without the password', async () => {
    const env = config(`127.0.0.1:${await closedPort()}`);
    const result = (await captureStderr(() => send('t', 'c', { env }))).value.get('smtp');
    assert.deepEqual([result.ok, result.status, result.http_status], [false, 'network_error', null]);
    assert.match(result.error, /^SMTP connection failed: .*(ECONNREFUSED|connection refused)/i); // no class name
    assert.ok(!result.error.includes(PASSWORD) && !result.error.includes('rd%20%25'));
  });
});

// Alone, after the concurrent suite: the silent server holds the connection until the test's end, so the send
// can only have been ended by its timeout.
describe('smtp timeout', () => {
  test('a server that accepts the connection but never greets times out within MCP_PUSH_TIMEOUT', async (t) => {
    const held = [];
    const silent = net.createServer((socket) => held.push(socket));
    await new Promise((resolve) => silent.listen(0, '127.0.0.1', resolve));
    t.after(() => {
      for (const socket of held) socket.destroy();
      silent.close();
    });
    const env = config(`127.0.0.1:${silent.address().port}`, { MCP_PUSH_TIMEOUT: '0.5' });
    const result = (await captureStderr(() => send('t', 'c', { env }))).value.get('smtp');
    assert.equal(held.length, 1); // the connection was made; the silence is what timed out
    assert.deepEqual(
      [result.ok, result.status, result.error],
      [false, 'timeout', 'SMTP server gave no reply within 0.5 s'],
    );
  });
});
