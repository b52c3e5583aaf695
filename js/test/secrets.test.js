'use strict';
// Secrets never leave the engine: one send, in a child process (as a QingLong script runs it), to many
// secret-bearing channels that all fail — refused connections, and a vendor that echoes the whole
// request (URL with its token, headers, body) back in its error message. Nothing secret may show in
// the results, stdout or stderr, in any form it travelled in.

const assert = require('node:assert/strict');
const { after, before, test } = require('node:test');

const { send } = require('../src');
const {
  captureStderr,
  closedPort,
  fakeRetryPace,
  json,
  runNode,
  startConnectProxy,
  startVendor,
  withProcessEnv,
} = require('../test-helpers');

// Retry waits (refused connections are tried again) pass on a fake clock.
fakeRetryPace();

const FIELDS = ['errmsg', 'msg', 'message', 'description', 'error', 'errMsg', 'reason', 'errorDescription'];

/** Answers 400 with the request echoed in every field a vendor explains an error in. */
function echo(req, res, received) {
  const echoed = `${received.method} ${received.path} ${JSON.stringify(received.headers)} ${received.body}`;
  const payload = { errcode: 1, code: 1, ok: false, ...Object.fromEntries(FIELDS.map((f) => [f, echoed])) };
  res.writeHead(400, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(payload));
}

let vendor;
let proxy;
before(async () => {
  [vendor, proxy] = await Promise.all([startVendor(), startConnectProxy()]);
  vendor.route('/', echo);
});
after(() => Promise.all([vendor.close(), proxy.close()]));

const SECRETS = {
  GOTIFY_TOKEN: 'gotify_secret_A1',
  TG_BOT_TOKEN: '777000:tg_secret_B2',
  TG_PROXY_AUTH: 'proxy_user:proxy_secret_C3',
  NTFY_PASSWORD: 'ntfy_secret_E5',
  DEER_KEY: 'PDU_secret_F6',
  QYWX_AM: 'ww_corp,wecom_secret_G7,@all,1000002',
  WEBHOOK_URL: 'webhook_secret_H8',
  WEBHOOK_HEADERS: 'webhook_header_secret_I9',
  SMTP_PASSWORD: 'smtp secret/J0?&',
  PUSHME_KEY: 'pushme_secret_K1',
  QYWX_KEY: 'wecom_bot_secret_L2',
  OPENILINK_APP_TOKEN: 'openilink_secret_M3',
};

