'use strict';
// Edit in place (sendEvent with MCP_PUSH_EDIT_PROGRESS=true) against a loopback vendor: a run's first
// post is remembered in process memory and its updates edit it. python/tests/test_edits.py pins the same.

const assert = require('node:assert/strict');
const { test } = require('node:test');

const { EditRefs, PROCESS_SALT, laneKey } = require('../src/edits');
const { RunLog, sendEvent } = require('../src/events');
const { loadChannels } = require('../src/specs');
const { captureStderr, fakeRetryPace, json, startVendor } = require('../test-helpers');

fakeRetryPace();

const NOT_FOUND = { ok: false, error_code: 400, description: 'Bad Request: message to edit not found' };
const NOT_MODIFIED = {
  ok: false,
  error_code: 400,
  description:
    'Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message',
};

const telegramEnv = (vendor, extra = {}) => ({
  TG_BOT_TOKEN: '123:abc',
  TG_USER_ID: '77',
  TG_API_HOST: vendor.url,
  HITOKOTO: 'false',
  ...extra,
});
const ntfyEnv = (vendor, extra = {}) => ({ NTFY_URL: vendor.url, NTFY_TOPIC: 'runs', HITOKOTO: 'false', ...extra });
const OPT_IN = { MCP_PUSH_EDIT_PROGRESS: 'true' };

/** Sends the events of one run in order to the one configured channel; resolves to its results. */
async function sendRun(env, kinds, edits, runId = 'r') {
  const runs = new RunLog();
  const results = [];
  await captureStderr(async () => {
    for (const [i, kind] of kinds.entries()) {
      results.push(
        (await sendEvent({ run_id: runId, event: kind, message: `${kind} ${i}` }, { env, runs, edits })).channels[0],
      );
    }
  });
  return results;
}

/** Answers requests in order with the given replies, then with the last one. */
function inOrder(...replies) {
  let index = 0;
  return (req, res) => json(...replies[Math.min(index++, replies.length - 1)])(req, res);
}

const methods = (vendor) => vendor.paths().map((p) => p.split('/').pop());
const bodies = (vendor) => vendor.received.map((r) => JSON.parse(r.body));

test('telegram: updates edit the message the start posted, and the end replaces the progress', async (t) => {
  const vendor = await startVendor();
  t.after(() => vendor.close());
  vendor.route('/', json(200, { ok: true, result: { message_id: 42 } }));
  const results = await sendRun(telegramEnv(vendor, OPT_IN), ['start', 'update', 'update', 'end'], new EditRefs());
  assert.ok(results.every((r) => r.ok));
  assert.deepEqual(methods(vendor), ['sendMessage', 'editMessageText', 'editMessageText', 'editMessageText']);
  for (const edit of bodies(vendor).slice(1, 4)) assert.deepEqual([edit.message_id, edit.chat_id], [42, '77']);
  assert.match(bodies(vendor)[2].text, /update 2/);
});

test('ntfy: the first update is posted and the next replaces it by its id', async (t) => {
  const vendor = await startVendor();
  t.after(() => vendor.close());
  vendor.route('/', json(200, { id: 'Ab3dE', event: 'message' }));
  await sendRun(ntfyEnv(vendor, OPT_IN), ['update', 'update', 'end'], new EditRefs());
  assert.deepEqual(vendor.paths(), ['/runs', '/runs/Ab3dE', '/runs/Ab3dE']);
});

test('without the opt-in every event is posted', async (t) => {
  const vendor = await startVendor();
  t.after(() => vendor.close());
  vendor.route('/', json(200, { ok: true, result: { message_id: 42 } }));
  const edits = new EditRefs();
  await sendRun(telegramEnv(vendor), ['start', 'update', 'update', 'end'], edits);
  assert.deepEqual(methods(vendor), Array(4).fill('sendMessage'));
  assert.equal(edits.get(laneKey(loadChannels().telegram, telegramEnv(vendor), PROCESS_SALT), 'r'), null);
});

test('a refused edit is posted anew, and that post becomes the message of the run', async (t) => {
  const vendor = await startVendor();
  t.after(() => vendor.close());
  vendor.route(
    '/',
    inOrder(
      [200, { ok: true, result: { message_id: 41 } }],
      [400, NOT_FOUND],
      [200, { ok: true, result: { message_id: 42 } }],
    ),
  );
  const results = await sendRun(telegramEnv(vendor, OPT_IN), ['start', 'update', 'update'], new EditRefs());
  assert.deepEqual(
    results.map((r) => r.status),
    ['delivered', 'delivered', 'delivered'],
  );
  assert.deepEqual(methods(vendor), ['sendMessage', 'editMessageText', 'sendMessage', 'editMessageText']);
  assert.deepEqual([bodies(vendor)[1].message_id, bodies(vendor)[3].message_id], [41, 42]);
});

test('an edit whose text is unchanged is delivered and keeps the message', async (t) => {
  const vendor = await startVendor();
  t.after(() => vendor.close());
  vendor.route('/', json(200, { ok: true, result: { message_id: 42 } }));
  vendor.route('/bot123:abc/editMessageText', json(400, NOT_MODIFIED));
  const results = await sendRun(telegramEnv(vendor, OPT_IN), ['start', 'update', 'update'], new EditRefs());
  assert.deepEqual(
    results.map((r) => r.status),
    ['delivered', 'delivered', 'delivered'],
  );
  assert.deepEqual(methods(vendor), ['sendMessage', 'editMessageText', 'editMessageText']);
});

