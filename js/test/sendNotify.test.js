'use strict';
// The QingLong drop-in: sendNotify(text, desp, params) reads process.env and resolves to per-channel
// results; params go into Bark's and PushMe's bodies and iGot's form. Vendors are loopback servers.

const assert = require('node:assert/strict');
const { after, before, test } = require('node:test');
const { MockAgent } = require('undici');

const { sendNotify, plan } = require('../sendNotify');
const { useDispatcher } = require('../src');
const {
  captureStderr,
  closedPort,
  fakeRetryPace,
  json,
  startVendor,
  text,
  withProcessEnv,
} = require('../test-helpers');

// Retry waits (refused connections are tried again) pass on a fake clock.
fakeRetryPace();

let vendor;
before(async () => {
  vendor = await startVendor();
});
after(() => vendor.close());

/** sendNotify with exactly `vars` as mcp-push's process.env (HITOKOTO off), stderr captured. */
async function notify(vars, ...args) {
  vendor.received.length = 0;
  return withProcessEnv({ HITOKOTO: 'false', ...vars }, () => captureStderr(() => sendNotify(...args)));
}

// Python: dataclasses.asdict(ChannelResult) and SendResult.to_dict(), field for field, in this order.
const PY_RESULT_KEYS = ['ok', 'skipped', 'channels'];
const PY_CHANNEL_KEYS = [
  'channel',
  'ok',
  'status',
  'error',
  'attempts',
  'elapsed_ms',
  'http_status',
  'parts',
  'truncated',
];

test("sendNotify resolves to per-channel results with the JSON shape of Python's SendResult.to_dict()", async () => {
  vendor.route(
    '/gotify/',
    json(401, { error: 'Unauthorized', errorCode: 401, errorDescription: 'you need to provide a valid access token' }),
  );
  const { value: result } = await notify(
    { NTFY_URL: vendor.url, NTFY_TOPIC: 'jobs', GOTIFY_URL: `${vendor.url}/gotify`, GOTIFY_TOKEN: 'gotify_tok_1' },
    'Job done',
    'all good',
  );
  const data = JSON.parse(JSON.stringify(result));
  assert.deepEqual(Object.keys(data), PY_RESULT_KEYS);
  for (const entry of data.channels) assert.deepEqual(Object.keys(entry), PY_CHANNEL_KEYS);
  assert.equal(data.ok, true); // at least one channel delivered
  assert.equal(data.skipped, null);
  const [gotify, ntfy] = data.channels; // spec order
  assert.deepEqual(
    { ...gotify, elapsed_ms: 0 },
    {
      channel: 'gotify',
      ok: false,
      status: 'rejected',
      error: 'HTTP 401: you need to provide a valid access token',
      attempts: 1,
      elapsed_ms: 0,
      http_status: 401,
      parts: 1,
      truncated: false,
    },
  );
  assert.deepEqual(
    { ...ntfy, elapsed_ms: 0 },
    {
      channel: 'ntfy',
      ok: true,
      status: 'delivered',
      error: null,
      attempts: 1,
      elapsed_ms: 0,
      http_status: 200,
      parts: 1,
      truncated: false,
    },
  );
  for (const entry of data.channels) assert.ok(Number.isInteger(entry.elapsed_ms) && entry.elapsed_ms >= 0);
});

test('sendNotify reads process.env afresh on every call', async () => {
  const { value: first } = await notify({ NTFY_URL: vendor.url, NTFY_TOPIC: 'first' }, 't', 'c');
  const { value: second } = await notify({ NTFY_URL: vendor.url, NTFY_TOPIC: 'second' }, 't', 'c');
  assert.equal(first.get('ntfy').ok && second.get('ntfy').ok, true);
  assert.deepEqual(vendor.paths(), ['/second']); // received was reset between the calls
});

test("sendNotify merges params into Bark's JSON body, params winning over BARK_* settings", async () => {
  vendor.route('/bark_device_key_1', json(200, { code: 200, message: 'success' }));
  const { value: result } = await notify(
    { BARK_PUSH: `${vendor.url}/bark_device_key_1`, BARK_GROUP: 'from-env' },
    'Title',
    'Body',
    { group: 'from-params', sound: 'alarm', badge: 3 },
  );
  assert.equal(result.get('bark').ok, true);
  const [request] = vendor.received;
  assert.equal(request.path, '/bark_device_key_1');
  assert.equal(request.body, '{"title":"Title","body":"Body","group":"from-params","sound":"alarm","badge":3}');
});