test('a failing send to many secret-bearing channels shows no secret in results, stdout or stderr', async () => {
  const dead = await closedPort();
  const env = {
    HITOKOTO: 'false',
    GOTIFY_URL: `http://127.0.0.1:${dead}`,
    GOTIFY_TOKEN: SECRETS.GOTIFY_TOKEN,
    TG_BOT_TOKEN: SECRETS.TG_BOT_TOKEN,
    TG_USER_ID: '42',
    TG_API_HOST: vendor.url,
    TG_PROXY_HOST: '127.0.0.1',
    TG_PROXY_PORT: String(proxy.port),
    TG_PROXY_AUTH: SECRETS.TG_PROXY_AUTH,
    NTFY_URL: vendor.url,
    NTFY_TOPIC: 'alerts',
    NTFY_USERNAME: 'ntfy_user',
    NTFY_PASSWORD: SECRETS.NTFY_PASSWORD,
    DEER_KEY: SECRETS.DEER_KEY,
    DEER_URL: `${vendor.url}/message/push`,
    QYWX_AM: SECRETS.QYWX_AM,
    QYWX_KEY: SECRETS.QYWX_KEY,
    QYWX_ORIGIN: vendor.url,
    WEBHOOK_URL: `${vendor.url}/hook/${SECRETS.WEBHOOK_URL}?t=$title`,
    WEBHOOK_HEADERS: `Authorization: Bearer ${SECRETS.WEBHOOK_HEADERS}`,
    WEBHOOK_CONTENT_TYPE: 'application/json',
    WEBHOOK_BODY: 'title: $title\ncontent: $content',
    SMTP_SERVER: `127.0.0.1:${dead}`,
    SMTP_EMAIL: 'bot@x.test',
    SMTP_PASSWORD: SECRETS.SMTP_PASSWORD,
    PUSHME_KEY: SECRETS.PUSHME_KEY,
    PUSHME_URL: `${vendor.url}/pushme`,
    OPENILINK_APP_TOKEN: SECRETS.OPENILINK_APP_TOKEN,
    OPENILINK_HUB_URL: vendor.url,
  };
  // The refused channels are tried again; their waits pass at once (the jitter drawn at 0), but the
  // retries' log lines are written, and checked below like every other line.
  const child = await runNode(
    `Object.assign(require('./src/retry').PACE, { sleep: async () => {}, random: () => 0 });
    require('./sendNotify').sendNotify('t', 'c').then((result) => { report(result.toJSON()); console.log(JSON.stringify(result)); });`,
    env,
  );
  assert.equal(child.code, 0, child.stderr);

  const statuses = Object.fromEntries(child.report.channels.map((r) => [r.channel, r.status]));
  assert.deepEqual(statuses, {
    gotify: 'network_error',
    ntfy: 'rejected',
    openilink: 'rejected',
    pushdeer: 'rejected',
    pushme: 'rejected',
    smtp: 'network_error',
    telegram: 'rejected',
    webhook: 'rejected',
    wecom_app: 'rejected',
    wecom_bot: 'rejected',
  });
  // The vendor really did get the secrets and echo them; what it echoed came back masked.
  const wire = JSON.stringify(vendor.received);
  for (const name of [
    'TG_BOT_TOKEN',
    'DEER_KEY',
    'WEBHOOK_URL',
    'WEBHOOK_HEADERS',
    'PUSHME_KEY',
    'QYWX_KEY',
    'OPENILINK_APP_TOKEN',
  ]) {
    assert.ok(wire.includes(SECRETS[name]), `${name} never reached the vendor`);
  }
  assert.ok(wire.includes('wecom_secret_G7'));
  for (const entry of child.report.channels.filter((r) => r.status === 'rejected')) {
    assert.match(entry.error, /\*\*\*/, `${entry.channel}: ${entry.error}`);
  }
  assert.equal(proxy.connects[0].authorization, `Basic ${Buffer.from(SECRETS.TG_PROXY_AUTH).toString('base64')}`);

  const shown = `${child.stdout}\n${child.stderr}\n${JSON.stringify(child.report)}`;
  assert.match(child.stderr, /WARNING Gotify: network_error/); // the failures were logged
  assert.match(child.stderr, /INFO Gotify: connection refused .*; trying again in 1 s/); // and the retries
  const forms = (secret) => [secret, encodeURIComponent(secret), Buffer.from(secret).toString('base64')];
  const secrets = [...Object.values(SECRETS), 'wecom_secret_G7', 'proxy_secret_C3', 'ntfy_user:ntfy_secret_E5'];
  for (const secret of secrets) {
    for (const form of forms(secret)) assert.ok(!shown.includes(form), `${form} leaked:\n${shown}`);
  }
});

test('the device key in a self-hosted BARK_PUSH URL is masked when the Bark server names it in its error', async (t) => {
  const bark = await startVendor();
  t.after(() => bark.close());
  // What bark-server answers for an unknown device key.
  bark.route(
    '/',
    json(400, {
      code: 400,
      message: 'failed to get device token: failed to get [bark_secret_D4] device token from database',
    }),
  );
  const { value: result, stderr } = await captureStderr(() =>
    send('t', 'c', { env: { HITOKOTO: 'false', BARK_PUSH: `${bark.url}/bark_secret_D4` } }),
  );
  assert.equal(result.get('bark').status, 'rejected');
  assert.ok(!JSON.stringify(result).includes('bark_secret_D4'), result.get('bark').error);
  assert.ok(!stderr.includes('bark_secret_D4'));
});

// ---- masking hides secrets, not words (issue 11, item 5); python/tests/test_secrets.py has the same ----

const net = require('node:net');
const { MockAgent } = require('undici');
const { useDispatcher } = require('../src/transports/http');
const { MASK, REGISTRY, Redactor, isToken, processRedactor } = require('../src/redact');
const { TokenCache } = require('../src/tokens');
const log = require('../src/log');

/** One send with every request answered `status` with `body`; returns [result, stderr]. */
async function sendTo(env, body, status = 400) {
  const server = await startVendor();
  try {
    server.route('/', json(status, body));
    const filled = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v.replace('{vendor}', server.url)]));
    const { value, stderr } = await captureStderr(() => send('t', 'c', { env: { HITOKOTO: 'false', ...filled } }));
    return [value, stderr, server.url];
  } finally {
    await server.close();
  }
}

