'use strict';
// WeCom app messages need an access_token first. QingLong's sendNotify.js never settles when that
// fetch fails; ours must resolve with a result every time, and other channels must still deliver.
// QYWX_ORIGIN points the channel at a loopback server.

const assert = require('node:assert/strict');
const { after, before, beforeEach, test } = require('node:test');

const { sendNotify } = require('../sendNotify');
const { TOKENS } = require('../src/tokens');
const {
  captureStderr,
  closedPort,
  fakeRetryPace,
  hold,
  json,
  stderrLine,
  startVendor,
  withProcessEnv,
} = require('../test-helpers');

fakeRetryPace();

const QYWX_AM = 'ww_corp_1,corp_secret_value_9,@all,1000002';
const TOKEN_REPLY = { errcode: 0, errmsg: 'ok', access_token: 'wecom_access_1', expires_in: 7200 };

let wecom; // the WeCom API
let other; // another channel (ntfy) in the same send
before(async () => {
  [wecom, other] = await Promise.all([startVendor(), startVendor()]);
});
after(() => Promise.all([wecom.close(), other.close()]));
beforeEach(() => {
  TOKENS.clear();
  wecom.received.length = 0;
  other.received.length = 0;
});

/** sendNotify to the WeCom app at `origin` and to ntfy; resolves to {result, stderr}. */
async function notify(origin, extra = {}) {
  const vars = { HITOKOTO: 'false', QYWX_AM, QYWX_ORIGIN: origin, NTFY_URL: other.url, NTFY_TOPIC: 'alerts', ...extra };
  const { value, stderr } = await withProcessEnv(vars, () => captureStderr(() => sendNotify('t', 'c')));
  return { result: value, stderr };
}

function assertOtherDelivered(result) {
  assert.equal(result.get('ntfy').ok, true);
  assert.deepEqual(other.paths(), ['/alerts']);
}

test('a refused gettoken connection resolves to a network_error (after its retries) while the other channel delivers', async () => {
  const { result } = await notify(`http://127.0.0.1:${await closedPort()}`);
  const wecomResult = result.get('wecom_app');
  assert.deepEqual([wecomResult.ok, wecomResult.status, wecomResult.attempts], [false, 'network_error', 4]);
  assert.match(
    wecomResult.error,
    /^connection refused \(GET http:\/\/127\.0\.0\.1:\d+\/cgi-bin\/gettoken\?corpid=ww_corp_1&corpsecret=\*\*\*\) \(after 4 tries\)$/,
  );
  assertOtherDelivered(result);
});

test("a gettoken error reply resolves to rejected with WeCom's errmsg, and no message is sent", async () => {
  wecom.route('/cgi-bin/gettoken', json(200, { errcode: 40001, errmsg: 'invalid credential' }));
  const { result } = await notify(wecom.url);
  const wecomResult = result.get('wecom_app');
  assert.deepEqual([wecomResult.status, wecomResult.http_status, wecomResult.attempts], ['rejected', 200, 1]);
  assert.match(wecomResult.error, /invalid credential/);
  assert.deepEqual(wecom.paths(), ['/cgi-bin/gettoken?corpid=ww_corp_1&corpsecret=corp_secret_value_9']);
  assertOtherDelivered(result);
});

test('a gettoken reply without access_token is rejected rather than sent with an empty token', async () => {
  wecom.route('/cgi-bin/gettoken', json(200, { errcode: 0, errmsg: 'ok' }));
  const { result } = await notify(wecom.url);
  const wecomResult = result.get('wecom_app');
  assert.deepEqual([wecomResult.status, wecomResult.error], ['rejected', 'token reply has no access_token']);
  assert.equal(wecom.paths().filter((p) => p.startsWith('/cgi-bin/message/send')).length, 0);
  assertOtherDelivered(result);
});

test(
  'a gettoken that never answers times out within MCP_PUSH_TIMEOUT while the other channel delivers',
  { timeout: 10_000 },
  async (t) => {
    const gettoken = hold(json(200, TOKEN_REPLY));
    wecom.route('/cgi-bin/gettoken', gettoken.handler);
    // On a mocked setTimeout the 0.5 s pass only when the test says: once the other channel's result was in
    // (it did not wait for WeCom) while gettoken was held, never answered (only the timeout can end it).
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const otherDelivered = stderrLine(/ntfy: delivered/);
    const sending = notify(wecom.url, { MCP_PUSH_TIMEOUT: '0.5' });
    await Promise.all([gettoken.arrived, otherDelivered]);
    t.mock.timers.tick(500);
    const { result } = await sending;
    gettoken.release();
    const wecomResult = result.get('wecom_app');
    assert.deepEqual(
      [wecomResult.status, wecomResult.error, wecomResult.attempts],
      ['timeout', 'no reply within 0.5 s', 1],
    );
    assertOtherDelivered(result);
  },
);

test('two sends fetch the access token once and reuse it', async () => {
  wecom.route('/cgi-bin/gettoken', json(200, TOKEN_REPLY));
  const first = await notify(wecom.url);
  const second = await notify(wecom.url);
  assert.equal(first.result.get('wecom_app').ok, true);
  assert.equal(second.result.get('wecom_app').ok, true);
  assert.deepEqual(wecom.paths(), [
    '/cgi-bin/gettoken?corpid=ww_corp_1&corpsecret=corp_secret_value_9',
    '/cgi-bin/message/send?access_token=wecom_access_1',
    '/cgi-bin/message/send?access_token=wecom_access_1',
  ]);
  assert.equal(second.result.get('wecom_app').attempts, 1); // the cached token cost no request
});

test('a token cached for one corp secret is not used for another', async () => {
  wecom.route('/cgi-bin/gettoken', json(200, TOKEN_REPLY));
  await notify(wecom.url);
  await notify(wecom.url, { QYWX_AM: 'ww_corp_1,other_secret_value_8,@all,1000002' });
  assert.equal(wecom.paths().filter((p) => p.startsWith('/cgi-bin/gettoken')).length, 2);
});

test('the fetched access token is masked when WeCom echoes it in an error', async () => {
  wecom.route('/cgi-bin/gettoken', json(200, TOKEN_REPLY));
  wecom.route(
    '/cgi-bin/message/send',
    json(200, { errcode: 81013, errmsg: 'user & party & tag all invalid, access_token=wecom_access_1' }),
  );
  const { result, stderr } = await notify(wecom.url);
  const wecomResult = result.get('wecom_app');
  assert.equal(wecomResult.status, 'rejected');
  assert.match(wecomResult.error, /access_token=\*\*\*/);
  assert.ok(!JSON.stringify(result).includes('wecom_access_1'));
  assert.ok(!stderr.includes('wecom_access_1'));
});
