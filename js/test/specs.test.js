'use strict';
// specs.js / specSource.js: spec/validated.json (the specs tools/gen_docs.py validated, parsed) is read when
// it matches the spec files, the YAML when a spec changed since; only the configured channels are built.

const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { test } = require('node:test');

const JS = path.join(__dirname, '..');
const SPEC = path.join(JS, '..', 'spec');

/** Runs `script` in a fresh node with MCP_PUSH_SPEC_DIR=dir (when given); its stdout, parsed. */
function run(script, dir = null) {
  const env = { PATH: process.env.PATH, ...(dir ? { MCP_PUSH_SPEC_DIR: dir } : {}) };
  return JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: JS, env, encoding: 'utf8' }));
}

function specCopy() {
  const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'specs-')), 'spec');
  fs.cpSync(SPEC, dir, { recursive: true });
  return dir;
}

function replace(file, oldText, newText) {
  const text = fs.readFileSync(file, 'utf8');
  assert.ok(text.includes(oldText), `${oldText} not in ${file}`);
  fs.writeFileSync(file, text.replace(oldText, newText));
}

const NTFY_NAME = `const { loadChannel } = require('./src/specs');
const source = require('./src/specSource').readSpecSource();
process.stdout.write(JSON.stringify([loadChannel('ntfy').display_name, source.validated,
  Object.keys(require.cache).some((f) => f.includes('js-yaml'))]));`;

test('the digest of the spec files is the one tools/gen_docs.py recorded (the same as Python computes)', () => {
  const { specsDigest } = require('../src/specSource');
  assert.equal(specsDigest(SPEC), fs.readFileSync(path.join(SPEC, 'validated.sha256'), 'utf8').trim());
});

test('a current spec/validated.json is what the loader reads, without js-yaml', () => {
  const dir = specCopy();
  // Changed in the JSON only, its digest kept: had the YAML been read, the name would be ntfy's own.
  replace(path.join(dir, 'validated.json'), '"display_name":"ntfy"', '"display_name":"ntfy from the JSON"');
  assert.deepEqual(run(NTFY_NAME, dir), ['ntfy from the JSON', true, false]);
});

test('a stale spec/validated.json is ignored: the edited YAML is read and validated', () => {
  const dir = specCopy();
  replace(path.join(dir, 'validated.json'), '"display_name":"ntfy"', '"display_name":"ntfy from the JSON"');
  replace(path.join(dir, 'channels', 'ntfy.yaml'), 'display_name: ntfy', 'display_name: ntfy edited');
  assert.deepEqual(run(NTFY_NAME, dir), ['ntfy edited', false, true]);
  replace(path.join(dir, 'channels', 'dingtalk.yaml'), 'display_name:', 'display_nam:');
  assert.throws(() => run(NTFY_NAME, dir), /dingtalk\.yaml/); // every channel is validated from YAML
});

test('an unreadable spec/validated.json (a merge conflict left in it) is ignored: the YAML is read', () => {
  const dir = specCopy();
  fs.writeFileSync(path.join(dir, 'validated.json'), '<<<<<<< HEAD\n{"digest":\n');
  assert.deepEqual(run(NTFY_NAME, dir), ['ntfy', false, true]);
});

test('a plan builds only the configured channels and loads neither js-yaml, ajv nor undici', () => {
  const dir = specCopy();
  // A channel that would fail to build (its name is not its file's), in the JSON only: never built.
  replace(path.join(dir, 'validated.json'), '"name":"dingtalk"', '"name":"dingtalk_renamed"');
  const script = `const { plan } = require('./src/index');
const entries = plan('t', 'c', { env: { NTFY_TOPIC: 'x', HITOKOTO: 'false' } });
const files = Object.keys(require.cache);
const modules = ['js-yaml', 'ajv', 'undici'].filter((m) => files.some((f) => f.includes(\`node_modules/\${m}/\`)));
let built = 'built';
try { require('./src/specs').loadChannel('dingtalk'); } catch (error) { built = error.message; }
process.stdout.write(JSON.stringify([entries.map((e) => e.channel), modules, built]));`;
  const [channels, modules, dingtalk] = run(script, dir);
  assert.deepEqual(channels, ['ntfy']);
  assert.deepEqual(modules, []);
  assert.match(dingtalk, /must match the file name/); // asked for by name, it is built (and refused)
});
