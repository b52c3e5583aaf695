'use strict';
// transports/direct.js sends a request with no proxy over node:http instead of undici. Each planned
// request here goes out both ways, through undici's request() (an injected undici Agent) and directly,
// to one raw TCP vendor: the bytes on the wire, the reply the transport reads and the error of a
// request undici refuses must be the same.

const assert = require('node:assert/strict');
const net = require('node:net');
const { after, before, test } = require('node:test');
const { Agent } = require('undici');

const { sendHttp, useDispatcher } = require('../src/transports/http');

// Header values arrive as bytes; latin1 keeps them as they are (both clients read them so).
const REPLY = Buffer.from(
  'HTTP/1.1 201 Created\r\nContent-Type: application/json; charset=utf-8\r\nX-Seen: one\r\nx-seen: two\r\n' +
    'X-Bytes: caf\xc3\xa9\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: 17\r\n\r\n{"ok":true,"x":1}',
  'latin1',
);

let vendor;
before(async () => {
  const requests = [];
  const server = net.createServer((socket) => {
    let pending = Buffer.alloc(0);
    socket.on('data', (data) => {
      pending = Buffer.concat([pending, data]);
      for (;;) {
        const end = pending.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = pending.subarray(0, end + 4).toString('latin1');
        const length = Number((/\r\ncontent-length: *(\d+)/i.exec(head) || [0, 0])[1]);
        if (pending.length < end + 4 + length) return;
        requests.push(pending.subarray(0, end + 4 + length).toString('latin1'));
        pending = pending.subarray(end + 4 + length);
        socket.write(REPLY);
      }
    });
    socket.on('error', () => {});
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  vendor = { url: `http://127.0.0.1:${server.address().port}`, requests, server };
});
after(() => {
  vendor.server.close();
});

const undiciAgent = new Agent();
after(() => undiciAgent.close());

/** [what undici's request() made of it, what the direct path made of it]: {wire, reply} or {error}. */
async function bothWays(planned) {
  const outcomes = [];
  for (const dispatcher of [undiciAgent, null]) {
    useDispatcher(dispatcher);
    vendor.requests.length = 0;
    try {
      const reply = await sendHttp(Object.freeze({ proxy: null, ...planned }), 5);
      outcomes.push({ wire: [...vendor.requests], reply });
    } catch (error) {
      const { kind, message, retryable, maybeDelivered } = error;
      outcomes.push({ wire: [...vendor.requests], error: { kind, message, retryable, maybeDelivered } });
    } finally {
      useDispatcher(null);
    }
  }
  return outcomes;
}

const json = { 'Content-Type': 'application/json', 'X-Token': 'tok' };

const SENT = [
  ['POST with a body', { method: 'POST', path: '/send?key=1', headers: json, body: '{"text":"标题 😀"}' }],
  ['POST without a body (Content-Length: 0)', { method: 'POST', path: '/p', headers: {} }],
  ['PUT', { method: 'PUT', path: '/rooms/!r:x/send/1', headers: json, body: '{}' }],
  ['PATCH', { method: 'PATCH', path: '/m/1', headers: json, body: '{"a":1}' }],
  ['GET without a body', { method: 'GET', path: '/gettoken?id=1', headers: {} }],
  ['GET with a body', { method: 'GET', path: '/g', headers: json, body: 'x=1' }],
  ['DELETE with a body', { method: 'DELETE', path: '/d', headers: json, body: '{"id":1}' }],
  ['DELETE without a body', { method: 'DELETE', path: '/d', headers: {} }],
  ['OPTIONS with a body', { method: 'OPTIONS', path: '/o', headers: {}, body: 'abc' }],
  ['a method of its own with a body', { method: 'NOTIFY', path: '/n', headers: {}, body: 'abc' }],
  ['a method of its own without a body', { method: 'NOTIFY', path: '/n', headers: json }],
  ['an empty body', { method: 'POST', path: '/e', headers: json, body: '' }],
  ['its own Host header', { method: 'POST', path: '/h', headers: { Host: 'vendor.example', ...json }, body: '{}' }],
  ['Connection: close', { method: 'POST', path: '/c', headers: { Connection: 'close' }, body: '{}' }],
  ['a Content-Length that matches', { method: 'POST', path: '/l', headers: { 'Content-Length': '2' }, body: '{}' }],
  ['two names that differ in case', { method: 'POST', path: '/x', headers: { 'X-A': '1', 'x-a': '2' }, body: '{}' }],
  ['header values in Latin-1', { method: 'POST', path: '/v', headers: { 'X-Name': 'caf\xe9' }, body: '{}' }],
];

for (const [name, request] of SENT) {
  test(`${name}: the same bytes on the wire and the same reply as through undici`, async () => {
    const { path, ...rest } = request;
    const [viaUndici, direct] = await bothWays({ ...rest, url: `${vendor.url}${path}` });
    assert.equal(viaUndici.wire.length, 1, JSON.stringify(viaUndici));
    assert.deepEqual(direct, viaUndici);
    assert.equal(direct.reply.status, 201);
  });
}

const REFUSED = [
  ['a line break in a header value', { 'X-Title': 'a\r\nInjected: 1' }],
  ['a header name that is no token', { 'X Bad': '1' }],
  ['a character beyond Latin-1 in a header value', { Title: '标题' }],
  ['Transfer-Encoding', { 'Transfer-Encoding': 'chunked' }],
  ['Keep-Alive', { 'Keep-Alive': 'timeout=5' }],
  ['Upgrade', { Upgrade: 'websocket' }],
  ['a Connection header that is no token list', { Connection: 'a b' }],
  ['Host twice', { Host: 'a.example', host: 'b.example' }],
  ['a Content-Length that is no number', { 'Content-Length': '2x' }],
  ['a Content-Length that does not match the body', { 'Content-Length': '5' }],
  ['Expect', { Expect: '100-continue' }],
];

for (const [name, headers] of REFUSED) {
  test(`${name}: the request fails as it fails through undici`, async () => {
    const [viaUndici, direct] = await bothWays({ method: 'POST', url: `${vendor.url}/r`, headers, body: '{}' });
    assert.ok(viaUndici.error, JSON.stringify(viaUndici));
    assert.deepEqual(direct, viaUndici);
    // Refused before a byte was written: the configuration, never "may have been delivered".
    assert.deepEqual(viaUndici.wire, []);
    assert.deepEqual([viaUndici.error.kind, viaUndici.error.maybeDelivered], ['config_error', false]);
  });
}

test('a URL that does not parse, or is not http(s), fails as through undici', async () => {
  for (const url of ['http://exa mple.com:x/', 'ftp://127.0.0.1/file']) {
    const [viaUndici, direct] = await bothWays({ method: 'POST', url, headers: {}, body: '{}' });
    assert.equal(viaUndici.error.kind, 'config_error');
    assert.deepEqual(direct, viaUndici);
  }
});

test('a plain send loads neither undici nor its proxy agents', async () => {
  const { runNode } = require('../test-helpers');
  const code = `require('./src').send('t', 'c', { env: JSON.parse(process.env.SEND_ENV) }).then((r) => report({
      status: r.toJSON().channels[0].status,
      undici: Object.keys(require.cache).filter((f) => f.includes('node_modules/undici/')).length,
    }));`;
  const env = { GOTIFY_URL: vendor.url, GOTIFY_TOKEN: 'g', HITOKOTO: 'false' };
  const child = await runNode(code, { SEND_ENV: JSON.stringify(env) });
  assert.equal(child.code, 0, child.stderr);
  assert.deepEqual(child.report, { status: 'rejected', undici: 0 });
});

test('a request node:http refuses by a rule of its own is a config_error, never "may have been delivered"', async (t) => {
  const http = require('node:http');
  const request = http.request;
  t.after(() => {
    http.request = request;
  });
  http.request = () => {
    throw Object.assign(new TypeError('Invalid character in header content ["X"]'), { code: 'ERR_INVALID_CHAR' });
  };
  const error = await sendHttp(
    Object.freeze({ method: 'POST', url: `${vendor.url}/n`, headers: {}, body: '{}', proxy: null }),
    5,
  ).catch((e) => e);
  assert.deepEqual(
    [error.kind, error.message, error.retryable, error.maybeDelivered],
    ['config_error', 'the request cannot be sent as configured (InvalidArgumentError)', false, false],
  );
});