test("sendNotify appends params to PushMe's form after push_key, title and content", async () => {
  vendor.route('/pushme', text(200, 'success'));
  const { value: result } = await notify({ PUSHME_KEY: 'pm_key_123', PUSHME_URL: `${vendor.url}/pushme/` }, 'T', 'C', {
    date: '2024-01-02',
    type: 'markdown',
  });
  assert.equal(result.get('pushme').ok, true);
  const [request] = vendor.received;
  assert.equal(request.headers['content-type'], 'application/x-www-form-urlencoded');
  assert.equal(request.body, 'push_key=pm_key_123&title=T&content=C&date=2024-01-02&type=markdown');
});

test("sendNotify appends params to iGot's form", async (t) => {
  // iGot's host is fixed in its spec: an undici MockAgent plays it, with every real connection refused.
  const agent = new MockAgent();
  agent.disableNetConnect();
  const bodies = [];
  agent
    .get('https://push.hellyw.com')
    .intercept({ path: '/igot_key_0123456789abcd', method: 'POST' })
    .reply(200, (opts) => {
      bodies.push(String(opts.body));
      return { ret: 0, errMsg: 'ok' };
    });
  useDispatcher(agent);
  t.after(() => {
    useDispatcher(null);
    return agent.close();
  });
  const { value: result } = await notify({ IGOT_PUSH_KEY: 'igot_key_0123456789abcd' }, 'T', 'C', {
    url: 'https://x.test/a b',
  });
  assert.equal(result.get('igot').ok, true);
  assert.deepEqual(bodies, ['title=T&content=C&url=https%3A%2F%2Fx.test%2Fa%20b']);
});

test('sendNotify resolves (never rejects) when every channel fails', async () => {
  vendor.route('/bark_device_key_2', json(500, { code: 500, message: 'server error' }));
  const port = await closedPort();
  const { value: result } = await notify(
    {
      BARK_PUSH: `${vendor.url}/bark_device_key_2`,
      GOTIFY_URL: `http://127.0.0.1:${port}`,
      GOTIFY_TOKEN: 'gotify_tok_2',
    },
    't',
    'c',
  );
  assert.equal(result.ok, false);
  assert.deepEqual(
    result.channels.map((r) => [r.channel, r.status, r.http_status]),
    [
      ['bark', 'rejected', 500],
      ['gotify', 'network_error', null],
    ],
  );
});

test("sendNotify logs each channel's outcome to stderr, as QingLong's does", async () => {
  vendor.route('/bark_device_key_3', json(500, { code: 500, message: 'server error' }));
  const { stderr } = await notify(
    { BARK_PUSH: `${vendor.url}/bark_device_key_3`, NTFY_URL: vendor.url, NTFY_TOPIC: 'jobs' },
    't',
    'c',
  );
  assert.match(stderr, /mcp-push INFO ntfy: delivered \(\d+ ms\)/);
  assert.match(stderr, /mcp-push WARNING Bark: rejected: HTTP 500: server error/);
  assert.ok(!stderr.includes('bark_device_key_3'));
});

test('sendNotify with nothing configured resolves to an empty result saying so', async () => {
  const { value: result } = await notify({}, 't', 'c');
  assert.deepEqual(result.toJSON(), { ok: false, skipped: 'no channel is configured', channels: [] });
});

test('sendNotify with empty content sends nothing and reports each channel as skipped', async () => {
  const { value: result } = await notify({ NTFY_URL: vendor.url, NTFY_TOPIC: 'jobs' }, 'title', '');
  assert.deepEqual(result.toJSON(), {
    ok: false,
    skipped: 'content is empty',
    channels: [
      {
        channel: 'ntfy',
        ok: false,
        status: 'skipped',
        error: 'content is empty',
        attempts: 0,
        elapsed_ms: 0,
        http_status: null,
        parts: 0,
        truncated: false,
      },
    ],
  });
  assert.deepEqual(vendor.received, []);
});

test('the drop-in also exports plan(), a dry run that sends nothing', async () => {
  vendor.received.length = 0;
  const entries = await withProcessEnv({ NTFY_URL: vendor.url, NTFY_TOPIC: 'jobs' }, () => plan('t', 'c', { now: 0 }));
  assert.deepEqual(
    entries.map((e) => [e.channel, e.step, e.method, e.url, e.body]),
    [['ntfy', 'send', 'POST', `${vendor.url}/jobs`, 'c']],
  );
  assert.deepEqual(vendor.received, []);
});
