'use strict';
// api.js, the library entry point send(title, content, { env }): per-call configuration, settings that apply
// to the whole send (MCP_PUSH_TIMEOUT, HITOKOTO), and isolation between channels.

const assert = require('node:assert/strict');
const { after, before, beforeEach, test } = require('node:test');

const { send } = require('../src');
const { loadSettings } = require('../src/specs');
const { captureStderr, hold, json, startVendor, withProcessEnv } = require('../test-helpers');

let vendor;
before(async () => {
  vendor = await startVendor();
});
after(() => vendor.close());
beforeEach(() => {
  vendor.received.length = 0;
});

const ntfy = (topic = 'alerts') => ({ HITOKOTO: 'false', NTFY_URL: vendor.url, NTFY_TOPIC: topic });

test('send with { env } reads that env only: process.env configures nothing', async () => {
  const result = await withProcessEnv(
    { NTFY_URL: vendor.url, NTFY_TOPIC: 'from-process-env', GOTIFY_URL: vendor.url, GOTIFY_TOKEN: 'x' },
    () => send('t', 'c', { env: ntfy('from-option') }),
  );
  assert.deepEqual(
    result.channels.map((r) => r.channel),
    ['ntfy'],
  );
  assert.deepEqual(vendor.paths(), ['/from-option']);
});

test('channels are sent concurrently: two vendors that each wait for the other request both deliver', async () => {
  // Each vendor answers only once both requests are in: sent one after the other, the first would wait
  // for the second until its timeout, and would not be delivered.
  let bothIn;
  const together = new Promise((resolve) => {
    bothIn = resolve;
  });
  let arrived = 0;
  vendor.route('/slow', (req, res) => {
    arrived += 1;
    if (arrived === 2) bothIn();
    together.then(() => json(200, { id: 1 })(req, res));
  });
  const env = { ...ntfy('slow/ntfy'), GOTIFY_URL: `${vendor.url}/slow`, GOTIFY_TOKEN: 'gotify_tok_1' };
  const result = await send('t', 'c', { env });
  assert.deepEqual(
    result.channels.map((r) => [r.channel, r.status]),
    [
      ['gotify', 'delivered'],
      ['ntfy', 'delivered'],
    ],
  );
  assert.equal(arrived, 2);
});

test('an MCP_PUSH_TIMEOUT that is not a positive number is a config_error for every channel, and nothing is sent', async () => {
  const { value: result } = await captureStderr(() => send('t', 'c', { env: { ...ntfy(), MCP_PUSH_TIMEOUT: 'soon' } }));
  assert.deepEqual(
    result.channels.map((r) => [r.channel, r.status]),
    [['ntfy', 'config_error']],
  );
  assert.match(result.get('ntfy').error, /MCP_PUSH_TIMEOUT/);
  assert.deepEqual(vendor.received, []);
});

test('a configured channel missing a required variable gets a config_error and the others still deliver', async () => {
  const { value: result } = await captureStderr(() => send('t', 'c', { env: { ...ntfy(), GOTIFY_URL: vendor.url } }));
  assert.deepEqual(
    result.channels.map((r) => [r.channel, r.status, r.attempts]),
    [
      ['gotify', 'config_error', 0],
      ['ntfy', 'delivered', 1],
    ],
  );
  assert.match(result.get('gotify').error, /GOTIFY_TOKEN/);
});

test('a title listed in SKIP_PUSH_TITLE is not pushed; whole lines only', async () => {
  const env = { ...ntfy(), SKIP_PUSH_TITLE: 'Daily check-in\nNoise' };
  const skipped = await send('Noise', 'c', { env });
  const sent = await send('Noise 2', 'c', { env });
  assert.equal(skipped.skipped, 'title is listed in SKIP_PUSH_TITLE');
  assert.equal(sent.ok, true);
  assert.equal(vendor.received.length, 1);
});

/** Points the hitokoto setting at this vendor for one test. */
function useHitokoto(t, timeout) {
  const settings = loadSettings().hitokoto;
  const saved = { ...settings };
  Object.assign(settings, { url: `${vendor.url}/hitokoto`, timeout });
  t.after(() => Object.assign(settings, saved));
}

test('with HITOKOTO on, the quote is appended to the content', async (t) => {
  useHitokoto(t, 2);
  vendor.route('/hitokoto', json(200, { hitokoto: '山高水长', from: '古文' }));
  const result = await send('t', 'c', { env: { ...ntfy(), HITOKOTO: 'true' } });
  assert.equal(result.ok, true);
  assert.equal(vendor.received.find((r) => r.path === '/alerts').body, 'c\n\n山高水长    ----古文');
});

test(
  'a hitokoto service that hangs costs at most its own short timeout and the message still goes',
  { timeout: 10_000 },
  async (t) => {
    useHitokoto(t, 0.3);
    const quote = hold(json(200, { hitokoto: '山高水长', from: '古文' }));
    vendor.route('/hitokoto', quote.handler);
    // MCP_PUSH_TIMEOUT far longer than the test may run: only the quote's own 0.3 s can end its wait.
    const result = await send('t', 'c', { env: { ...ntfy(), HITOKOTO: 'true', MCP_PUSH_TIMEOUT: '60' } });
    quote.release(); // only now: the message went while the quote was still held
    assert.equal(result.ok, true);
    assert.equal(vendor.received.find((r) => r.path === '/alerts').body, 'c');
    assert.equal(vendor.received.filter((r) => r.path === '/hitokoto').length, 1);
  },
);

