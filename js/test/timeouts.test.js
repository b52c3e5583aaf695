'use strict';
// MCP_PUSH_TIMEOUT really applies on the wire (undici ignores a plain `timeout` option, the cause of
// QingLong's 300 s hangs): a slow vendor becomes a timeout result and never holds up other channels.
// The tests wait on timers, not on the CPU, so they run concurrently, each with its own vendor.

const assert = require('node:assert/strict');
const { describe, test } = require('node:test');

const { send } = require('../src');
const {
  after: delayed,
  captureStderr,
  drip,
  json,
  never,
  overrideRetrySettings,
  stallBody,
  startVendor,
} = require('../test-helpers');

/**
 * One send to gotify (at /slow: the vendor behaviour under test) and ntfy (answering at once), with
 * MCP_PUSH_TIMEOUT = timeout. Resolves to {slow, fast, elapsed, vendor}.
 */
async function sendSlowAndFast(t, slowBehaviour, timeout = '0.5') {
  const vendor = await startVendor();
  t.after(() => vendor.close());
  vendor.route('/slow', slowBehaviour);
  const env = {
    HITOKOTO: 'false',
    MCP_PUSH_TIMEOUT: timeout,
    GOTIFY_URL: `${vendor.url}/slow`,
    GOTIFY_TOKEN: 'gotify_tok_1',
    NTFY_URL: vendor.url,
    NTFY_TOPIC: 'fast',
  };
  const started = performance.now();
  const { value: result } = await captureStderr(() => send('t', 'c', { env }));
  return { slow: result.get('gotify'), fast: result.get('ntfy'), elapsed: performance.now() - started, vendor };
}

// A regression that hangs fails on the test's own timeout instead of holding up the run.
describe('timeouts', { concurrency: true, timeout: 10_000 }, () => {
  test('a vendor that delays its headers past MCP_PUSH_TIMEOUT times out, and a fast channel is delivered at once', async (t) => {
    const { slow, fast, elapsed } = await sendSlowAndFast(t, delayed(3000, json(200, { id: 1 })));
    assert.deepEqual(
      [slow.ok, slow.status, slow.error, slow.http_status],
      [false, 'timeout', 'no reply within 0.5 s', null],
    );
    assert.ok(slow.elapsed_ms >= 450, `timed out after only ${slow.elapsed_ms} ms`);
    assert.ok(elapsed < 1500, `the send took ${elapsed} ms`);
    assert.deepEqual([fast.ok, fast.status], [true, 'delivered']);
    assert.ok(fast.elapsed_ms < 450, `the fast channel took ${fast.elapsed_ms} ms`);
  });

  test('a vendor that sends its headers and then stalls the body times out', async (t) => {
    const { slow, elapsed } = await sendSlowAndFast(t, stallBody());
    assert.deepEqual([slow.ok, slow.status, slow.error], [false, 'timeout', 'no reply within 0.5 s']);
    assert.ok(slow.elapsed_ms >= 450, `timed out after only ${slow.elapsed_ms} ms`);
    assert.ok(elapsed < 1500, `the send took ${elapsed} ms`);
  });

  test('a vendor that accepts the request and never answers times out', async (t) => {
    const { slow, elapsed } = await sendSlowAndFast(t, never());
    assert.deepEqual([slow.status, slow.error], ['timeout', 'no reply within 0.5 s']);
    assert.ok(elapsed < 1500, `the send took ${elapsed} ms`);
  });

  test('a reply that comes within MCP_PUSH_TIMEOUT is delivered, not cut short', async (t) => {
    const { slow } = await sendSlowAndFast(t, delayed(250, json(200, { id: 7 })));
    assert.deepEqual([slow.ok, slow.status], [true, 'delivered']);
    assert.ok(slow.elapsed_ms >= 240, `${slow.elapsed_ms} ms`);
  });

  test('the token in the URL of a timed-out request does not appear in the result', async (t) => {
    const { slow } = await sendSlowAndFast(t, never());
    assert.equal(slow.status, 'timeout');
    assert.ok(!JSON.stringify(slow).includes('gotify_tok_1'));
  });

  test("MCP_PUSH_TIMEOUT is kept to the tenth of a second, not rounded up to undici's 0.5 s timer ticks", async (t) => {
    const { slow } = await sendSlowAndFast(t, never(), '0.3');
    assert.equal(slow.status, 'timeout');
    assert.ok(slow.elapsed_ms >= 280 && slow.elapsed_ms < 800, `0.3 s timed out after ${slow.elapsed_ms} ms`);
  });

  test('a vendor that drips its body forever is cut off by the per-channel deadline', async (t) => {
    // Each byte comes well within the 0.1 s read timeout, so only the channel's overall deadline
    // (timeout × requests × 2 round trips + 5 s, api.js) ends it: the slowest test here (≈5.2 s).
    // With one attempt, the budget has no room for retries (their 60 s deadline would add a minute).
    t.after(overrideRetrySettings({ attempts: 1 }));
    const { slow, fast, elapsed, vendor } = await sendSlowAndFast(t, drip(20), '0.1');
    assert.deepEqual(
      [slow.ok, slow.status, slow.error, slow.attempts],
      [false, 'timeout', 'no result within 5.2 s', 1],
    );
    assert.ok(elapsed >= 5000 && elapsed < 7000, `the send took ${elapsed} ms`);
    assert.equal(fast.ok, true);
    // The abandoned request ends when the vendor hangs up; keep its late log line out of the output.
    await captureStderr(async () => {
      await vendor.close();
      await new Promise((resolve) => setTimeout(resolve, 100));
    });
  });
});
