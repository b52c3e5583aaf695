'use strict';
// Secrets never leave the engine: one send, in a child process (as a QingLong script runs it), to many
// secret-bearing channels that all fail — refused connections, and a vendor that echoes the whole
// request (URL with its token, headers, body) back in its error message. Nothing secret may show in
// the results, stdout or stderr, in any form it travelled in.

const assert = require('node:assert/strict');
const { after, before, test } = require('node:test');

const { send } = require('../src');
const { captureStderr, closedPort, fakeRetryPace, json, runNode, startConnectProxy, startVendor } = require('../test-helpers');

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
  for (const name of ['TG_BOT_TOKEN', 'DEER_KEY', 'WEBHOOK_URL', 'WEBHOOK_HEADERS', 'PUSHME_KEY', 'QYWX_KEY', 'OPENILINK_APP_TOKEN']) {
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
  bark.route('/', json(400, { code: 400, message: 'failed to get device token: failed to get [bark_secret_D4] device token from database' }));
  const { value: result, stderr } = await captureStderr(() =>
    send('t', 'c', { env: { HITOKOTO: 'false', BARK_PUSH: `${bark.url}/bark_secret_D4` } }),
  );
  assert.equal(result.get('bark').status, 'rejected');
  assert.ok(!JSON.stringify(result).includes('bark_secret_D4'), result.get('bark').error);
  assert.ok(!stderr.includes('bark_secret_D4'));
});