// channels (issue 11 item 6): only the named channels, ignoring case; an unknown name sends nothing.
const twoChannels = () => ({ ...ntfy(), GOTIFY_URL: vendor.url, GOTIFY_TOKEN: 'gotify_tok_sel' });

for (const channels of [['NTFY'], 'ntfy', [' Ntfy '], ['ntfy', 'ntfy']]) {
  test(`channels ${JSON.stringify(channels)} sends to ntfy only`, async () => {
    const result = await send('t', 'c', { env: twoChannels(), channels });
    assert.deepEqual(
      result.channels.map((r) => [r.channel, r.status]),
      [['ntfy', 'delivered']],
    );
    assert.deepEqual(vendor.paths(), ['/alerts']);
  });
}

test('a comma-separated channels string names several', async () => {
  const result = await send('t', 'c', { env: twoChannels(), channels: 'gotify, NTFY' });
  assert.deepEqual(result.channels.map((r) => r.channel).sort(), ['gotify', 'ntfy']);
});

test('an unknown channel sends nothing and its config_error lists the configured channels', async () => {
  const { value: result } = await captureStderr(() =>
    send('t', 'c', { env: twoChannels(), channels: ['ntfy', 'nope', 'telegram'] }),
  );
  assert.deepEqual(
    result.channels.map((r) => [r.channel, r.ok, r.status, r.error]),
    [
      ['nope', false, 'config_error', "unknown channel 'nope'; configured: gotify, ntfy"],
      ['telegram', false, 'config_error', "channel 'telegram' is not configured; configured: gotify, ntfy"],
    ],
  );
  assert.deepEqual([result.ok, result.skipped], [false, null]);
  assert.deepEqual(vendor.received, []);
});

test('an unknown channel is named even when no channel is configured', async () => {
  const { value: result } = await captureStderr(() =>
    send('t', 'c', { env: { HITOKOTO: 'false' }, channels: ['nope'] }),
  );
  assert.deepEqual(
    result.channels.map((r) => r.error),
    ["unknown channel 'nope'; configured: none"],
  );
});

test('an empty channels list sends nothing and says why', async () => {
  const result = await send('t', 'c', { env: twoChannels(), channels: [] });
  assert.equal(result.channels.length, 0);
  assert.match(result.skipped, /^channels names no channel/);
  assert.deepEqual(vendor.received, []);
});

test('sendEvent and plan honour channels the same way', async () => {
  const { sendEvent, plan } = require('../src');
  const envelope = { run_id: 'r1', event: 'start', message: 'go' };
  const result = await sendEvent(envelope, { env: twoChannels(), channels: ['Gotify'] });
  assert.deepEqual(
    result.channels.map((r) => [r.channel, r.status]),
    [['gotify', 'delivered']],
  );
  const { value: refused } = await captureStderr(() => sendEvent(envelope, { env: twoChannels(), channels: ['nope'] }));
  assert.deepEqual(
    refused.channels.map((r) => [r.channel, r.status]),
    [['nope', 'config_error']],
  );
  assert.equal(vendor.received.length, 1);
  assert.deepEqual(
    plan('t', 'c', { env: twoChannels(), channels: 'NTFY' }).map((e) => e.channel),
    ['ntfy'],
  );
  assert.deepEqual(plan('t', 'c', { env: twoChannels(), channels: ['nope'] }), [
    { channel: 'nope', error: "unknown channel 'nope'; configured: gotify, ntfy" },
  ]);
});

// A value that cannot work names the variable (issue 11 item 9), as in Python.
test('a value the spec type refuses is a config_error naming it, and nothing is sent', async () => {
  const env = {
    ...ntfy(),
    NTFY_PRIORITY: 'urgentest',
    GOTIFY_URL: vendor.url.replace('http://', ''),
    GOTIFY_TOKEN: 'tok_gotify_typed',
  };
  const { value: result } = await captureStderr(() => send('t', 'c', { env }));
  assert.deepEqual(
    result.channels.map((r) => [r.channel, r.status, r.error]),
    [
      ['gotify', 'config_error', 'GOTIFY_URL: must be an http(s) URL'],
      ['ntfy', 'config_error', 'NTFY_PRIORITY: must be one of 1, 2, 3, 4, 5, min, low, default, high, max, urgent'],
    ],
  );
  assert.deepEqual(vendor.received, []);
});

for (const [env, names] of [
  [{ NTFY_TOPIC: 'alerts', NTFY_URL: 'http://[::1' }, 'NTFY_URL, NTFY_TOPIC'],
  [
    { OPENILINK_APP_TOKEN: 'tok_olk_ctl\r\n', OPENILINK_HUB_URL: 'http://127.0.0.1:9' },
    'OPENILINK_APP_TOKEN, OPENILINK_HUB_URL',
  ],
]) {
  test(`a request that cannot be sent names ${names}, not the library's error`, async () => {
    const { value: result } = await captureStderr(() => send('t', 'c', { env: { HITOKOTO: 'false', ...env } }));
    assert.deepEqual(
      result.channels.map((r) => [r.status, r.error]),
      [['config_error', `the request cannot be sent as configured: check ${names}`]],
    );
  });
}
