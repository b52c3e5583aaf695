'use strict';
// The npm package as a user gets it: `npm pack` from js/, the tarball installed into an empty folder
// outside the repo, then the README's `require('mcp-push')` line plans and sends from there, reading the
// specs the tarball carries (never the repo's spec/).

const assert = require('node:assert/strict');
const { execFileSync, spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { after, before, test } = require('node:test');

const { plan } = require('../src');
const { startVendor } = require('../test-helpers');

const JS = path.join(__dirname, '..');
const REPO = path.join(JS, '..');
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const NOW = 1700000000;

/** Every file under `dir`, as '/'-separated paths relative to it. */
function walk(dir, prefix = '') {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    return entry.isDirectory() ? walk(path.join(dir, entry.name), rel) : [rel];
  });
}

/**
 * An empty project that depends on the tarball only, with the dependencies pinned as js/package-lock.json
 * pins them, so `npm ci --offline` takes them from npm's cache (filled by `npm ci` in js/): no registry.
 */
function writeConsumerProject(folder, tarball) {
  const lock = JSON.parse(fs.readFileSync(path.join(JS, 'package-lock.json'), 'utf8'));
  const ours = JSON.parse(fs.readFileSync(path.join(JS, 'package.json'), 'utf8'));
  const runtimeDeps = Object.fromEntries(Object.entries(lock.packages).filter(([key, entry]) => key && !entry.dev));
  const root = { name: 'consumer', private: true, dependencies: { 'mcp-push': `file:${tarball}` } };
  const packages = {
    '': root,
    'node_modules/mcp-push': {
      version: ours.version,
      resolved: `file:${tarball}`,
      license: ours.license,
      dependencies: ours.dependencies,
    },
    ...runtimeDeps,
  };
  fs.writeFileSync(path.join(folder, 'package.json'), JSON.stringify(root));
  fs.writeFileSync(
    path.join(folder, 'package-lock.json'),
    JSON.stringify({ name: 'consumer', lockfileVersion: 3, requires: true, packages }),
  );
}

function npm(args, cwd) {
  return execFileSync(NPM, args, {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    shell: process.platform === 'win32',
  });
}

