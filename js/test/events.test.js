'use strict';
// Event envelopes beyond what conformance pins: the filled timestamp, the run log's memory, purity,
// and sendEvent's contract (it rejects only for an invalid envelope; failed channels are results).

const assert = require('node:assert/strict');
const { test } = require('node:test');
const {
  EnvelopeError,
  RunLog,
  renderEvent,
  rfc3339,
  sendEvent,
  timestampMs,
  validateEnvelope,
} = require('../src/events');
const { fakeRetryPace } = require('../test-helpers');

// Retry waits (refused connections are tried again) pass on a fake clock.
fakeRetryPace();

test('a missing timestamp is filled as RFC 3339 UTC with milliseconds', () => {
  const envelope = validateEnvelope({ run_id: 'r', event: 'start', message: 'm' }, 1795488000.1239);
  assert.equal(envelope.timestamp, '2026-11-24T02:40:00.123Z');
  assert.equal(timestampMs(envelope.timestamp), 1795488000123);
});

test("validation returns a copy and leaves the caller's envelope alone", () => {
  const given = { run_id: 'r', event: 'start', message: 'm' };
  validateEnvelope(given, 0);
  assert.deepEqual(given, { run_id: 'r', event: 'start', message: 'm' });
});

test('an end reports elapsed once and the run is then forgotten', () => {
  const runs = new RunLog();
  renderEvent(validateEnvelope({ run_id: 'r', event: 'start', message: 'm', timestamp: '2026-01-01T00:00:00Z' }), runs);
  const end = validateEnvelope({ run_id: 'r', event: 'end', message: 'm', timestamp: '2026-01-01T00:00:09Z' });
  assert.match(renderEvent(end, runs)[1], /Elapsed: 9s$/);
  assert.doesNotMatch(renderEvent(end, runs)[1], /Elapsed/);
});

test('the run log keeps a bounded number of runs, forgetting the oldest', () => {
  const runs = new RunLog(3);
  for (let i = 0; i < 5; i += 1)
    renderEvent(validateEnvelope({ run_id: `r${i}`, event: 'start', message: 'm' }, 0), runs);
  assert.deepEqual([...runs.starts.keys()], ['r2', 'r3', 'r4']);
});

for (const stamp of ['2026-02-30T00:00:00Z', '2026-01-01T24:00:00Z', '2026-01-01T00:00:60Z']) {
  test(`a date that does not exist is rejected: ${stamp}`, () => {
    assert.throws(() => validateEnvelope({ run_id: 'r', event: 'start', message: 'm', timestamp: stamp }), {
      message: 'timestamp: must be an RFC 3339 date-time',
    });
  });
}

test('rfc3339 drops sub-millisecond digits', () => {
  assert.equal(rfc3339(0.0009), '1970-01-01T00:00:00.000Z');
});

test('sendEvent rejects an invalid envelope with an EnvelopeError naming the field', async () => {
  await assert.rejects(
    sendEvent({ run_id: 'r', event: 'update', message: 'm', data: { progress: 'half' } }, { env: {} }),
    (error) => {
      assert.ok(error instanceof EnvelopeError);
      assert.equal(error.field, 'data.progress');
      assert.equal(error.message, 'data.progress: must be a number');
      return true;
    },
  );
});

test('sendEvent resolves to per-channel results; a refused channel is a result, not a rejection', async () => {
  const result = await sendEvent(
    { run_id: 'r', event: 'error', message: 'm' },
    {
      env: { HITOKOTO: 'false', GOTIFY_URL: 'http://127.0.0.1:9', GOTIFY_TOKEN: 'gotify_tok_ev1' },
    },
  );
  assert.equal(result.ok, false);
  assert.deepEqual(
    result.channels.map((c) => [c.channel, c.status]),
    [['gotify', 'network_error']],
  );
  assert.ok(!JSON.stringify(result).includes('gotify_tok_ev1'));
});

test("an extra data value JSON cannot write is refused naming the field, as Python's events.py", () => {
  const cycle = [];
  cycle.push(cycle);
  for (const value of [10n, cycle, () => 1]) {
    const envelope = validateEnvelope({ run_id: 'r', event: 'start', message: 'm', data: { when: value } });
    assert.throws(
      () => renderEvent(envelope, new RunLog()),
      (err) => err instanceof EnvelopeError && err.message === 'data.when: must be a JSON value',
    );
  }
});

test('an undefined extra data value is no field, as JSON leaves it out', () => {
  const envelope = validateEnvelope({ run_id: 'r', event: 'start', message: 'm', data: { gone: undefined, kept: 1 } });
  assert.equal(renderEvent(envelope, new RunLog())[1], 'm\nkept: 1');
});
