'use strict';
// The single-file drop-in: `npm run build` output works from a folder with no node_modules.

const assert = require('node:assert/strict');
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { test } = require('node:test');

const JS = path.join(__dirname, '..');

function listen(handler) {
  return new Promise((resolve) => {
    const server = http.createServer(handler);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

test('the bundled sendNotify.js delivers from a folder without node_modules', async () => {
  execFileSync(process.execPath, [path.join(JS, 'build.js')], { stdio: 'pipe' });
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'qlscripts-'));
  fs.copyFileSync(path.join(JS, 'dist', 'sendNotify.js'), path.join(folder, 'sendNotify.js'));
  assert.deepEqual(fs.readdirSync(folder), ['sendNotify.js']);
  fs.writeFileSync(
    path.join(folder, 'job.js'),
    "const { sendNotify } = require('./sendNotify');\n" +
      "sendNotify('签到结果', 'ok & done', { ignored: 'x' }).then((r) => process.stdout.write(JSON.stringify(r)));\n",
  );
  const received = [];
  const server = await listen((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      received.push({ url: req.url, body, title: req.headers.title });
      res.setHeader('content-type', 'application/json');
      res.end('{"id":"abc"}');
    });
  });
  try {
    const env = {
      PATH: process.env.PATH,
      HITOKOTO: 'false',
      NTFY_URL: `http://127.0.0.1:${server.address().port}`,
      NTFY_TOPIC: 'jobs',
    };
    // Async child: the server above must keep answering while the script runs.
    const child = require('node:child_process').spawn(process.execPath, ['job.js'], { cwd: folder, env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const code = await new Promise((resolve) => child.on('close', resolve));
    assert.equal(code, 0, stderr);
    const result = JSON.parse(stdout);
    assert.equal(result.ok, true);
    assert.deepEqual(
      result.channels.map((c) => [c.channel, c.status]),
      [['ntfy', 'delivered']],
    );
    assert.deepEqual(
      received.map((r) => [r.url, r.body]),
      [['/jobs', 'ok & done']],
    );
    assert.equal(received[0].title, `=?utf-8?B?${Buffer.from('签到结果').toString('base64')}?=`);
    assert.match(stderr, /ntfy: delivered/);
  } finally {
    server.close();
  }
});

test('sendEvent works from the bundle: envelopes validated and rendered with nothing but the one file', () => {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'qlscripts-'));
  fs.copyFileSync(path.join(JS, 'dist', 'sendNotify.js'), path.join(folder, 'sendNotify.js'));
  const script =
    "const { sendEvent } = require('./sendNotify');" +
    "(async () => { try { await sendEvent({ run_id: 'r', event: 'update', message: 'm', data: { progress: 2 } }); }" +
    " catch (e) { process.stdout.write(e.message + '\\n'); }" +
    " const r = await sendEvent({ run_id: 'r', event: 'update', message: 'm', data: { progress: 0.5 } }, { env: { CONSOLE: 'true', HITOKOTO: 'false' } });" +
    ' process.stdout.write(JSON.stringify(r.channels.map((c) => c.status))); })();';
  const probe = spawnSync(process.execPath, ['-e', script], {
    cwd: folder,
    env: { PATH: process.env.PATH },
    encoding: 'utf8',
  });
  assert.equal(probe.status, 0, probe.stderr);
  assert.equal(probe.stdout, 'data.progress: must be at most 1\n["delivered"]');
  assert.match(probe.stderr, /⏳ r 50%\n\nm\nProgress: █████░░░░░ 50%/);
});

test('the bundle carries the specs: no spec folder or js-yaml is read at run time', () => {
  const bundle = fs.readFileSync(path.join(JS, 'dist', 'sendNotify.js'), 'utf8');
  assert.match(bundle, /oapi\.dingtalk\.com\/robot\/send/);
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'qlscripts-'));
  fs.copyFileSync(path.join(JS, 'dist', 'sendNotify.js'), path.join(folder, 'sendNotify.js'));
  const probe = spawnSync(
    process.execPath,
    [
      '-e',
      "const { plan } = require('./sendNotify'); process.stdout.write(JSON.stringify(plan('t', 'c', { env: { DD_BOT_TOKEN: 'tok_bundle_1' }, now: 1700000000, redact: false })))",
    ],
    { cwd: folder, env: { PATH: process.env.PATH }, encoding: 'utf8' },
  );
  assert.equal(probe.status, 0, probe.stderr);
  const [entry] = JSON.parse(probe.stdout);
  assert.equal(entry.url, 'https://oapi.dingtalk.com/robot/send?access_token=tok_bundle_1');
});

