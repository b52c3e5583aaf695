'use strict';
// hooks/index.js: a hook is found by its file name, and gets the spec's parameters for it (the same
// rules and words as python/tests/test_hooks.py).

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { test } = require('node:test');

const { HookError, getHook, runHook } = require('../src/hooks');
const { planChannel } = require('../src/planner');
const { loadChannels } = require('../src/specs');

const HOOKS = path.join(__dirname, '..', 'src', 'hooks');
const PY_HOOKS = path.join(__dirname, '..', '..', 'python', 'mcp_push', 'hooks');
const NOW = 1700000000.5;

const fileNames = (folder, suffix, own) =>
  fs
    .readdirSync(folder)
    .filter((f) => f.endsWith(suffix))
    .map((f) => f.slice(0, -suffix.length))
    .filter((n) => n !== own)
    .sort();

test('every hook file exports the function it is named after, with a twin in Python', () => {
  const names = fileNames(HOOKS, '.js', 'index');
  assert.deepEqual(
    names.map((name) => getHook(name).name),
    names,
  );
  assert.deepEqual(fileNames(PY_HOOKS, '.py', '__init__'), names);
});

test('a name without its hook file is no hook', () => {
  for (const name of ['nope', '__init__', 'HookInput', '../specs', 'feishu_sign.js', 'index', '']) {
    assert.throws(
      () => getHook(name),
      (error) => error instanceof HookError && error.message === `no hook named '${name}'`,
    );
  }
});

// Feishu's documented scheme, computed here independently of the hook.
const feishuSign = (secret, timestamp) => crypto.createHmac('sha256', `${timestamp}\n${secret}`).digest('base64');

test('runHook passes the spec parameters as the second argument', () => {
  const input = { env: { FSSECRET: 'fs_secret', OTHER_SECRET: 'other_secret' }, title: 't', content: 'c', now: NOW };
  const other = runHook('feishu_sign', input, { secret_var: 'OTHER_SECRET' });
  assert.deepEqual(
    [other.timestamp, other.sign],
    [String(Math.floor(NOW)), feishuSign('other_secret', Math.floor(NOW))],
  );
  assert.equal(
    runHook('feishu_sign', input, { secret_var: 'FSSECRET' }).sign,
    feishuSign('fs_secret', Math.floor(NOW)),
  );
});

test('wecom_app_config gives the msgtype and no is_* flags', () => {
  // The spec picks the body with `$when: {path: hook.msgtype, equals: …}` (spec format 2): no hook emits is_* flags.
  for (const [media, msgtype] of [
    ['', 'text'],
    ['0', 'textcard'],
    ['m1', 'mpnews'],
  ]) {
    const out = runHook('wecom_app_config', {
      env: { QYWX_AM: `corp,secret,u,1000002,${media}` },
      title: 't',
      content: 'c',
      now: NOW,
    });
    assert.equal(out.msgtype, msgtype);
    assert.deepEqual(Object.keys(out).sort(), [
      'agentid',
      'corpid',
      'corpsecret',
      'media_id',
      'msgtype',
      'secrets',
      'touser',
    ]);
  }
});

test('lark signs with feishu_sign and its own secret', () => {
  const lark = loadChannels().lark;
  assert.deepEqual([lark.hook, lark.hook_params], ['feishu_sign', { secret_var: 'LARK_SECRET' }]);
  const plan = planChannel(lark, { LARK_KEY: 'k', LARK_SECRET: 'lark_s', FSSECRET: 'fs_s' }, 't', 'c', {}, NOW);
  assert.equal(plan.error, null);
  assert.ok(plan.requests[0].body.includes(`"sign":"${feishuSign('lark_s', Math.floor(NOW))}"`));
});

test('a spec naming a missing hook fails that channel with the words Python uses', () => {
  const spec = { ...loadChannels().feishu, hook: 'nope', hook_params: {} };
  const plan = planChannel(spec, { FSKEY: 'k' }, 't', 'c', {}, NOW);
  assert.deepEqual([plan.errorStatus, plan.error], ['internal_error', "HookError: no hook named 'nope'"]);
});