test('a secret webhook URL masks its token, not the word webhook', async () => {
  const token = 'Zq8x3Lw0Pq7TbN2mYc';
  const [result, , url] = await sendTo(
    { WEBHOOK_URL: `{vendor}/webhook/${token}?text=$title` },
    { error: `webhook ${token} unknown at http://h.example/webhook/${token}` },
  );
  const { error } = result.get('webhook');
  assert.ok(url);
  assert.ok(!error.includes(token), error);
  assert.ok(error.includes('webhook *** unknown at http://h.example/webhook/***'), error);
  assert.deepEqual(
    result.toJSON().channels.map((c) => c.channel),
    ['webhook'],
  );
});

test('a one-letter secret is masked only where it stands alone', async () => {
  const env = { CHAT_URL: '{vendor}/webapi/entry.cgi?api=SYNO.Chat.External&token=', CHAT_TOKEN: 'c' };
  const [result] = await sendTo(env, { success: false, error: { errors: 'channel c: access denied' } }, 200);
  assert.ok(
    result.get('synology_chat').error.endsWith('channel ***: access denied'),
    result.get('synology_chat').error,
  );
  const { stderr } = await captureStderr(async () => log.warning('connecting to c, then c.example.com: success'));
  assert.match(stderr, /connecting to \*\*\*, then \*\*\*\.example\.com: success/);
});

const TOKEN_TABLE = [
  ['webhook', false],
  ['hooks', false],
  ['api', false],
  ['send', false],
  ['v1', false],
  ['V2', false],
  ['bot', false],
  ['services', false],
  ['sendMessage', false],
  ['2016-06-01', false],
  ['json', false],
  ['T0AAA1111', true],
  ['abc123', true],
  ['x1', true],
  ['abcdefghijklmnop', true],
  ['abcdefghijklmno', false],
  ['send_private_msg', true],
  ['---', false],
  ['1234567890123456', true],
];

test('which URL pieces are tokens (the table python/tests/test_secrets.py checks)', () => {
  for (const [piece, token] of TOKEN_TABLE) assert.equal(isToken(piece), token, piece);
});

test('redaction rules', () => {
  // A short secret only as a whole token; a long one anywhere.
  assert.equal(new Redactor(['ab1']).text('ab1 cab1 ab1x (ab1) ab1-2 ab1.'), '*** cab1 ab1x (***) ab1-2 ***.');
  assert.equal(new Redactor(['longsecret99']).text('xlongsecret99y'), 'x***y');
  // Overlapping secrets are masked as one: neither half stays visible.
  assert.equal(new Redactor(['abcdef12', 'ef12ghij34']).text('xabcdef12ghij34y'), 'x***y');
  // Channel ids, status words and field names are never masked, nor keys of a tree.
  assert.equal(new Redactor(['webhook', 'rejected', 'e']).text('webhook rejected: e'), 'webhook rejected: ***');
  assert.deepEqual(new Redactor(['e']).tree({ channel: 'e', ok: 'e x' }), { channel: MASK, ok: '*** x' });
  assert.deepEqual(new Redactor(['longsecret99']).tree({ longsecret99: 1 }), { [MASK]: 1 });
  // A URL secret: its credential parts, never the scheme, host or path words.
  const slack = 'https://hooks.slack.com/services/T0AAA1111/B0BBB2222/abcdefghijklmnopqrstuvwx';
  assert.equal(
    new Redactor([slack]).text(`POST ${slack} failed`),
    'POST https://hooks.slack.com/services/***/***/*** failed',
  );
  const bark = 'https://bark.example.com/onlyletterskey';
  assert.equal(new Redactor([bark]).text(`${bark}/title`), 'https://bark.example.com/***/title');
});

// ---- secrets in other shapes (issue 11, item 16) ----

test('the password of TG_PROXY_AUTH is masked alone and as Basic auth', async () => {
  const password = 'hunter2pass';
  const basic = Buffer.from(`puser:${password}`).toString('base64');
  const env = {
    TG_BOT_TOKEN: '777000:tg_secret_shape',
    TG_USER_ID: '1',
    TG_API_HOST: '{vendor}',
    TG_PROXY_HOST: '127.0.0.1',
    TG_PROXY_PORT: String(proxy.port),
    TG_PROXY_AUTH: `puser:${password}`,
  };
  const [result, stderr] = await sendTo(
    env,
    { ok: false, description: `proxy refused password ${password} (Basic ${basic})` },
    401,
  );
  const shown = JSON.stringify(result) + stderr;
  assert.ok(!shown.includes(password) && !shown.includes(basic.replace(/=+$/, '')), shown);
  assert.ok(
    result.get('telegram').error.includes('proxy refused password *** (Basic ***'),
    result.get('telegram').error,
  );
  const { stderr: logged } = await captureStderr(async () => log.warning(`proxy said ${password} / ${basic}`));
  assert.ok(!logged.includes(password) && !logged.includes(basic), logged);
});

