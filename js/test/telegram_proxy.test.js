'use strict';
// TG_PROXY_HOST / TG_PROXY_PORT / TG_PROXY_AUTH route Telegram through an HTTP proxy. undici's
// ProxyAgent tunnels with CONNECT, so a small loopback CONNECT proxy stands in for it, and a loopback
// server (TG_API_HOST) for the Bot API.

const assert = require('node:assert/strict');
const { after, before, beforeEach, test } = require('node:test');

const { send } = require('../src');
const { captureStderr, closedPort, fakeRetryPace, startConnectProxy, startVendor } = require('../test-helpers');

fakeRetryPace();

const BOT_TOKEN = '123456:tg_token_abc';

let telegram;
let proxy;
before(async () => {
  [telegram, proxy] = await Promise.all([startVendor(), startConnectProxy()]);
});
after(() => Promise.all([telegram.close(), proxy.close()]));
beforeEach(() => {
  telegram.received.length = 0;
  proxy.connects.length = 0;
  proxy.dropTunnels(); // each test's request opens its own tunnel, so its CONNECT is seen
});

async function sendTelegram(extra) {
  const env = { HITOKOTO: 'false', TG_BOT_TOKEN: BOT_TOKEN, TG_USER_ID: '42', TG_API_HOST: telegram.url, ...extra };
  const { value, stderr } = await captureStderr(() => send('t', 'c', { env }));
  return { result: value.get('telegram'), stderr };
}

const through = { TG_PROXY_HOST: '127.0.0.1' };

test('with TG_PROXY_HOST and TG_PROXY_PORT the Bot API request goes through a CONNECT tunnel at that proxy', async () => {
  const { result } = await sendTelegram({ ...through, TG_PROXY_PORT: String(proxy.port) });
  assert.deepEqual([result.ok, result.status], [true, 'delivered']);
  assert.deepEqual(
    proxy.connects.map((c) => c.target),
    [`127.0.0.1:${telegram.port}`],
  );
  assert.deepEqual(proxy.plain, []);
  const [request] = telegram.received;
  assert.equal(request.path, `/bot${BOT_TOKEN}/sendMessage`);
  assert.equal(request.body, '{"chat_id":"42","text":"t\\n\\nc","disable_web_page_preview":true}');
  // The connection Telegram saw is the proxy's own connection to it, not a direct one.
  assert.equal(request.remotePort, proxy.connects[0].upstreamPort);
});

test('TG_PROXY_AUTH is sent to the proxy as Proxy-Authorization: Basic base64(user:pass), never to Telegram', async () => {
  const { result, stderr } = await sendTelegram({
    ...through,
    TG_PROXY_PORT: String(proxy.port),
    TG_PROXY_AUTH: 'proxy_user:proxy_pass_77',
  });
  assert.equal(result.ok, true);
  const expected = `Basic ${Buffer.from('proxy_user:proxy_pass_77').toString('base64')}`;
  assert.deepEqual(
    proxy.connects.map((c) => c.authorization),
    [expected],
  );
  assert.equal(telegram.received[0].headers['proxy-authorization'], undefined);
  assert.ok(!stderr.includes('proxy_pass_77'));
});

test('without TG_PROXY_AUTH no Proxy-Authorization header is sent', async () => {
  await sendTelegram({ ...through, TG_PROXY_PORT: String(proxy.port) });
  assert.equal(proxy.connects.length, 1);
  assert.equal(proxy.connects[0].authorization, null);
});

test('a proxy password with URL delimiters and a stray % reaches the proxy unchanged', async () => {
  // The spec writes TG_PROXY_AUTH into http://user:pass@host:port as it is, as QingLong does.
  const { result } = await sendTelegram({
    ...through,
    TG_PROXY_PORT: String(proxy.port),
    TG_PROXY_AUTH: 'proxy_user:p@ss:w%rd',
  });
  assert.deepEqual([result.ok, result.status], [true, 'delivered'], result.error);
  assert.deepEqual(
    proxy.connects.map((c) => c.authorization),
    [`Basic ${Buffer.from('proxy_user:p@ss:w%rd').toString('base64')}`],
  );
});

test('a proxy that refuses connections is a network_error, and Telegram is not contacted directly', async () => {
  const { result, stderr } = await sendTelegram({
    ...through,
    TG_PROXY_PORT: String(await closedPort()),
    TG_PROXY_AUTH: 'proxy_user:proxy_pass_77',
  });
  assert.deepEqual([result.ok, result.status], [false, 'network_error']);
  assert.match(
    result.error,
    /^connection refused \(POST http:\/\/127\.0\.0\.1:\d+\/bot\*\*\*\/sendMessage\) \(after 4 tries\)$/,
  );
  assert.deepEqual(telegram.received, []);
  assert.ok(!JSON.stringify(result).includes('proxy_pass_77') && !stderr.includes('proxy_pass_77'));
});

test('a second send through the same proxy reuses the tunnel the first opened', async () => {
  const first = await sendTelegram({ ...through, TG_PROXY_PORT: String(proxy.port) });
  // undici hands a connection back to its pool on the next turn of the event loop.
  await new Promise((resolve) => setImmediate(resolve));
  const second = await sendTelegram({ ...through, TG_PROXY_PORT: String(proxy.port) });
  assert.deepEqual([first.result.status, second.result.status], ['delivered', 'delivered']);
  assert.equal(telegram.received.length, 2);
  assert.equal(proxy.connects.length, 1);
  // Both requests reached Telegram on the proxy's one upstream connection.
  assert.deepEqual(
    telegram.received.map((r) => r.remotePort),
    [proxy.connects[0].upstreamPort, proxy.connects[0].upstreamPort],
  );
});

test('TG_PROXY_HOST without TG_PROXY_PORT sends directly', async () => {
  const { result } = await sendTelegram({ ...through });
  assert.equal(result.ok, true);
  assert.deepEqual(proxy.connects, []);
  assert.equal(telegram.received.length, 1);
});

test('a proxy address that is no URL (TG_PROXY_PORT not a number) is a config_error naming it, as in the Python runtime', async () => {
  const { result } = await sendTelegram({ ...through, TG_PROXY_PORT: 'eighty' });
  assert.deepEqual(
    [result.ok, result.status, result.error],
    [false, 'config_error', 'TG_PROXY_PORT: must be an integer from 1 to 65535'],
  );
  assert.deepEqual(telegram.received, []);
});
