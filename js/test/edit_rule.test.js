'use strict';
// One send path, one edit rule (spec/README.md, "Edit in place"): sendEvent goes through edits.postOrEdit,
// as Python's send_event and the MCP server's engine do (python/tests/test_edit_rule.py). A 4xx refusal
// of an edit is posted anew once; a 5xx or 429 is retried as the edit and, if it keeps failing, is the
// edit's failure; an edit with no answer is never followed by a post. The vendor is a loopback server.

const assert = require('node:assert/strict');
const { test } = require('node:test');

const { EditRefs, editRefused } = require('../src/edits');
const { RunLog, sendEvent } = require('../src/events');
const { outcome } = require('../src/deliver');
const { planChannel } = require('../src/planner');
const { channelResult } = require('../src/result');
const { loadChannels } = require('../src/specs');
const { after, captureStderr, fakeRetryPace, json, startVendor } = require('../test-helpers');

fakeRetryPace();

const POSTED = { ok: true, result: { message_id: 41 } };
const REPOSTED = { ok: true, result: { message_id: 42 } };
const NOT_FOUND = { ok: false, error_code: 400, description: 'Bad Request: message to edit not found' };
const DOWN = { ok: false, error_code: 500, description: 'Internal Server Error' };
const SLOW_DOWN = {
  ok: false,
  error_code: 429,
  description: 'Too Many Requests: retry after 2',
  parameters: { retry_after: 2 },
};
const BLOCKED = { ok: false, error_code: 403, description: 'Forbidden: bot was blocked' };

const telegramEnv = (vendor, extra = {}) => ({
  TG_BOT_TOKEN: '123:abc',
  TG_USER_ID: '77',
  TG_API_HOST: vendor.url,
  HITOKOTO: 'false',
  MCP_PUSH_EDIT_PROGRESS: 'true',
  ...extra,
});

/** Answers requests in order with the given handlers, then with the last one. */
function inOrder(...handlers) {
  let index = 0;
  return (req, res, entry) => handlers[Math.min(index++, handlers.length - 1)](req, res, entry);
}

/** A run's start, then its updates, through sendEvent with fresh memory; resolves to the results. */
async function run(env, updates = 1) {
  const runs = new RunLog();
  const edits = new EditRefs();
  const results = [];
  await captureStderr(async () => {
    const kinds = ['start', ...Array(updates).fill('update')];
    for (const [i, kind] of kinds.entries()) {
      results.push(
        (await sendEvent({ run_id: 'r', event: kind, message: `${kind} ${i}` }, { env, runs, edits })).channels[0],
      );
    }
  });
  return results;
}

const methods = (vendor) => vendor.paths().map((p) => p.split('/').pop());

const SCENARIOS = [
  [
    "a 5xx that keeps failing is the edit's failure, never reposted",
    [json(500, DOWN)],
    ['rejected', false, 500, 4],
    Array(4).fill('editMessageText'),
  ],
  [
    'a 5xx then success is delivered as the edit',
    [json(500, DOWN), json(200, POSTED)],
    ['delivered', true, 200, 2],
    Array(2).fill('editMessageText'),
  ],
  [
    'a 429 waits and is retried as the edit',
    [json(429, SLOW_DOWN), json(200, POSTED)],
    ['delivered', true, 200, 2],
    Array(2).fill('editMessageText'),
  ],
  [
    'a 4xx refusal is posted anew, once',
    [json(400, NOT_FOUND), json(200, REPOSTED)],
    ['delivered', true, 200, 2],
    ['editMessageText', 'sendMessage'],
  ],
  [
    "a 4xx refusal whose post fails too is the post's failure",
    [json(400, NOT_FOUND), json(403, BLOCKED)],
    ['rejected', false, 403, 2],
    ['editMessageText', 'sendMessage'],
  ],
];

for (const [name, replies, [status, ok, httpStatus, attempts], sent] of SCENARIOS) {
  test(`sendEvent: ${name}`, async (t) => {
    const vendor = await startVendor();
    t.after(() => vendor.close());
    vendor.route('/', inOrder(json(200, POSTED), ...replies));
    const [start, update] = await run(telegramEnv(vendor));
    assert.ok(start.ok);
    assert.deepEqual(
      [update.status, update.ok, update.http_status, update.attempts],
      [status, ok, httpStatus, attempts],
    );
    assert.deepEqual(methods(vendor).slice(1), sent);
  });
}

test('sendEvent: after a refused edit the new post is what the next update edits', async (t) => {
  const vendor = await startVendor();
  t.after(() => vendor.close());
  vendor.route('/', inOrder(json(200, POSTED), json(400, NOT_FOUND), json(200, REPOSTED)));
  await run(telegramEnv(vendor), 2);
  assert.deepEqual(methods(vendor), ['sendMessage', 'editMessageText', 'sendMessage', 'editMessageText']);
  const edited = vendor.received
    .filter((r) => r.path.endsWith('editMessageText'))
    .map((r) => JSON.parse(r.body).message_id);
  assert.deepEqual(edited, [41, 42]);
});

test('sendEvent: an edit with no answer is never followed by a post', async (t) => {
  const vendor = await startVendor();
  t.after(() => vendor.close());
  vendor.route('/', inOrder(json(200, POSTED), after(1500, json(200, POSTED))));
  const [start, update] = await run(telegramEnv(vendor, { MCP_PUSH_TIMEOUT: '0.3' }));
  assert.ok(start.ok && !update.ok);
  assert.ok(['timeout', 'network_error'].includes(update.status), update.status);
  assert.equal(update.attempts, 1);
  assert.deepEqual(methods(vendor), ['sendMessage', 'editMessageText']);
});

test('editRefused: a 4xx other than 429 and a 2xx with an error are refusals; 5xx, 429 and no answer are not', () => {
  const spec = loadChannels().telegram;
  const env = { TG_BOT_TOKEN: '123:abc', TG_USER_ID: '77' };
  const edit = planChannel(spec, env, 't', 'c', {}, 0, 'split', 42);
  const post = planChannel(spec, env, 't', 'c', {}, 0, 'split', null);
  const rejected = (status, plan = edit) =>
    outcome(plan, channelResult('telegram', false, 'rejected', 'no', 1, 0, status));
  assert.deepEqual(
    [400, 403, 404, 200].map((s) => editRefused(rejected(s))),
    [true, true, true, true],
  );
  assert.deepEqual(
    [302, 429, 500, 502, 503].map((s) => editRefused(rejected(s))),
    [false, false, false, false, false],
  );
  assert.equal(editRefused(outcome(edit, channelResult('telegram', false, 'timeout', 'no answer', 1))), false);
  assert.equal(editRefused(rejected(400, post)), false); // a post is never reposted
});
