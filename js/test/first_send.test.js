'use strict';
// A script's first send (issue 13): nothing that only serves a later send runs before its requests go
// out. The wait for pooled connections (one turn of the event loop) comes only once a send of the process
// has started requests, and the send path never loads node:perf_hooks (the global `performance`).

const assert = require('node:assert/strict');
const { after, before, test } = require('node:test');

const { runNode, startVendor } = require('../test-helpers');

let vendor;
before(async () => {
  vendor = await startVendor();
});
after(() => vendor.close());

// Each send records, in order, when its request was written (node:http's request.start channel) and when
// a setImmediate queued just before the send ran.
const SCRIPT = `
  const dc = require('node:diagnostics_channel');
  const perfHooks = () => process.moduleLoadList.some((m) => m.includes('perf_hooks'));
  const perfBefore = perfHooks(); // loaded at start-up by some Node version: then nothing to check
  const order = [];
  dc.subscribe('http.client.request.start', () => order.push('request'));
  const { send } = require('./src');
  (async () => {
    for (const label of ['first', 'second']) {
      order.push(label);
      setImmediate(() => order.push('immediate'));
      const result = await send('T', label);
      if (!result.ok) throw new Error(JSON.stringify(result));
    }
    report({ order, perfLoadedBySend: !perfBefore && perfHooks() });
  })();
`;

test("a process's first send starts its request at once; a later one waits a turn for a pooled connection", async () => {
  const { code, stderr, report } = await runNode(SCRIPT, {
    NTFY_URL: `${vendor.url}/ntfy`,
    NTFY_TOPIC: 't',
    HITOKOTO: 'false',
  });
  assert.equal(code, 0, stderr);
  assert.deepEqual(report.order, ['first', 'request', 'immediate', 'second', 'immediate', 'request']);
  assert.equal(report.perfLoadedBySend, false);
});
