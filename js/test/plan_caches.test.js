'use strict';
// What plan() keeps between calls to do less per channel (issue 13): a hook's function, the proxy
// settings' credentials, a parsed WEBHOOK_BODY. Each is keyed by what it depends on, so a changed setting
// or an env passed to one call is honoured at once, and a value handed out is never shared with the next call.

const assert = require('node:assert/strict');
const { test } = require('node:test');

const { plan } = require('../src');
const { HookError, getHook } = require('../src/hooks');
const { planChannel } = require('../src/planner');
const { MASK, proxySecrets } = require('../src/redact');
const { loadChannel } = require('../src/specs');
const { channelEnv } = require('../src/config');
const { parseFields } = require('../src/hooks/webhook_request');

test('a hook is the same function each time; a name with no hook fails each time', () => {
  assert.equal(getHook('feishu_sign'), getHook('feishu_sign'));
  for (let i = 0; i < 2; i++) assert.throws(() => getHook('no_such_hook'), HookError);
});

function withEnv(vars, fn) {
  const saved = Object.fromEntries(Object.keys(vars).map((name) => [name, process.env[name]]));
  Object.assign(process.env, vars);
  try {
    return fn();
  } finally {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}

test('proxy credentials follow the proxy variables as they change, and callers cannot change what is kept', () => {
  const first = withEnv({ HTTPS_PROXY: 'http://alice:s3cretPass1@proxy.example:3128' }, () => proxySecrets());
  assert.ok(first.includes('s3cretPass1'), first);
  first.push('mutated');
  const again = withEnv({ HTTPS_PROXY: 'http://alice:s3cretPass1@proxy.example:3128' }, () => proxySecrets());
  assert.ok(!again.includes('mutated'));
  const other = withEnv({ HTTPS_PROXY: 'http://bob:0therPass22@proxy.example:3128' }, () => proxySecrets());
  assert.ok(other.includes('0therPass22') && !other.includes('s3cretPass1'), other);
  const none = withEnv({ HTTPS_PROXY: '' }, () => proxySecrets());
  assert.ok(!none.includes('0therPass22'));
});

test('a plan masks the proxy credentials set when it is made (read once per message)', () => {
  const env = { NTFY_TOPIC: 'alerts', TG_BOT_TOKEN: '123:tok', TG_USER_ID: '1' };
  const proxy = 'http://carol:PrOxYpw9931@proxy.example:3128';
  const masked = withEnv({ HTTPS_PROXY: proxy }, () => plan('t', 'PrOxYpw9931 in the text', { env }));
  assert.ok(masked.length > 0);
  assert.ok(
    masked.every((entry) => !JSON.stringify(entry).includes('PrOxYpw9931')),
    JSON.stringify(masked),
  );
  const plain = withEnv({ HTTPS_PROXY: '' }, () => plan('t', 'PrOxYpw9931 in the text', { env }));
  assert.ok(plain.some((entry) => JSON.stringify(entry).includes('PrOxYpw9931')));
});

test('planChannel masks the proxy credentials its caller read for the message', () => {
  const spec = loadChannel('ntfy');
  const env = channelEnv(spec, { NTFY_TOPIC: 'alerts' });
  const channelPlan = planChannel(spec, env, 't', 'c', {}, 0, 'split', null, null, 'text', ['Given9Secret']);
  assert.equal(channelPlan.redactor.text('a Given9Secret b'), `a ${MASK} b`);
});

test('a parsed WEBHOOK_BODY is reused, never shared: each message gets its own values', () => {
  const body = 'data: {"list": ["$title"], "n": 1}\ntext: $content';
  const first = parseFields(body, 'T1', 'C1');
  assert.deepEqual(first, { data: { list: ['T1'], n: 1 }, text: 'C1' });
  first.data.list.push('changed');
  first.data.n = 2;
  assert.deepEqual(parseFields(body, 'T2', 'C2'), { data: { list: ['T2'], n: 1 }, text: 'C2' });
  assert.deepEqual(parseFields('{"a": "$title"}', 'T3', 'C3'), { a: 'T3' });
  assert.deepEqual(parseFields('x: $title', 'T4', 'C4'), { x: 'T4' });
});

test('an env passed to one plan() call is honoured: the next call with another env plans from it', () => {
  const base = { WEBHOOK_URL: 'http://127.0.0.1:9/hook', WEBHOOK_CONTENT_TYPE: 'application/json' };
  const one = plan('T', 'C', { env: { ...base, WEBHOOK_BODY: 'a: $title' } });
  const two = plan('T', 'C', { env: { ...base, WEBHOOK_BODY: 'b: $content' } });
  assert.equal(one[0].body, '{"a":"T"}');
  assert.equal(two[0].body, '{"b":"C"}');
});

test("a redactor works its secrets' forms out at its first use: every secret added before is masked", () => {
  const { Redactor } = require('../src/redact');
  const redactor = new Redactor(['FirstSecret123']);
  redactor.add(['Second Secret 456', '', null]);
  const wider = redactor.extended(['ThirdSecret789']);
  const text = 'FirstSecret123 Second%20Secret%20456 ThirdSecret789';
  assert.equal(redactor.text(text), `${MASK} ${MASK} ThirdSecret789`);
  assert.equal(wider.text(text), `${MASK} ${MASK} ${MASK}`);
  redactor.add(['ThirdSecret789']); // after a first use too
  assert.equal(redactor.text(text), `${MASK} ${MASK} ${MASK}`);
});