test('a webhook header token is masked with and without its scheme', async () => {
  const token = 'tok_9f8e7d6c5b4a';
  const env = {
    WEBHOOK_URL: '{vendor}/notify?text=$title',
    WEBHOOK_HEADERS: `Content-Type: application/json\nAuthorization: Bearer ${token}`,
  };
  const [result, stderr] = await sendTo(env, { error: `HTTP 401: token ${token} is revoked (application/json)` }, 401);
  assert.ok(!(JSON.stringify(result) + stderr).includes(token));
  assert.ok(
    result.get('webhook').error.includes('token *** is revoked (application/json)'),
    result.get('webhook').error,
  );
  const { stderr: logged } = await captureStderr(async () => log.warning(`header token ${token}`));
  assert.ok(!logged.includes(token), logged);
});

test('proxy credentials from the environment are masked', async () => {
  await withProcessEnv({ HTTPS_PROXY: 'http://pxuser:pxpass_77aa@127.0.0.1:3128', NO_PROXY: '127.0.0.1' }, async () => {
    const [result, stderr] = await sendTo(
      { DEER_KEY: 'PDU_proxy_case_1', DEER_URL: '{vendor}/message/push' },
      { error: 'proxy auth pxpass_77aa failed' },
    );
    assert.ok(!(JSON.stringify(result) + stderr).includes('pxpass_77aa'));
    assert.ok(result.get('pushdeer').error.includes('proxy auth *** failed'), result.get('pushdeer').error);
    const { stderr: logged } = await captureStderr(async () =>
      log.warning('via http://pxuser:pxpass_77aa@127.0.0.1:3128'),
    );
    assert.ok(!logged.includes('pxpass_77aa'), logged);
  });
});

test('userinfo in a URL setting that is not secret is masked', async () => {
  const server = await startVendor();
  try {
    server.route('/', json(403, { error: 'user nuser:npw_5566x is not allowed' }));
    const url = server.url.replace('http://', 'http://nuser:npw_5566x@');
    const { value: result, stderr } = await captureStderr(() =>
      send('t', 'c', { env: { HITOKOTO: 'false', NTFY_URL: url, NTFY_TOPIC: 'alerts' } }),
    );
    assert.ok(!(JSON.stringify(result) + stderr).includes('npw_5566x'));
    assert.ok(result.get('ntfy').error.includes('is not allowed'), result.get('ntfy').error);
  } finally {
    await server.close();
  }
});

test('a secret echoed in another encoding is masked', async () => {
  const key = 'PDU12ab/cd+ef=gh ij';
  const pctUpper = encodeURIComponent(key);
  const shapes = {
    base64: Buffer.from(key).toString('base64'),
    base64url: Buffer.from(key).toString('base64url'),
    'pct-lower': pctUpper.replace(/%[0-9A-F]{2}/g, (h) => h.toLowerCase()),
    'pct-upper': pctUpper,
    'pct-twice': encodeURIComponent(pctUpper),
    json: JSON.stringify(key).slice(1, -1),
    plus: pctUpper.replace(/%20/g, '+'),
  };
  for (const [shape, echoed] of Object.entries(shapes)) {
    const [result] = await sendTo(
      { DEER_KEY: key, DEER_URL: '{vendor}/message/push' },
      { error: `bad key [${echoed}]` },
    );
    assert.ok(result.get('pushdeer').error.endsWith('bad key [***]'), `${shape}: ${result.get('pushdeer').error}`);
  }
});

test('each key of a comma-separated list is a secret', async () => {
  const [result] = await sendTo(
    { DEER_KEY: 'PDU1aaaaaa,PDU2bbbbbb', DEER_URL: '{vendor}/message/push' },
    { error: 'unknown key PDU2bbbbbb' },
  );
  assert.ok(result.get('pushdeer').error.endsWith('unknown key ***'), result.get('pushdeer').error);
});