test('the end forgets the run, so a later update is posted', async (t) => {
  const vendor = await startVendor();
  t.after(() => vendor.close());
  vendor.route('/', json(200, { ok: true, result: { message_id: 42 } }));
  await sendRun(telegramEnv(vendor, OPT_IN), ['start', 'end', 'update'], new EditRefs());
  assert.deepEqual(methods(vendor), ['sendMessage', 'editMessageText', 'sendMessage']);
});

test('runs and credentials keep their own messages', async (t) => {
  const vendor = await startVendor();
  t.after(() => vendor.close());
  vendor.route('/', json(200, { ok: true, result: { message_id: 42 } }));
  const env = telegramEnv(vendor, OPT_IN);
  const edits = new EditRefs();
  await sendRun(env, ['start'], edits, 'a');
  await sendRun(env, ['update'], edits, 'b'); // another run: its first update is posted
  await sendRun({ ...env, TG_BOT_TOKEN: '456:def' }, ['update'], edits, 'a'); // another bot
  assert.deepEqual(methods(vendor), ['sendMessage', 'sendMessage', 'sendMessage']);
});

test('a failed first post remembers nothing', async (t) => {
  const vendor = await startVendor();
  t.after(() => vendor.close());
  vendor.route(
    '/',
    inOrder(
      [400, { ...NOT_FOUND, description: 'Bad Request: chat not found' }],
      [200, { ok: true, result: { message_id: 42 } }],
    ),
  );
  await sendRun(telegramEnv(vendor, OPT_IN), ['start', 'update'], new EditRefs());
  assert.deepEqual(methods(vendor), ['sendMessage', 'sendMessage']);
});

test('at most the limit of runs is remembered per credential, the oldest forgotten first', () => {
  const edits = new EditRefs(2);
  for (const run of ['a', 'b', 'c']) edits.set('telegram:x', run, run.toUpperCase());
  edits.set('telegram:y', 'a', 'other');
  assert.deepEqual(
    ['a', 'b', 'c'].map((run) => edits.get('telegram:x', run)),
    [null, 'B', 'C'],
  );
  assert.equal(edits.get('telegram:y', 'a'), 'other');
});

test('the lane key is the channel and a salted digest of its secrets only, as in Python', () => {
  const spec = loadChannels().telegram;
  const salt = Buffer.from('fixed test salt');
  const key = laneKey(spec, { TG_BOT_TOKEN: '123:abc', TG_USER_ID: '77' }, salt);
  // What python/mcp_push/lanekey.py's lane_key gives for the same spec, env and salt.
  assert.equal(key, 'telegram:88ab7eef88c2fc32');
  // Not the unsalted SHA-256 that earlier versions used.
  assert.notEqual(key, 'telegram:1d2ae9a27724af11');
  assert.equal(key, laneKey(spec, { TG_BOT_TOKEN: '123:abc', TG_USER_ID: '78' }, salt));
  assert.notEqual(key, laneKey(spec, { TG_BOT_TOKEN: '456:def', TG_USER_ID: '77' }, salt));
  assert.notEqual(key, laneKey(spec, { TG_BOT_TOKEN: '123:abc', TG_USER_ID: '77' }, Buffer.from('another salt')));
});

test('discord: the start posts with ?wait=true, the update and the end PATCH that message', async (t) => {
  const vendor = await startVendor();
  t.after(() => vendor.close());
  vendor.route('/', json(200, { id: '1311000000000000001' }));
  const env = { DISCORD_WEBHOOK_URL: `${vendor.url}/api/webhooks/1/tok`, HITOKOTO: 'false', ...OPT_IN };
  const results = await sendRun(env, ['start', 'update', 'end'], new EditRefs());
  assert.ok(results.every((r) => r.ok));
  assert.deepEqual(
    vendor.received.map((r) => [r.method, r.path]),
    [
      ['POST', '/api/webhooks/1/tok?wait=true'],
      ['PATCH', '/api/webhooks/1/tok/messages/1311000000000000001'],
      ['PATCH', '/api/webhooks/1/tok/messages/1311000000000000001'],
    ],
  );
  // An event is a card (an embed): the end's PATCH carries the run's final state.
  assert.match(bodies(vendor)[2].embeds[0].description, /end 2/);
});

test('matrix: the update and the end are m.replace edits of the first event', async (t) => {
  const vendor = await startVendor();
  t.after(() => vendor.close());
  vendor.route('/', json(200, { event_id: '$first:m.org' }));
  const env = {
    MATRIX_HOMESERVER: vendor.url,
    MATRIX_ACCESS_TOKEN: 'syt_x',
    MATRIX_ROOM_ID: '!r:m.org',
    HITOKOTO: 'false',
    ...OPT_IN,
  };
  const results = await sendRun(env, ['start', 'update', 'end'], new EditRefs());
  assert.ok(results.every((r) => r.ok));
  const [first, ...edits] = bodies(vendor);
  assert.equal(first['m.relates_to'], undefined);
  for (const edit of edits) assert.deepEqual(edit['m.relates_to'], { rel_type: 'm.replace', event_id: '$first:m.org' });
  assert.match(edits[1]['m.new_content'].body, /end 2/);
});
