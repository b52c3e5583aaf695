'use strict';
// deliver.js: the targets of one channel go out at once, at most PACE.atOnce (8) at a time, started in
// planned order; the result is the one sending them one after another gives; a target that never answers
// holds one place only (python/tests/test_targets.py is the same).

const assert = require('node:assert/strict');
const http = require('node:http');
const { afterEach, test } = require('node:test');

const { dispatch } = require('../src/api');
const retry = require('../src/retry');
const { nextStart } = require('../src/deliver');

const IDS = Array.from({ length: 20 }, (_, i) => String(10001 + i));
const savedPace = retry.PACE;
afterEach(() => {
  retry.PACE = savedPace;
});

/** A keep-alive vendor counting requests in flight; `hold(peer, req)` resolves when it may answer. */
async function startVendor(hold) {
  const state = { inFlight: 0, most: 0, peers: [], waiters: [] };
  state.changed = () => state.waiters.splice(0).forEach((wake) => wake());
  // Resolves once predicate holds, or after 5 s (a sender one at a time never gets 8 in flight).
  state.until = (predicate) =>
    new Promise((resolve) => {
      const check = () => (predicate(state) ? resolve() : state.waiters.push(check));
      setTimeout(resolve, 5000).unref();
      check();
    });
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', async () => {
      const peer = JSON.parse(Buffer.concat(chunks).toString()).peer.peerUin;
      state.peers.push(peer);
      state.inFlight += 1;
      state.most = Math.max(state.most, state.inFlight);
      state.changed();
      await hold(peer, req, state);
      state.inFlight -= 1;
      state.changed();
      const [status, text] = ['10003', '10011'].includes(peer) ? [400, `bad target ${peer}`] : [200, '{}'];
      res.writeHead(status, { 'Content-Type': 'application/json' }).end(text);
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.env = (extra = {}) => ({
    CHRONOCAT_URL: `http://127.0.0.1:${server.address().port}`,
    CHRONOCAT_QQ: IDS.map((id) => `user_id=${id}`).join(';'),
    CHRONOCAT_TOKEN: 'chrono_tok_5f3a9c1e77',
    HITOKOTO: 'false',
    ...extra,
  });
  state.close = () => {
    server.closeAllConnections();
    return new Promise((resolve) => server.close(resolve));
  };
  return state;
}

async function sendAll(atOnce, hold) {
  retry.PACE = { ...savedPace, atOnce };
  const vendor = await startVendor(hold);
  try {
    const [result] = (await dispatch('t', 'c', vendor.env())).channels;
    const rest = { ...result };
    delete rest.elapsed_ms;
    return [rest, vendor];
  } finally {
    await vendor.close();
  }
}

test('twenty targets go eight at a time, with the result of one at a time', async () => {
  // Each reply waits until 8 requests are in flight (or every target has arrived), so that 9 at once
  // would show; the first failing target (10003) answers after the second (10011).
  const hold = async (peer, req, state) => {
    await state.until((s) => s.inFlight >= 8 || s.peers.length === IDS.length);
    if (peer === '10003') await state.until((s) => s.peers.includes('10011') && s.inFlight <= 7);
  };
  const [atOnce, concurrent] = await sendAll(8, hold);
  const [oneByOne, sequential] = await sendAll(1, async () => {});
  assert.equal(concurrent.most, 8);
  assert.deepEqual([...concurrent.peers].sort(), [...sequential.peers].sort());
  assert.deepEqual([...concurrent.peers.slice(0, 8)].sort(), IDS.slice(0, 8)); // the first 8 planned go first
  assert.deepEqual(atOnce, oneByOne);
  assert.ok(atOnce.error.startsWith('2 of 20 targets failed; first: ') && atOnce.error.includes('10003'), atOnce.error);
  assert.equal(atOnce.attempts, 20);
});

test('a target that never answers does not hold up the others', async () => {
  let gaveUp = false; // the client closed the hung request's connection: its timeout passed
  const othersBefore = [];
  const hold = (peer, req) => {
    if (peer === '10001')
      return new Promise((resolve) =>
        req.socket.once('close', () => {
          gaveUp = true;
          resolve();
        }),
      );
    if (!gaveUp) othersBefore.push(peer);
    return Promise.resolve();
  };
  retry.PACE = { ...savedPace };
  const vendor = await startVendor(hold);
  let result;
  try {
    [result] = (await dispatch('t', 'c', vendor.env({ MCP_PUSH_TIMEOUT: '2' }))).channels;
  } finally {
    await vendor.close();
  }
  assert.equal(result.status, 'timeout');
  // 10003 and 10011 are refused before the hung first target times out; 'first' is first in planned order.
  assert.ok(result.error.startsWith('3 of 20 targets failed; first: no reply within'), result.error);
  assert.deepEqual(othersBefore.sort(), IDS.slice(1)); // every other target reached the vendor while the first hung
});

test('concurrent starts keep to the spec rate with the lanes margin', () => {
  const close = (a, b) => assert.ok(Math.abs(a - b) < 1e-9, `${a} != ${b}`);
  close(nextStart([], 0, { count: 2, per_seconds: 10 }), 0);
  close(nextStart([0], 0.1, { count: 2, per_seconds: 10 }), 0);
  close(nextStart([0, 0.1], 0.2, { count: 2, per_seconds: 10 }), 10.8); // 10 s counted as 11 s
  close(nextStart([0], 0, { count: 100, per_seconds: 60, min_interval_seconds: 0.2 }), 0.22);
  close(nextStart([0, 5], 5, { count: 2, per_seconds: 60 }), 57); // a minute counted as 62 s from the first
});