test('the bundle carries every hook: each hooked channel plans from it as from the sources', () => {
  const yaml = require('js-yaml');
  const { plan } = require('../src');
  const { loadChannels } = require('../src/specs');
  const cases = [];
  for (const spec of Object.values(loadChannels()).filter((s) => s.hook)) {
    const file = path.join(JS, '..', 'conformance', 'cases', spec.name, 'cases.yaml');
    for (const c of yaml.load(fs.readFileSync(file, 'utf8')).cases) {
      const input = c.input || {};
      cases.push([
        input.title || '',
        input.content || '',
        { env: c.env || {}, now: c.now ?? 1700000000.5, redact: false },
      ]);
    }
  }
  const hooked = new Set(
    Object.values(loadChannels())
      .filter((s) => s.hook)
      .map((s) => s.hook),
  );
  assert.ok(hooked.has('feishu_sign') && hooked.size >= 12, [...hooked].join());
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'qlscripts-'));
  fs.copyFileSync(path.join(JS, 'dist', 'sendNotify.js'), path.join(folder, 'sendNotify.js'));
  fs.writeFileSync(path.join(folder, 'cases.json'), JSON.stringify(cases));
  const script =
    "const { plan } = require('./sendNotify'); const cases = require('./cases.json');" +
    'process.stdout.write(JSON.stringify(cases.map(([t, c, o]) => plan(t, c, o))));';
  const probe = spawnSync(process.execPath, ['-e', script], {
    cwd: folder,
    env: { PATH: process.env.PATH },
    encoding: 'utf8',
  });
  assert.equal(probe.status, 0, probe.stderr);
  const fromSources = JSON.parse(JSON.stringify(cases.map(([t, c, o]) => plan(t, c, o))));
  assert.deepEqual(JSON.parse(probe.stdout), fromSources);
  assert.ok(!probe.stdout.includes('HookError'), 'a hook is missing from the bundle');
});

test('the bundle is Latin-1 throughout (V8 keeps it one byte a character) and embeds parsed specs, no YAML', () => {
  execFileSync(process.execPath, [path.join(JS, 'build.js')], { stdio: 'pipe' });
  const text = fs.readFileSync(path.join(JS, 'dist', 'sendNotify.js'), 'utf8');
  assert.equal(text.search(/[^\x00-\xff]/u), -1);
  assert.ok(!text.includes('js-yaml/dist') && !text.includes('function load(input, options)'), 'js-yaml is bundled');
  // The channel schema's own words: not needed (the embedded specs are validated), so not embedded.
  const schema = JSON.parse(fs.readFileSync(path.join(JS, '..', 'spec', 'channel.schema.json'), 'utf8'));
  assert.ok(!text.includes(JSON.stringify(schema.$id || schema.title)), 'the channel schema is embedded');
});

test('templates precompiled into the bundle render what the checkout compiles: every planning conformance case', () => {
  execFileSync(process.execPath, [path.join(JS, 'build.js')], { stdio: 'pipe' });
  const yaml = require('js-yaml');
  const casesDir = path.join(JS, '..', 'conformance', 'cases');
  const inputs = [];
  for (const folder of fs.readdirSync(casesDir).sort()) {
    const file = path.join(casesDir, folder, 'cases.yaml');
    if (!fs.existsSync(file)) continue;
    for (const c of yaml.load(fs.readFileSync(file, 'utf8')).cases || []) {
      if (c.env && c.input && typeof c.input.title === 'string')
        inputs.push([c.env, c.input.title, c.input.content ?? '']);
    }
  }
  assert.ok(inputs.length > 100, `${inputs.length} cases`);
  const script = (module) => `const { plan } = require(${JSON.stringify(module)});
const inputs = JSON.parse(require('node:fs').readFileSync(0, 'utf8'));
process.stdout.write(JSON.stringify(inputs.map(([env, title, content]) => {
  try { return plan(title, content, { env: { HITOKOTO: 'false', ...env }, now: 1700000000, redact: false }); } catch (error) { return String(error.message); }
})));`;
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'bundle-plan-'));
  fs.copyFileSync(path.join(JS, 'dist', 'sendNotify.js'), path.join(folder, 'sendNotify.js'));
  const input = JSON.stringify(inputs);
  const run = (cwd, module) =>
    execFileSync(process.execPath, ['-e', script(module)], {
      cwd,
      input,
      encoding: 'utf8',
      env: { PATH: process.env.PATH },
    });
  assert.equal(run(folder, './sendNotify'), run(JS, './sendNotify'));
});

