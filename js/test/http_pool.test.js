'use strict';
// transports/http.js: with no proxy variable in the environment, direct requests share a keep-alive
// Agent (a dispatcher per request paid a connect each); through a proxy, a dispatcher per request
// (stuck_proxy.test.js). python/tests/test_http_pool.py pins the Python side.

const assert = require('node:assert/strict');
const http = require('node:http');
const { test } = require('node:test');

const { dispatch } = require('../src/api');
const { runNode } = require('../test-helpers');

async function keepAliveVendor() {
  const state = { connections: 0, requests: 0 };
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      state.requests += 1;
      res.writeHead(200, { 'Content-Type': 'application/json' }).end('{}');
    });
  });
  server.keepAliveTimeout = 60_000;
  server.on('connection', () => (state.connections += 1));
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.env = {
    CHRONOCAT_URL: `http://127.0.0.1:${server.address().port}`,
    CHRONOCAT_QQ: 'user_id=10001',
    CHRONOCAT_TOKEN: 'chrono_tok_5f3a9c1e77',
    HITOKOTO: 'false',
  };
  state.close = () => {
    server.closeAllConnections();
    return new Promise((resolve) => server.close(resolve));
  };
  return state;
}

test('direct sends one after another reuse pooled connections', async () => {
  const vendor = await keepAliveVendor();
  try {
    for (let i = 0; i < 4; i += 1) assert.equal((await dispatch('t', 'c', vendor.env)).channels[0].status, 'delivered');
    assert.equal(vendor.requests, 4);
    // undici may open a second socket for a request sent while the first is being handed back.
    assert.ok(vendor.connections <= 2, `${vendor.connections} connections for 4 requests`);
  } finally {
    await vendor.close();
  }
});

test('a pooled connection the vendor keeps open does not keep a one-shot process alive', async () => {
  // The vendor keeps idle connections for 60 s; the child's exit is the check (runNode's bound is a hang check).
  const vendor = await keepAliveVendor();
  try {
    const code = "require('./src').send('t', 'c', { env: JSON.parse(process.env.SEND_ENV) });";
    const child = await runNode(code, { SEND_ENV: JSON.stringify(vendor.env) });
    assert.equal(child.code, 0, child.stderr);
    assert.equal(vendor.requests, 1);
    assert.equal(vendor.connections, 1);
  } finally {
    await vendor.close();
  }
});