/** Runs `script` with node in `cwd` (async: the vendor server in this process keeps answering). */
function runNode(script, cwd, env) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['-e', script], { cwd, env: { PATH: process.env.PATH, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

let work;
let packed;
let consumer;
let vendor;

before(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-push-pack-'));
  // prepack copies ../spec into js/spec; postpack removes it again.
  [packed] = JSON.parse(npm(['pack', '--json', '--pack-destination', work], JS));
  consumer = fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-push-consumer-'));
  const tarball = path.join(consumer, packed.filename);
  fs.copyFileSync(path.join(work, packed.filename), tarball);
  writeConsumerProject(consumer, packed.filename);
  npm(['ci', '--offline', '--no-audit', '--no-fund'], consumer);
  vendor = await startVendor();
});

after(async () => {
  if (vendor) await vendor.close();
  for (const folder of [work, consumer]) if (folder) fs.rmSync(folder, { recursive: true, force: true });
});

test('npm pack ships every spec file, the LICENSE, and leaves no copy behind in js/', () => {
  const files = new Set(packed.files.map((f) => f.path));
  // The Python side's stamp of the checkout's spec files (spec_stamp.py) is left out on purpose.
  const specFiles = walk(path.join(REPO, 'spec'))
    .filter((f) => path.basename(f) !== '.validated.stat')
    .map((f) => `spec/${f}`);
  assert.ok(!files.has('spec/.validated.stat'), 'the stamp of the checkout is not shipped');
  assert.ok(specFiles.some((f) => /^spec\/channels\/\w+\.yaml$/.test(f)));
  for (const wanted of [
    'spec/channel.schema.json',
    'spec/envelope.schema.json',
    'spec/settings.yaml',
    'spec/templates/event.yaml',
  ]) {
    assert.ok(specFiles.includes(wanted), wanted);
  }
  assert.deepEqual(
    specFiles.filter((f) => !files.has(f)),
    [],
    'spec files missing from the tarball',
  );
  assert.deepEqual(
    [...files].filter((f) => f.startsWith('spec/') && !specFiles.includes(f)),
    [],
    'tarball files not in spec/',
  );
  assert.ok(files.has('LICENSE') && files.has('src/index.js') && files.has('sendNotify.js'));
  assert.ok(!files.has('test/package.test.js') && ![...files].some((f) => f.startsWith('node_modules/')));
  assert.equal(fs.existsSync(path.join(JS, 'spec')), false, 'postpack must remove js/spec');
  assert.equal(fs.existsSync(path.join(JS, 'LICENSE')), false, 'postpack must remove js/LICENSE');
});

test("the README's require('mcp-push') line plans and sends from an installed tarball, with its own specs", async () => {
  const readme = fs.readFileSync(path.join(REPO, 'README.md'), 'utf8');
  const [line] = readme.split('\n').filter((l) => l.includes("require('mcp-push')"));
  assert.ok(line, "README.md has no require('mcp-push') line");
  assert.equal(path.relative(REPO, consumer).startsWith('..'), true, 'the consumer folder must be outside the repo');

  const env = {
    HITOKOTO: 'false',
    NTFY_URL: vendor.url,
    NTFY_TOPIC: 'builds',
    DD_BOT_TOKEN: 'dd_token_for_pack_test',
    DD_BOT_SECRET: 'SECdd_secret_for_pack_test',
    TG_BOT_TOKEN: '123456:tg_token_for_pack_test',
    TG_USER_ID: '42',
  };
  const script = `${line}
(async () => {
  const report = {
    resolved: require.resolve('mcp-push'),
    specDir: require('mcp-push/src/specSource').specDir(),
    plan: plan('Backup', 'finished in 3 min', { env: ${JSON.stringify(env)}, now: ${NOW} }),
  };
  const result = await send('Backup', 'finished in 3 min', { env: { HITOKOTO: 'false', NTFY_URL: '${vendor.url}', NTFY_TOPIC: 'builds' } });
  report.result = result.toJSON ? result.toJSON() : result;
  report.ok = result.ok;
  process.stdout.write(JSON.stringify(report));
})();
`;
  // MCP_PUSH_SPEC_DIR empty: no override; the package must find its own specs.
  const run = await runNode(script, consumer, { MCP_PUSH_SPEC_DIR: '' });
  assert.equal(run.code, 0, run.stderr);
  const report = JSON.parse(run.stdout);

  const installed = fs.realpathSync(path.join(consumer, 'node_modules', 'mcp-push'));
  assert.equal(report.resolved, path.join(installed, 'src', 'index.js'));
  assert.equal(report.specDir, path.join(installed, 'spec'));

  // The same plan as this checkout's runtime makes from the repo's spec/, and a sensible one.
  assert.deepEqual(report.plan, plan('Backup', 'finished in 3 min', { env, now: NOW }));
  assert.deepEqual(report.plan.map((r) => r.channel).sort(), ['dingtalk', 'ntfy', 'telegram']);
  const ntfyPlan = report.plan.find((r) => r.channel === 'ntfy');
  assert.equal(ntfyPlan.method, 'POST');
  assert.equal(ntfyPlan.url, `${vendor.url}/builds`);
  assert.equal(ntfyPlan.body, 'finished in 3 min');
  assert.doesNotMatch(
    JSON.stringify(report.plan),
    /dd_token_for_pack_test|dd_secret_for_pack_test|tg_token_for_pack_test/,
  );

  assert.equal(report.ok, true, run.stdout);
  assert.deepEqual(
    vendor.received.map((r) => [r.method, r.path, r.body]),
    [['POST', '/builds', 'finished in 3 min']],
  );
});

test("in a checkout the repo's spec/ wins over a leftover js/spec copy; installed, the package's own copy is read", () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-push-layout-'));
  try {
    const layouts = {
      checkout: {
        pkg: path.join(root, 'repo', 'js'),
        specs: [path.join(root, 'repo', 'spec'), path.join(root, 'repo', 'js', 'spec')],
      },
      installed: {
        pkg: path.join(root, 'app', 'node_modules', 'mcp-push'),
        specs: [path.join(root, 'app', 'node_modules', 'mcp-push', 'spec')],
      },
    };
    const found = {};
    for (const [name, { pkg, specs }] of Object.entries(layouts)) {
      fs.mkdirSync(path.join(pkg, 'src'), { recursive: true });
      fs.copyFileSync(path.join(JS, 'src', 'specSource.js'), path.join(pkg, 'src', 'specSource.js'));
      for (const dir of specs) {
        fs.mkdirSync(dir, { recursive: true });
        fs.writeFileSync(path.join(dir, 'channel.schema.json'), '{}');
      }
      const script = `process.stdout.write(require(${JSON.stringify(path.join(pkg, 'src', 'specSource.js'))}).specDir())`;
      // NODE_PATH: the copied module's js-yaml comes from js/node_modules.
      const env = { PATH: process.env.PATH, NODE_PATH: path.join(JS, 'node_modules') };
      found[name] = execFileSync(process.execPath, ['-e', script], { cwd: root, env, encoding: 'utf8' });
    }
    assert.deepEqual(found, {
      checkout: path.join(root, 'repo', 'spec'),
      installed: path.join(root, 'app', 'node_modules', 'mcp-push', 'spec'),
    });
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
