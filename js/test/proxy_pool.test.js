'use strict';
// transports/proxies.js: one undici dispatcher per proxy (and timeout), shared by the requests that go
// through it, so a tunnel is reused; a timed-out request retires its dispatcher, which is destroyed
// when the last request on it ends (stuck_proxy.test.js has the process-level checks, and
// telegram_proxy.test.js the reuse of a tunnel on the wire).

const assert = require('node:assert/strict');
const { test } = require('node:test');

const { leaseProxy } = require('../src/transports/proxies');

const SPEC_PROXY = 'http://127.0.0.1:9';

function withEnv(values, fn) {
  const saved = Object.fromEntries(Object.keys(values).map((k) => [k, process.env[k]]));
  for (const [k, v] of Object.entries(values)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  try {
    return fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

test('requests through the same proxy share one dispatcher; another proxy or timeout gets its own', () => {
  const a = leaseProxy(SPEC_PROXY, 1000);
  const b = leaseProxy(SPEC_PROXY, 1000);
  const otherTimeout = leaseProxy(SPEC_PROXY, 2000);
  const otherProxy = leaseProxy('http://127.0.0.1:10', 1000);
  assert.equal(a.dispatcher, b.dispatcher);
  assert.notEqual(a.dispatcher, otherTimeout.dispatcher);
  assert.notEqual(a.dispatcher, otherProxy.dispatcher);
  for (const lease of [a, b, otherTimeout, otherProxy]) lease.release();
  assert.equal(a.dispatcher.destroyed, false, 'released, not retired: kept for the next request');
  const c = leaseProxy(SPEC_PROXY, 1000);
  assert.equal(c.dispatcher, a.dispatcher);
  c.release();
});

test("the environment's proxies: a change of HTTPS_PROXY gets a new dispatcher, the same values the same one", () => {
  const first = withEnv({ HTTPS_PROXY: 'http://127.0.0.1:11', https_proxy: undefined }, () => leaseProxy(null, 1000));
  const again = withEnv({ HTTPS_PROXY: 'http://127.0.0.1:11', https_proxy: undefined }, () => leaseProxy(null, 1000));
  const changed = withEnv({ HTTPS_PROXY: 'http://127.0.0.1:12', https_proxy: undefined }, () => leaseProxy(null, 1000));
  assert.equal(first.dispatcher, again.dispatcher);
  assert.notEqual(first.dispatcher, changed.dispatcher);
  for (const lease of [first, again, changed]) lease.release();
});

test('a timed-out request retires its dispatcher: the others on it finish, then it is destroyed', () => {
  const stuck = leaseProxy('http://127.0.0.1:13', 1000);
  const other = leaseProxy('http://127.0.0.1:13', 1000);
  stuck.timedOut();
  stuck.release();
  assert.equal(stuck.dispatcher.destroyed, false, 'another request is still on it');
  const next = leaseProxy('http://127.0.0.1:13', 1000);
  assert.notEqual(next.dispatcher, stuck.dispatcher, 'a retired dispatcher takes no new request');
  other.release();
  assert.equal(stuck.dispatcher.destroyed, true);
  next.release();
  assert.equal(next.dispatcher.destroyed, false);
});

test('releasing a lease twice counts once', () => {
  const a = leaseProxy('http://127.0.0.1:14', 1000);
  const b = leaseProxy('http://127.0.0.1:14', 1000);
  a.timedOut();
  a.release();
  a.release();
  assert.equal(a.dispatcher.destroyed, false, 'b is still on it');
  b.release();
  assert.equal(a.dispatcher.destroyed, true);
});

test('past 8 proxies the oldest dispatcher retires (a process whose environment keeps changing)', () => {
  const leases = Array.from({ length: 10 }, (_, i) => leaseProxy(`http://127.0.0.1:${2000 + i}`, 1000));
  for (const lease of leases) lease.release();
  assert.equal(leases[0].dispatcher.destroyed, true);
  assert.equal(leases[9].dispatcher.destroyed, false);
  assert.notEqual(leaseProxy('http://127.0.0.1:2000', 1000).dispatcher, leases[0].dispatcher);
});
