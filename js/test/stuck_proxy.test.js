'use strict';
// A proxy that accepts connections and never answers: MCP_PUSH_TIMEOUT still holds, and the process
// exits afterwards (undici holds a request that has no connection yet, and retries a CONNECT the proxy
// never answers, for minutes: the result came after 73 s and the process never ended). And a proxy that
// refuses the tunnel: nothing reached the vendor, so that is retried. Python's twin:
// python/tests/test_retry.py.

const assert = require('node:assert/strict');
const net = require('node:net');
const { after, before, describe, test } = require('node:test');

const { send } = require('../src');
const { captureStderr, fakeRetryPace, runNode, startStuckProxy, withProcessEnv } = require('../test-helpers');

const slept = fakeRetryPace();

let proxy;
before(async () => {
  proxy = await startStuckProxy();
});
after(() => proxy.close());

const telegram = () => ({
  TG_BOT_TOKEN: '1:tg_tok',
  TG_USER_ID: '1',
  TG_PROXY_HOST: '127.0.0.1',
  TG_PROXY_PORT: String(proxy.port),
});

// A regression that hangs fails on the test's own timeout instead of holding up the run.
describe('a stuck proxy', { timeout: 30_000 }, () => {
  test('Telegram through TG_PROXY_HOST/PORT at a proxy that never answers the CONNECT is a timeout, tried once', async () => {
    // 2 s, not less: the clock runs while undici (loaded for the first proxied request) is read, which on a
    // busy CI machine took more than 0.5 s, so the request never reached the proxy before it timed out.
    const env = { HITOKOTO: 'false', MCP_PUSH_TIMEOUT: '2', ...telegram() };
    const { value } = await captureStderr(() => send('t', 'c', { env }));
    const result = value.get('telegram');
    assert.deepEqual([result.status, result.error, result.attempts], ['timeout', 'no reply within 2 s', 1]);
    assert.ok(proxy.accepted() >= 1, 'the request went to the proxy');
  });

  // A child process runs the send: its exit is the check that nothing (a socket, an agent, a timer)
  // keeps Node's event loop alive. The bound is a hang check, far above the 1 s timeout.
  const SEND = `require('./src').send('t', 'c', { env: JSON.parse(process.env.SEND_ENV) })
    .then((r) => report(r.toJSON().channels.map((c) => [c.channel, c.status, c.error])));`;
  const cases = [
    ['TG_PROXY_HOST/PORT', () => [telegram(), {}], 'telegram'],
    [
      'HTTPS_PROXY, an https vendor',
      () => [{ NTFY_URL: 'https://ntfy.example.test', NTFY_TOPIC: 't' }, { HTTPS_PROXY: proxy.url }],
      'ntfy',
    ],
    [
      'HTTP_PROXY, a plain-http vendor',
      () => [{ GOTIFY_URL: 'http://gotify.example.test', GOTIFY_TOKEN: 'g' }, { HTTP_PROXY: proxy.url }],
      'gotify',
    ],
  ];
  for (const [name, setup, channel] of cases) {
    test(`through ${name} at a proxy that never answers: a timeout, and the process exits`, async () => {
      const [channelEnv, proxyEnv] = setup();
      const sendEnv = { HITOKOTO: 'false', MCP_PUSH_TIMEOUT: '1', ...channelEnv };
      const child = await runNode(SEND, { SEND_ENV: JSON.stringify(sendEnv), ...proxyEnv }, { timeoutMs: 20_000 });
      assert.equal(child.code, 0, child.stderr);
      assert.deepEqual(child.report, [[channel, 'timeout', 'no reply within 1 s']]);
    });
  }
});

test('a proxy that refuses the CONNECT tunnel (407) never reached the vendor: retried, "connection failed"', async (t) => {
  const connects = [];
  const refusing = net.createServer((socket) => {
    socket.once('data', (head) => {
      connects.push(head.toString('latin1').split(' ').slice(0, 2).join(' '));
      socket.end('HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n');
    });
    socket.on('error', () => {});
  });
  await new Promise((resolve) => refusing.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => refusing.close(resolve)));
  slept.length = 0;
  const env = { HITOKOTO: 'false', NTFY_URL: 'https://ntfy.example.test', NTFY_TOPIC: 't' };
  const { value } = await withProcessEnv({ HTTPS_PROXY: `http://127.0.0.1:${refusing.address().port}` }, () =>
    captureStderr(() => send('t', 'c', { env })),
  );
  const result = value.get('ntfy');
  assert.deepEqual(
    [result.status, result.attempts, result.error],
    ['network_error', 4, 'connection failed (POST https://ntfy.example.test/t) (after 4 tries)'],
  );
  assert.deepEqual(connects, Array(4).fill('CONNECT ntfy.example.test:443'));
  assert.deepEqual(slept, [1, 2, 4]);
});
