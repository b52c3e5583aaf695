'use strict';
// transports/http.js: failures below HTTP: no connection, or a connection that ends without an answer. Both are results
// (network_error) in the words the Python runtime uses, with every secret masked.

const assert = require('node:assert/strict');
const http = require('node:http');
const { test } = require('node:test');

const { send } = require('../src');
const { captureStderr, closedPort, fakeRetryPace, json, startVendor } = require('../test-helpers');

const slept = fakeRetryPace();

const gotify = (url, token = 'gotify_tok_2') => ({ HITOKOTO: 'false', GOTIFY_URL: url, GOTIFY_TOKEN: token });

test('a refused connection is a network_error saying "connection refused" after every try, with the token masked', async () => {
  const port = await closedPort();
  slept.length = 0;
  const { value: result, stderr } = await captureStderr(() =>
    send('t', 'c', { env: gotify(`http://127.0.0.1:${port}`) }),
  );
  const entry = result.get('gotify');
  assert.deepEqual(
    { ...entry, elapsed_ms: 0 },
    {
      channel: 'gotify',
      ok: false,
      status: 'network_error',
      error: `connection refused (POST http://127.0.0.1:${port}/message?token=***) (after 4 tries)`,
      attempts: 4,
      elapsed_ms: 0,
      http_status: null,
      parts: 1,
      truncated: false,
    },
  );
  // The connection never reached the vendor, so it was tried again after 1, 2 and 4 s (on the fake clock).
  assert.deepEqual(slept, [1, 2, 4]);
  assert.ok(!stderr.includes('gotify_tok_2'));
});

const AFTER_WRITE = 'connection closed after the request was sent; the message may have been delivered';

// The vendor had the whole request, then the reply was lost: it may have the message, so one try only.
for (const [kind, handler] of [
  ['reads the whole request and closes the connection without answering', (req) => req.socket.destroy()],
  [
    'cuts its 200 reply short',
    (req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': '100' });
      res.write('{"id":', () => req.socket.destroy());
    },
  ],
  ['resets the connection after reading the request', (req) => req.socket.resetAndDestroy()],
]) {
  test(`a server that ${kind} is tried once: network_error saying the message may have been delivered`, async (t) => {
    let requests = 0;
    const server = http.createServer((req, res) => {
      requests += 1;
      req.resume();
      req.on('end', () => handler(req, res));
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise((resolve) => server.close(resolve)));
    const url = `http://127.0.0.1:${server.address().port}`;
    slept.length = 0;
    const { value: result } = await captureStderr(() => send('t', 'c', { env: gotify(url) }));
    const entry = result.get('gotify');
    assert.deepEqual(
      [entry.status, entry.attempts, entry.http_status, entry.error],
      ['network_error', 1, null, `${AFTER_WRITE} (POST ${url}/message?token=***)`],
    );
    assert.equal(requests, 1);
    assert.deepEqual(slept, []);
  });
}

test("Matrix's PUT whose reply was lost is retried with the same txnId (spec retry.idempotent)", async (t) => {
  const seen = [];
  const server = http.createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    req.resume();
    req.on('end', () => {
      if (seen.length === 1) req.socket.destroy();
      else json(200, { event_id: '$e1' })(req, res);
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => server.close(resolve)));
  slept.length = 0;
  const env = {
    HITOKOTO: 'false',
    MATRIX_HOMESERVER: `http://127.0.0.1:${server.address().port}`,
    MATRIX_ACCESS_TOKEN: 'syt_lost',
    MATRIX_ROOM_ID: '!r:x',
  };
  const { value: result } = await captureStderr(() => send('t', 'c', { env }));
  assert.deepEqual([result.get('matrix').ok, result.get('matrix').attempts], [true, 2]);
  assert.equal(seen.length, 2);
  assert.equal(seen[0], seen[1]);
  assert.match(seen[0], /^PUT \/_matrix\/client\/v3\/rooms\/.*\/send\/m\.room\.message\/mcp-push-/);
  assert.deepEqual(slept, [1]);
});

test('a redirect is not followed: the planned request is the only request', async (t) => {
  const vendor = await startVendor();
  t.after(() => vendor.close());
  vendor.route('/message', (req, res) => {
    res.writeHead(302, { Location: '/elsewhere' });
    res.end();
  });
  const { value: result } = await captureStderr(() => send('t', 'c', { env: gotify(vendor.url) }));
  assert.deepEqual([result.get('gotify').status, result.get('gotify').http_status], ['rejected', 302]);
  assert.deepEqual(vendor.paths(), ['/message?token=gotify_tok_2']);
});

test('a reply without a charset is read as UTF-8, so a Chinese error message survives', async (t) => {
  const vendor = await startVendor();
  t.after(() => vendor.close());
  vendor.route('/message', (req, res) => {
    res.writeHead(400, { 'Content-Type': 'application/json' });
    res.end(Buffer.from('{"error":"令牌无效"}', 'utf8'));
  });
  const { value: result } = await captureStderr(() => send('t', 'c', { env: gotify(vendor.url) }));
  assert.equal(result.get('gotify').error, 'HTTP 400: 令牌无效');
});

test('a reply in the charset it names (GBK) is decoded with that charset', async (t) => {
  const vendor = await startVendor();
  t.after(() => vendor.close());
  // "令牌无效" in GBK, as some Chinese vendors still answer.
  const gbk = Buffer.concat([Buffer.from('{"error":"'), Buffer.from('c1eec5c6ceded0a7', 'hex'), Buffer.from('"}')]);
  vendor.route('/message', (req, res) => {
    res.writeHead(400, { 'Content-Type': 'application/json; charset=GBK' });
    res.end(gbk);
  });
  const { value: result } = await captureStderr(() => send('t', 'c', { env: gotify(vendor.url) }));
  assert.equal(result.get('gotify').error, 'HTTP 400: 令牌无效');
});

test('the request goes out with exactly the planned method, headers and body bytes', async (t) => {
  const vendor = await startVendor();
  t.after(() => vendor.close());
  vendor.route('/message', json(200, { id: 5 }));
  const title = 'a&b=c+d %e 标题 😀';
  const { value: result } = await captureStderr(() => send(title, 'line1\nline2', { env: gotify(vendor.url) }));
  assert.equal(result.get('gotify').ok, true);
  const [request] = vendor.received;
  assert.equal(request.method, 'POST');
  assert.equal(request.headers['content-type'], 'application/x-www-form-urlencoded');
  assert.equal(
    request.body,
    'title=a%26b%3Dc%2Bd%20%25e%20%E6%A0%87%E9%A2%98%20%F0%9F%98%80&message=line1%0Aline2&priority=0',
  );
  assert.equal(request.headers['content-length'], String(Buffer.byteLength(request.body)));
});