/** A careless SMTP server: offers AUTH PLAIN without TLS and repeats the AUTH line in its 535. */
async function echoingSmtp() {
  const authLines = [];
  const server = net.createServer((socket) => {
    socket.write('220 echo ESMTP\r\n');
    let buffered = '';
    socket.on('data', (chunk) => {
      buffered += chunk.toString('utf8');
      let end;
      while ((end = buffered.indexOf('\r\n')) >= 0) {
        const line = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        const verb = line.toUpperCase();
        if (verb.startsWith('EHLO') || verb.startsWith('HELO')) socket.write('250-echo\r\n250 AUTH PLAIN\r\n');
        else if (verb.startsWith('AUTH')) {
          authLines.push(line);
          socket.write(`535 5.7.8 rejected: ${line}\r\n`);
        } else if (verb.startsWith('QUIT')) socket.end('221 bye\r\n');
        else socket.write('503 no\r\n');
      }
    });
    socket.on('error', () => {});
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: server.address().port, authLines, close: () => new Promise((resolve) => server.close(resolve)) };
}

test('an SMTP AUTH PLAIN echo is masked', async () => {
  const server = await echoingSmtp();
  try {
    const password = 'smtp-pass-Q1w2';
    const env = {
      HITOKOTO: 'false',
      SMTP_SERVER: `127.0.0.1:${server.port}`,
      SMTP_EMAIL: 'bot@x.test',
      SMTP_PASSWORD: password,
      SMTP_ALLOW_PLAINTEXT: 'true',
    };
    const { value: result, stderr } = await captureStderr(() => send('t', 'c', { env }));
    const blob = Buffer.from(`\0bot@x.test\0${password}`).toString('base64');
    assert.deepEqual(server.authLines, [`AUTH PLAIN ${blob}`]); // the blob really went out and came back
    const shown = JSON.stringify(result) + stderr;
    assert.ok(!shown.includes(blob.replace(/=+$/, '')) && !shown.includes(password), shown);
    assert.ok(result.get('smtp').error.includes('rejected: AUTH PLAIN ***'), result.get('smtp').error);
  } finally {
    await server.close();
  }
});

// ---- per-message secrets live only as long as their message (issue 11, item 20) ----

test('many signed messages keep the process registry bounded', async (t) => {
  // Feishu's host is fixed in its spec: an undici MockAgent plays it, refusing the signature and naming it.
  const agent = new MockAgent();
  agent.disableNetConnect();
  const signatures = [];
  agent
    .get('https://open.feishu.cn')
    .intercept({ path: '/open-apis/bot/v2/hook/feishu_hook_registry_1', method: 'POST' })
    .reply(200, (opts) => {
      signatures.push(JSON.parse(String(opts.body)).sign);
      return { code: 19021, msg: `sign ${signatures.at(-1)} not match` };
    })
    .persist();
  useDispatcher(agent);
  t.after(() => {
    useDispatcher(null);
    return agent.close();
  });
  const env = { FSKEY: 'feishu_hook_registry_1', FSSECRET: 'feishu_sign_secret_1', HITOKOTO: 'false' };
  const sendAt = async (now) => (await captureStderr(() => send('t', 'c', { env, now }))).value;
  await sendAt(1_700_000_000);
  const held = REGISTRY.size;
  for (let i = 1; i < 300; i += 1) {
    const result = await sendAt(1_700_000_000 + i);
    // Each message's own redactor masks its signature in its result.
    assert.ok(result.get('feishu').error.endsWith('sign *** not match'), result.get('feishu').error);
  }
  assert.equal(new Set(signatures).size, 300);
  assert.equal(REGISTRY.size, held);
  // ... and the logger does not know them: they were never long-lived.
  assert.equal(processRedactor().text(signatures.at(-1)), signatures.at(-1));
});

test('a fetched token is in the registry only while cached', () => {
  let now = 0;
  const cache = new TokenCache(() => now);
  const held = REGISTRY.size;
  cache.put('corp:secret', 'fetched_token_AAA1', 7200);
  assert.equal(REGISTRY.size, held + 1);
  assert.equal(processRedactor().text('fetched_token_AAA1'), MASK);
  cache.put('corp:secret', 'fetched_token_BBB2', 7200); // refreshed: the old one is gone
  assert.equal(REGISTRY.size, held + 1);
  assert.equal(processRedactor().text('fetched_token_AAA1'), 'fetched_token_AAA1');
  now = 10_000;
  assert.equal(cache.get('corp:secret'), null);
  assert.equal(REGISTRY.size, held);
});

test('redaction both runtimes agree on (conformance/redaction.json, checked by python/tests/test_secrets.py too)', () => {
  const { cases } = JSON.parse(
    require('node:fs').readFileSync(
      require('node:path').join(__dirname, '..', '..', 'conformance', 'redaction.json'),
      'utf8',
    ),
  );
  assert.ok(cases.length >= 10);
  for (const { secrets, text, masked } of cases) assert.equal(new Redactor(secrets).text(text), masked, text);
});