test('sendEvent from the bundle sends the card the sources plan (card templates and filters bundled)', async () => {
  const { planEvent } = require('../src');
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'qlscripts-'));
  fs.copyFileSync(path.join(JS, 'dist', 'sendNotify.js'), path.join(folder, 'sendNotify.js'));
  const envelope = {
    run_id: 'r1',
    event: 'end',
    message: '**done** <b>x</b> [y](javascript:z) @everyone',
    data: { step: 'ship', artifact_url: 'https://ci.example.com/r/1', extra: 1 },
    timestamp: '2026-01-01T00:00:00Z',
  };
  fs.writeFileSync(path.join(folder, 'envelope.json'), JSON.stringify(envelope));
  fs.writeFileSync(
    path.join(folder, 'job.js'),
    "const { sendEvent } = require('./sendNotify');\n" +
      "sendEvent(require('./envelope.json')).then((r) => process.stdout.write(JSON.stringify(r)));\n",
  );
  const received = [];
  const server = await listen((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      received.push({
        url: req.url,
        body,
        markdown: req.headers.markdown,
        tags: req.headers.tags,
        click: req.headers.click,
      });
      res.setHeader('content-type', 'application/json');
      res.end('{"id":"abc"}');
    });
  });
  try {
    const env = {
      PATH: process.env.PATH,
      HITOKOTO: 'false',
      NTFY_URL: `http://127.0.0.1:${server.address().port}`,
      NTFY_TOPIC: 'runs',
    };
    const child = require('node:child_process').spawn(process.execPath, ['job.js'], { cwd: folder, env });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const code = await new Promise((resolve) => child.on('close', resolve));
    assert.equal(code, 0, stderr);
    const [planned] = planEvent(envelope, { env, redact: false });
    assert.deepEqual(received, [
      { url: '/runs', body: planned.body, markdown: 'yes', tags: 'end', click: 'https://ci.example.com/r/1' },
    ]);
    assert.match(planned.body, /^\\\*\\\*done\\\*\\\* \\<b\\>x/);
  } finally {
    server.close();
  }
});

test('the bundle compiles undici, nodemailer, ajv, yaml and markdown-it only when first required', async () => {
  // Each is carried as a string (build.js LAZY_PACKAGES) and compiled by vm.compileFunction when the
  // bundle first requires it: a direct send compiles none of them, a send through a proxy compiles undici.
  const received = [];
  const server = await listen((req, res) => {
    received.push(req.url);
    req.resume();
    req.on('end', () => res.setHeader('content-type', 'application/json').end('{"id":"abc"}'));
  });
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'qlscripts-'));
  fs.copyFileSync(path.join(JS, 'dist', 'sendNotify.js'), path.join(folder, 'sendNotify.js'));
  fs.writeFileSync(
    path.join(folder, 'job.js'),
    "const vm = require('node:vm'); const compiled = []; const compile = vm.compileFunction;\n" +
      'vm.compileFunction = (code, params, options) => { compiled.push(options.filename); return compile(code, params, options); };\n' +
      "const { sendNotify } = require('./sendNotify');\n" +
      '(async () => {\n' +
      "  const direct = await sendNotify('t', 'direct');\n" +
      '  const afterDirect = [...compiled];\n' +
      "  process.env.HTTP_PROXY = process.env.PROXY_URL; process.env.NO_PROXY = '127.0.0.1';\n" +
      "  const proxied = await sendNotify('t', 'proxied');\n" +
      '  process.stdout.write(JSON.stringify({ afterDirect, compiled, statuses: [direct, proxied].map((r) => r.channels[0].status) }));\n' +
      '})();\n',
  );
  try {
    const port = server.address().port;
    const env = {
      PATH: process.env.PATH,
      HITOKOTO: 'false',
      NTFY_URL: `http://127.0.0.1:${port}`,
      NTFY_TOPIC: 'jobs',
      PROXY_URL: `http://127.0.0.1:${port}`, // never used: 127.0.0.1 is in NO_PROXY, so the request stays direct
    };
    const child = require('node:child_process').spawn(process.execPath, ['job.js'], { cwd: folder, env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const code = await new Promise((resolve) => child.on('close', resolve));
    assert.equal(code, 0, stderr);
    const out = JSON.parse(stdout);
    assert.deepEqual(out.statuses, ['delivered', 'delivered']);
    assert.deepEqual(out.afterDirect, []);
    assert.deepEqual(out.compiled, ['sendNotify.js (bundled undici)']);
    assert.deepEqual(received, ['/jobs', '/jobs']);
  } finally {
    server.close();
  }
});

test("the bundle carries each spec template's simpleTemplates parse, so a bundled send does not tokenize them", () => {
  execFileSync(process.execPath, [path.join(JS, 'build.js')], { stdio: 'pipe' });
  const text = fs.readFileSync(path.join(JS, 'dist', 'sendNotify.js'), 'latin1');
  const start = text.indexOf('SIMPLE=');
  const end = text.indexOf(';module2.exports', start);
  assert.ok(start > 0 && end > start, 'no SIMPLE table in the bundle');
  const table = require('node:vm').runInNewContext(`(${text.slice(start + 'SIMPLE='.length, end)})`);
  const { FILTERS } = require('../src/templates');
  const { parseSimple } = require('../src/simpleTemplates');
  const sources = Object.keys(table);
  assert.ok(sources.length > 150, `${sources.length} templates`);
  for (const source of sources)
    assert.deepEqual(JSON.parse(JSON.stringify(table[source])), parseSimple(source, FILTERS), source);
  assert.ok(sources.filter((source) => table[source] !== null).length * 10 > sources.length * 8);
});
