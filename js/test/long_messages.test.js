'use strict';
// Long messages tell the truth (spec/README.md, "Long messages" and "Results"): a result says how many
// parts went out (`parts`) and whether content was cut (`truncated`), `attempts` counts every request
// tried (parts and targets summed, retries included), and the cut part ends with the visible mark within
// the limit. python/tests/test_long_messages.py pins the same against a loopback vendor.

const assert = require('node:assert/strict');
const { test } = require('node:test');

const { send } = require('../src');
const { fit } = require('../src/overflow');
const { loadSettings } = require('../src/specs');
const { captureStderr, fakeRetryPace, json, startVendor, text } = require('../test-helpers');

fakeRetryPace();

const MARK = loadSettings().overflow.truncated_mark;
const ROBOT_LIMIT = 2048; // WeCom group robot: bytes of text content (spec/channels/wecom_bot.yaml)
const BYTES = { max: 100, unit: 'bytes' };

const wecomEnv = (vendor, extra = {}) => ({
  QYWX_KEY: 'key_wb_long',
  QYWX_ORIGIN: vendor.url,
  HITOKOTO: 'false',
  ...extra,
});
const texts = (vendor) => vendor.received.map((r) => JSON.parse(r.body).text.content);

/** Answers requests in order with the given handlers, then with the last one. */
function inOrder(...handlers) {
  let index = 0;
  return (req, res, entry) => handlers[Math.min(index++, handlers.length - 1)](req, res, entry);
}

async function sendQuietly(title, content, env) {
  let result;
  await captureStderr(async () => {
    result = await send(title, content, { env });
  });
  return result.channels[0];
}

test('fit says whether content was cut: a split within 5 parts is not, beyond 5 and truncate mode are', () => {
  assert.equal(fit('T', 'a'.repeat(60), BYTES, 'split').truncated, false);
  assert.equal(fit('T', 'a'.repeat(200), BYTES, 'split').truncated, false);
  assert.equal(fit('T', 'a'.repeat(1000), BYTES, 'split').truncated, true);
  assert.equal(fit('T', 'a'.repeat(68), BYTES, 'truncate').truncated, true);
  assert.equal(fit('T'.repeat(60), 'a'.repeat(30), BYTES, 'split').truncated, true);
  assert.equal(fit('T', 'a'.repeat(500), null, 'split').truncated, false);
});

test('a 1 MB message reports 5 parts and truncated, and its last part shows the mark within the limit', async (t) => {
  const vendor = await startVendor();
  t.after(() => vendor.close());
  const channel = await sendQuietly('Nightly log', 'x'.repeat(1_000_000), wecomEnv(vendor));
  const sent = texts(vendor);
  assert.deepEqual([channel.ok, channel.status, channel.parts, channel.truncated], [true, 'delivered', 5, true]);
  assert.equal(channel.attempts, 5);
  assert.equal(sent.length, 5);
  assert.deepEqual(
    sent.map((s) => s.split('\n\n')[0]),
    [1, 2, 3, 4, 5].map((i) => `Nightly log (${i}/5)`),
  );
  assert.ok(sent[4].endsWith(MARK));
  assert.ok(!sent.slice(0, 4).some((s) => s.endsWith(MARK)));
  assert.ok(sent.every((s) => Buffer.byteLength(s, 'utf8') <= ROBOT_LIMIT));
});

test('a message that fits is one part, not truncated; a split within 5 parts is not truncated', async (t) => {
  const vendor = await startVendor();
  t.after(() => vendor.close());
  const short = await sendQuietly('t', 'short', wecomEnv(vendor));
  assert.deepEqual([short.ok, short.attempts, short.parts, short.truncated], [true, 1, 1, false]);
  const split = await sendQuietly('t', 'y'.repeat(6000), wecomEnv(vendor));
  assert.deepEqual([split.ok, split.attempts, split.parts, split.truncated], [true, 3, 3, false]);
});

test('truncate mode is one part, marked and reported truncated', async (t) => {
  const vendor = await startVendor();
  t.after(() => vendor.close());
  const channel = await sendQuietly('t', 'z'.repeat(5000), wecomEnv(vendor, { MCP_PUSH_OVERFLOW: 'truncate' }));
  const [sent] = texts(vendor);
  assert.deepEqual([channel.ok, channel.attempts, channel.parts, channel.truncated], [true, 1, 1, true]);
  assert.ok(sent.endsWith(MARK) && Buffer.byteLength(sent, 'utf8') <= ROBOT_LIMIT);
});

test('attempts sum the tries of every part, retries included', async (t) => {
  const vendor = await startVendor();
  t.after(() => vendor.close());
  vendor.route('/', inOrder(json(200, { errcode: 0 }), text(503, 'busy'), json(200, { errcode: 0 })));
  const channel = await sendQuietly('t', 'y'.repeat(6000), wecomEnv(vendor));
  assert.deepEqual([channel.ok, channel.attempts, channel.parts], [true, 4, 3]);
  assert.equal(vendor.received.length, 4);
});

test('a failed part is named and the later parts are still sent', async (t) => {
  const vendor = await startVendor();
  t.after(() => vendor.close());
  vendor.route(
    '/',
    inOrder(
      json(200, { errcode: 0 }),
      json(200, { errcode: 40008, errmsg: 'invalid message type' }),
      json(200, { errcode: 0 }),
    ),
  );
  const channel = await sendQuietly('t', 'y'.repeat(6000), wecomEnv(vendor));
  assert.deepEqual([channel.ok, channel.status, channel.attempts, channel.parts], [false, 'rejected', 3, 3]);
  assert.ok(channel.error.startsWith('1 of 3 requests failed; first, part 2/3: '), channel.error);
  assert.match(channel.error, /invalid message type/);
});

test('no part is counted when the token fetch fails first', async (t) => {
  const vendor = await startVendor();
  t.after(() => vendor.close());
  vendor.route('/cgi-bin/gettoken', json(200, { errcode: 40013, errmsg: 'invalid corpid' }));
  const env = { QYWX_AM: 'ww_corp,secret_app_long,@all,1000002', QYWX_ORIGIN: vendor.url, HITOKOTO: 'false' };
  const channel = await sendQuietly('t', 'y'.repeat(6000), env);
  assert.deepEqual(
    [channel.ok, channel.status, channel.attempts, channel.parts, channel.truncated],
    [false, 'rejected', 1, 0, false],
  );
});
