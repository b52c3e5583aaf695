'use strict';
// MCP_PUSH_TIMEOUT really applies on the wire (undici ignores a plain `timeout` option, the cause of
// QingLong's 300 s hangs): a slow vendor becomes a timeout result and never holds up other channels.
// The tests wait on timers, not on the CPU, so they run concurrently, each with its own vendor.

const assert = require('node:assert/strict');
const { describe, test } = require('node:test');

const { send } = require('../src');
const log = require('../src/log');
const {
  after: delayed,
  captureStderr,
  drip,
  hold,
  json,
  never,
  overrideRetrySettings,
  stallBody,
  startVendor,
  stderrLine,
} = require('../test-helpers');

/** gotify at the vendor's /slow, ntfy at its /fast. */
const slowAndFastEnv = (vendor) => ({
  HITOKOTO: 'false',
  GOTIFY_URL: `${vendor.url}/slow`,
  GOTIFY_TOKEN: 'gotify_tok_1',
  NTFY_URL: vendor.url,
  NTFY_TOPIC: 'fast',
});

/**
 * One send to gotify (at /slow: the vendor behaviour under test) and ntfy (answering at once), with
 * MCP_PUSH_TIMEOUT = timeout. Resolves to {slow, fast, vendor}.
 */
async function sendSlowAndFast(t, slowBehaviour, timeout = '0.5') {
  const vendor = await startVendor();
  t.after(() => vendor.close());
  vendor.route('/slow', slowBehaviour);
  const env = { ...slowAndFastEnv(vendor), MCP_PUSH_TIMEOUT: timeout };
  const { value: result } = await captureStderr(() => send('t', 'c', { env }));
  return { slow: result.get('gotify'), fast: result.get('ntfy'), vendor };
}

// No assertion here reads a clock (CI's 2 shared cores stretch any wall-clock bound): a held vendor is released
// only after the send has returned, so a send that returned was ended by a timeout, and the result says which.
// A regression that hangs fails on the test's own timeout instead of holding up the run.
describe('timeouts', { concurrency: true, timeout: 15_000 }, () => {
  test('a vendor that sends its headers and then stalls the body times out', async (t) => {
    // The stalled body never ends (until the vendor closes, after the test): only the timeout can end the send.
    const { slow, vendor } = await sendSlowAndFast(t, stallBody());
    assert.deepEqual([slow.ok, slow.status, slow.error], [false, 'timeout', 'no reply within 0.5 s']);
    assert.deepEqual(vendor.paths().sort(), ['/fast', '/slow/message?token=gotify_tok_1']);
  });

  test('a vendor that accepts the request and never answers times out', async (t) => {
    const slowVendor = hold();
    const { slow } = await sendSlowAndFast(t, slowVendor.handler);
    slowVendor.release();
    assert.deepEqual([slow.status, slow.error], ['timeout', 'no reply within 0.5 s']);
    assert.equal(slowVendor.released, true); // released by the test after the send, never before
  });

  test('a reply that comes within MCP_PUSH_TIMEOUT is delivered, not cut short', async (t) => {
    // A reply 0.25 s late, well inside a 5 s timeout (a margin no loaded CI eats).
    const { slow, vendor } = await sendSlowAndFast(t, delayed(250, json(200, { id: 7 })), '5');
    assert.deepEqual([slow.ok, slow.status, slow.http_status, slow.attempts], [true, 'delivered', 200, 1]);
    assert.equal(vendor.paths().filter((p) => p.startsWith('/slow')).length, 1);
  });

  test('the token in the URL of a timed-out request does not appear in the result', async (t) => {
    const { slow } = await sendSlowAndFast(t, never());
    assert.equal(slow.status, 'timeout');
    assert.ok(!JSON.stringify(slow).includes('gotify_tok_1'));
  });

  test('a vendor that drips its body forever is cut off by the per-channel deadline', async (t) => {
    // Each byte comes well within the 0.5 s read timeout, so only the channel's overall deadline
    // (timeout × requests × 2 round trips + 5 s, api.js) ends it: the slowest test here (≈6 s). The read
    // timeout has 0.48 s to spare per byte, so a loaded CI does not turn the drip into a read timeout.
    // With one attempt, the budget has no room for retries (their 60 s deadline would add a minute).
    t.after(overrideRetrySettings({ attempts: 1 }));
    const { slow, fast, vendor } = await sendSlowAndFast(t, drip(20), '0.5');
    // The drip never ends by itself: the deadline's own wording says it was what ended the send.
    assert.deepEqual([slow.ok, slow.status, slow.error, slow.attempts], [false, 'timeout', 'no result within 6 s', 1]);
    assert.equal(fast.ok, true);
    // The abandoned request ends when the vendor hangs up; keep its late log line out of the output.
    await captureStderr(async () => {
      await vendor.close();
      await new Promise((resolve) => setTimeout(resolve, 100));
    });
  });
});

// On a mocked setTimeout, alone after the concurrent suite (the mock is process-wide): a request's timeout
// fires when the test advances that clock, never because the machine was slow.
describe('timeouts on a mocked clock', { timeout: 10_000 }, () => {
  test('a vendor that delays its headers past MCP_PUSH_TIMEOUT times out, and a fast channel is delivered at once', async (t) => {
    const vendor = await startVendor();
    t.after(() => vendor.close());
    const slowVendor = hold(json(200, { id: 1 }));
    vendor.route('/slow', slowVendor.handler);
    log.setLevel('info'); // each channel's outcome on stderr, as sendNotify shows it
    t.after(() => log.setLevel('warning'));
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const fastDelivered = stderrLine(/ntfy: delivered/);
    const env = { ...slowAndFastEnv(vendor), MCP_PUSH_TIMEOUT: '0.5' };
    const sending = captureStderr(() => send('t', 'c', { env }));
    // The fast channel's result was in before any time passed: it did not wait for the slow one.
    await Promise.all([slowVendor.arrived, fastDelivered]);
    t.mock.timers.tick(500);
    const result = (await sending).value;
    slowVendor.release(); // only now: the slow vendor never answered, so the timeout ended the wait
    const [slow, fast] = [result.get('gotify'), result.get('ntfy')];
    assert.deepEqual(
      [slow.ok, slow.status, slow.error, slow.http_status],
      [false, 'timeout', 'no reply within 0.5 s', null],
    );
    assert.deepEqual([fast.ok, fast.status], [true, 'delivered']);
  });

  test("MCP_PUSH_TIMEOUT is kept to the tenth of a second, not rounded up to undici's 0.5 s timer ticks", async (t) => {
    const vendor = await startVendor();
    t.after(() => vendor.close());
    const slowVendor = hold(json(200, { id: 3 }));
    vendor.route('/slow', slowVendor.handler);
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const env = { ...slowAndFastEnv(vendor), MCP_PUSH_TIMEOUT: '0.3' };
    let settled = false;
    const sending = captureStderr(() => send('t', 'c', { env })).finally(() => {
      settled = true;
    });
    await slowVendor.arrived;
    t.mock.timers.tick(299);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(settled, false, 'timed out before 0.3 s');
    t.mock.timers.tick(1);
    // The vendor answers now: had the timeout not fired at 0.3 s (rounded up to 0.5 s, say), this reply
    // would be delivered.
    slowVendor.release();
    const slow = (await sending).value.get('gotify');
    assert.deepEqual([slow.status, slow.error], ['timeout', 'no reply within 0.3 s']);
  });
});
