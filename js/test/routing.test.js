'use strict';
// routing.js and configFile.js: the routing conformance cases replayed in Node (tools/conformance.py
// compares both runtimes), where the config file is found, instances under their names, and the errors
// (python/tests/test_routing.py and test_configfile.py pin Python).

const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { test } = require('node:test');
const yaml = require('js-yaml');

const { decide, globMatch, quietUntil } = require('../src/routing');
const { ConfigFileError, configPath, inlineSecrets, loadConfig, parseConfig } = require('../src/configFile');
const { dispatch, plan } = require('../src/api');

const CASES = path.join(__dirname, '..', '..', 'conformance', 'cases', 'routing');

for (const file of fs.readdirSync(CASES).filter((f) => f.endsWith('.yaml'))) {
  for (const testCase of yaml.load(fs.readFileSync(path.join(CASES, file), 'utf8')).cases) {
    test(`routing/${file}: ${testCase.description}`, () => {
      const config = { ...testCase.config, channels: { ...testCase.config.channels } };
      for (const name of testCase.env_channels || []) config.channels[name] ??= { type: name };
      let state = testCase.state === undefined ? {} : testCase.state;
      testCase.steps.forEach((step, index) => {
        const result = decide(config, step.message, state, step.now);
        assert.deepEqual(result.decisions, step.decisions, `step ${index + 1}`);
        if ('state' in step) assert.deepEqual(result.state, step.state, `step ${index + 1} state`);
        state = result.state;
      });
    });
  }
}

test('decide never changes the state it is given, and refuses an unknown kind', () => {
  const config = { channels: { me: { type: 'ntfy' } }, routes: [{ to: ['me'], throttle: '60s' }] };
  const state = {};
  const result = decide(config, { kind: 'update', run_id: 'r' }, state, 100);
  assert.deepEqual(state, {});
  assert.deepEqual(result.state, { throttle: { 'me r': { free: 160, pending: null } } });
  assert.throws(() => decide({ channels: {} }, { kind: 'progress' }, {}, 0), /kind: must be one of message/);
});

test('globs know * and ? only; quiet hours across midnight end at the next `to`', () => {
  assert.equal(globMatch('nightly-*', 'nightly-2026-12-01'), true);
  assert.equal(globMatch('a.c', 'abc'), false);
  assert.equal(globMatch('*[prod]*', 'x [prod] y'), true);
  assert.equal(globMatch('a-?', 'a-b'), true);
  const quiet = { from: '22:00', to: '07:00', tz: 'UTC' };
  assert.equal(quietUntil(quiet, 1700006399), 1700031600);
  assert.equal(quietUntil(quiet, 1700031600), null);
});

const THREE = `channels:
  ops-a: {type: dingtalk, env: {DD_BOT_TOKEN: "\${OPS_A_TOKEN}"}, tags: [oncall]}
  ops-b: {type: dingtalk, env: {DD_BOT_TOKEN: tok_inline_0002}, tags: [oncall]}
`;

test('the config file: the variable, else the working folder, else the user folder; none is null', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-push-config-'));
  const saved = [process.cwd(), process.env.XDG_CONFIG_HOME];
  try {
    process.env.XDG_CONFIG_HOME = path.join(dir, 'config');
    fs.mkdirSync(path.join(dir, 'work'));
    process.chdir(path.join(dir, 'work'));
    assert.equal(configPath({}), null);
    fs.mkdirSync(path.join(dir, 'config', 'mcp-push'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'config', 'mcp-push', 'mcp-push.yaml'), '{}\n');
    assert.equal(configPath({}), path.join(dir, 'config', 'mcp-push', 'mcp-push.yaml'));
    fs.writeFileSync(path.join(dir, 'work', 'mcp-push.yaml'), '{}\n');
    assert.equal(configPath({}), path.join(dir, 'work', 'mcp-push.yaml'));
    assert.throws(
      () => configPath({ MCP_PUSH_CONFIG: '/nowhere/x.yaml' }),
      /MCP_PUSH_CONFIG: no file at \/nowhere\/x.yaml/,
    );
  } finally {
    process.chdir(saved[0]);
    if (saved[1] === undefined) delete process.env.XDG_CONFIG_HOME;
    else process.env.XDG_CONFIG_HOME = saved[1];
  }
});

test('instances plan under their names; a bad file sends nothing, in one config_error result', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-push-config-'));
  const file = path.join(dir, 'mcp-push.yaml');
  fs.writeFileSync(file, THREE);
  const env = { MCP_PUSH_CONFIG: file, OPS_A_TOKEN: 'tok_ref_0001', HITOKOTO: 'false' };
  const planned = plan('t', 'c', { env, now: 1700000000, redact: false });
  assert.deepEqual(
    planned.map((e) => [e.channel, e.url.split('?')[1]]),
    [
      ['ops-a', 'access_token=tok_ref_0001'],
      ['ops-b', 'access_token=tok_inline_0002'],
    ],
  );
  assert.equal(loadConfig(env).channels['ops-b'].type, 'dingtalk');
  assert.deepEqual(inlineSecrets(parseConfig(THREE, 'mcp-push.yaml')), [
    'mcp-push.yaml:3: channels.ops-b.env.DD_BOT_TOKEN: a secret written into the file; better "${DD_BOT_TOKEN}" and the value in the environment',
  ]);
  fs.writeFileSync(file, 'channels:\n  me: {type: telegrm}\n');
  fs.utimesSync(file, 1, 1);
  const result = await dispatch('t', 'c', env);
  assert.deepEqual(
    result.channels.map((r) => [r.channel, r.status, r.error]),
    [['config', 'config_error', `${file}:2: channels.me.type: unknown channel 'telegrm'`]],
  );
  assert.throws(() => parseConfig('a: [\n', 'x.yaml'), ConfigFileError);
});

test('the library refuses a digest route and holds nothing for later, saying so', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-push-config-'));
  const file = path.join(dir, 'mcp-push.yaml');
  fs.writeFileSync(
    file,
    'channels:\n  me: {type: ntfy, env: {NTFY_TOPIC: me}}\n  late: {type: ntfy, env: {NTFY_TOPIC: late}}\n' +
      'routes:\n  - to: [me]\n    digest: {every: 10m}\n    continue: true\n' +
      '  - to: [late]\n    quiet_hours: {from: "00:00", to: "23:59"}\n',
  );
  const result = await dispatch('t', 'c', { MCP_PUSH_CONFIG: file, HITOKOTO: 'false' }, { now: 1700000000 });
  assert.deepEqual(
    result.channels.map((r) => [r.channel, r.status, r.error]),
    [
      [
        'me',
        'config_error',
        'route 1: digest every 10m: digest routes need the MCP server (mcp-push serve), which collects messages; this sends at once, so it is not sent',
      ],
      [
        'late',
        'skipped',
        'route 2: quiet hours 00:00-23:59 UTC: held until they end: until 2023-11-14 23:59:00 UTC; only the MCP server sends held messages, so it is not sent',
      ],
    ],
  );
  assert.equal(result.skipped, 'routing: route 1: digest every 10m');
});
