'use strict';
// The "Done when" in Node (docs/ROUTING.md): two DingTalk robots and a Telegram chat, three routes,
// sent by the library to a loopback vendor; DingTalk's fixed host is pointed at the vendor by a copy of the
// specs (MCP_PUSH_SPEC_DIR). python/tests/test_routing_e2e.py does the same in Python and through the server.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { after, before, test } = require('node:test');

const { startVendor } = require('../test-helpers');

const REPO = path.join(__dirname, '..', '..');
const DONE_WHEN = `channels:
  ops-a: {type: dingtalk, env: {DD_BOT_TOKEN: "\${OPS_A_TOKEN}", DD_BOT_SECRET: "\${OPS_A_SECRET}"}, tags: [oncall]}
  ops-b: {type: dingtalk, env: {DD_BOT_TOKEN: "\${OPS_B_TOKEN}"}, tags: [oncall]}
  me:    {type: telegram, env: {TG_BOT_TOKEN: "\${TG_TOKEN}", TG_USER_ID: "42", TG_API_HOST: "\${TG_HOST}"}}
routes:
  - when: {event: [error]}
    to: [tag:oncall, me]
    priority: high
  - when: {event: [update]}
    to: [me]
    throttle: 60s
  - when: {event: [end], run_id: "nightly-*"}
    to: [tag:oncall]
    only: recoveries
`;

let vendor;
let env;

before(async () => {
  vendor = await startVendor();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-push-routing-'));
  fs.cpSync(path.join(REPO, 'spec'), path.join(dir, 'spec'), { recursive: true });
  fs.rmSync(path.join(dir, 'spec', 'validated.json'));
  const dingtalk = path.join(dir, 'spec', 'channels', 'dingtalk.yaml');
  fs.writeFileSync(
    dingtalk,
    fs.readFileSync(dingtalk, 'utf8').replace('https://oapi.dingtalk.com', `${vendor.url}/dingtalk`),
  );
  fs.writeFileSync(path.join(dir, 'mcp-push.yaml'), DONE_WHEN);
  process.env.MCP_PUSH_SPEC_DIR = path.join(dir, 'spec'); // read once, at the first plan below
  env = {
    HITOKOTO: 'false',
    MCP_PUSH_CONFIG: path.join(dir, 'mcp-push.yaml'),
    OPS_A_TOKEN: 'tok_ops_a_0001',
    OPS_A_SECRET: 'SEC_ops_a_0001',
    OPS_B_TOKEN: 'tok_ops_b_0002',
    TG_TOKEN: '123456:tg_e2e_0003',
    TG_HOST: `${vendor.url}/tg`,
  };
});

after(() => vendor.close());

/** [who got it (ops-a, ops-b or me), the body] for each request the vendor received; then forgets them. */
function sent() {
  const out = vendor.received.map((r) => {
    if (r.path.startsWith('/tg/')) return ['me', JSON.parse(r.body)];
    const token = new URL(r.path, vendor.url).searchParams.get('access_token');
    return [{ tok_ops_a_0001: 'ops-a', tok_ops_b_0002: 'ops-b' }[token], JSON.parse(r.body)];
  });
  vendor.received.length = 0;
  return out;
}

test('errors go loud to both robots and Telegram; updates quietly to Telegram; a start nowhere', async () => {
  const { RunLog, sendEvent } = require('../src/events');
  const runs = new RunLog();
  const event = (kind, runId) => sendEvent({ run_id: runId, event: kind, message: 'step' }, { env, runs });

  let result = await event('error', 'nightly-1');
  assert.deepEqual(
    result.channels.map((r) => [r.channel, r.status]),
    [
      ['ops-a', 'delivered'],
      ['ops-b', 'delivered'],
      ['me', 'delivered'],
    ],
  );
  const loud = sent();
  assert.deepEqual(loud.map(([who]) => who).sort(), ['me', 'ops-a', 'ops-b']);
  assert.equal('disable_notification' in Object.fromEntries(loud).me, false);

  result = await event('update', 'build-7');
  assert.deepEqual(
    result.channels.map((r) => [r.channel, r.status, r.error]),
    [
      ['ops-a', 'skipped', 'no route sends it there'],
      ['ops-b', 'skipped', 'no route sends it there'],
      ['me', 'delivered', null],
    ],
  );
  const [[who, body]] = sent();
  assert.deepEqual([who, body.disable_notification], ['me', true]);

  // No state folder in the library: the recovery cannot be told, so the end goes.
  result = await event('end', 'nightly-2');
  assert.deepEqual(
    result.channels.map((r) => [r.channel, r.status]),
    [
      ['ops-a', 'delivered'],
      ['ops-b', 'delivered'],
      ['me', 'skipped'],
    ],
  );
  assert.deepEqual(
    sent()
      .map(([name]) => name)
      .sort(),
    ['ops-a', 'ops-b'],
  );

  result = await event('start', 'build-8');
  assert.equal(result.ok, false);
  assert.equal(result.skipped, 'routing: no route matches');
  assert.deepEqual(sent(), []);
});
