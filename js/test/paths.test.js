'use strict';
// paths.js: the one path resolver every path-reading field uses, list indexes included; the edit.request
// override merge (specs.js); `$when` rules; the spec format check (python/tests/test_paths.py pins Python).

const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { test } = require('node:test');

const { PathError, resolvePath } = require('../src/paths');
const { loadChannels, mergeOverride } = require('../src/specs');
const { evaluate } = require('../src/success');
const { renderTree } = require('../src/templates');

const REPLY = { ok: true, result: [{ message_id: 42 }, { message_id: 43 }], n: { 0: 'key' } };

test('a path reads mappings by key and lists by index', () => {
  assert.equal(resolvePath(REPLY, 'ok'), true);
  assert.equal(resolvePath(REPLY, 'result.0.message_id'), 42);
  assert.equal(resolvePath(REPLY, 'result.1.message_id'), 43);
  assert.equal(resolvePath(REPLY, 'n.0'), 'key');
  assert.deepEqual(resolvePath(REPLY, 'result.1'), { message_id: 43 });
});

test('a path that names nothing throws or gives the fallback', () => {
  for (const p of ['result.2.message_id', 'result.x', 'ok.0', 'result.-1', 'result.١', 'result.length']) {
    assert.throws(
      () => resolvePath(REPLY, p),
      (err) => err instanceof PathError && err.message === `context has no '${p}'`,
      p,
    );
    assert.equal(resolvePath(REPLY, p, null), null, p);
  }
});

test('every path-reading field indexes lists', () => {
  assert.equal(
    evaluate({ json: [{ path: 'result.1.message_id', equals: 43 }] }, 200, '{"result":[{},{"message_id":43}]}')[0],
    true,
  );
  const ctx = { hook: { ids: [7, 8], extra: [{ k: 'v' }] } };
  assert.deepEqual(renderTree({ id: { $ref: 'hook.ids.1' }, $merge: 'hook.extra.0' }, ctx), { id: 8, k: 'v' });
});

test('$when takes a rule on the context', () => {
  const ctx = { hook: { msgtype: 'textcard', flag: false }, title: 'T' };
  const tree = {
    text: { $when: { path: 'hook.msgtype', equals: 'text' }, content: 'x' },
    textcard: { $when: { path: 'hook.msgtype', equals: 'textcard' }, title: '{{ title }}' },
    one_of: { $when: { path: 'hook.msgtype', in: ['text', 'textcard'] }, y: 1 },
    flagged: { $when: { path: 'hook.flag', truthy: true }, z: 1 },
  };
  assert.deepEqual(renderTree(tree, ctx), { textcard: { title: 'T' }, one_of: { y: 1 } });
});

test('a $when on a path the context lacks is a spec error, not false', () => {
  assert.throws(
    () => renderTree({ a: { $when: { path: 'hook.msgtyp', equals: 'text' }, b: 1 } }, { hook: {} }),
    /context has no 'hook.msgtyp'/,
  );
});

test('an override merges mappings, replaces scalars and lists, and null removes', () => {
  const base = { method: 'POST', url: 'u', headers: { A: '1', B: '2' }, body: { to: ['x'], t: 't' } };
  const merged = mergeOverride(base, { url: 'v', headers: { B: null, C: '3' }, body: { to: ['y', 'z'], id: 1 } });
  assert.deepEqual(merged, {
    method: 'POST',
    url: 'v',
    headers: { A: '1', C: '3' },
    body: { to: ['y', 'z'], t: 't', id: 1 },
  });
  assert.deepEqual(Object.keys(merged.body), ['to', 't', 'id']); // the base's key order, new keys after it
  assert.deepEqual(base.headers, { A: '1', B: '2' }); // neither input changes
  assert.equal('id' in base.body, false);
});

test('the edit request is the channel request with the override merged', () => {
  const { telegram, ntfy } = loadChannels();
  assert.match(telegram.edit.request.url, /\/editMessageText$/);
  assert.equal(telegram.edit.request.proxy, telegram.request.proxy);
  assert.deepEqual(telegram.edit.request.body, { ...telegram.request.body, message_id: { $ref: 'ref' } });
  assert.deepEqual(ntfy.edit.request.headers, ntfy.request.headers);
  assert.match(ntfy.edit.request.url, /\/\{\{ ref \}\}$/);
});

test('a spec folder of another format is refused by name', () => {
  const spec = path.join(__dirname, '..', '..', 'spec');
  for (const declared of ['', 'spec_format: 1\n']) {
    const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-push-format-'));
    fs.cpSync(spec, copy, { recursive: true });
    const settings = path.join(copy, 'settings.yaml');
    fs.writeFileSync(settings, fs.readFileSync(settings, 'utf8').replace('spec_format: 2\n', declared));
    const script = `require(${JSON.stringify(path.join(__dirname, '..', 'src', 'specs'))}).loadChannels()`;
    const run = spawnSync(process.execPath, ['-e', script], {
      env: { ...process.env, MCP_PUSH_SPEC_DIR: copy },
      encoding: 'utf8',
    });
    fs.rmSync(copy, { recursive: true, force: true });
    assert.notEqual(run.status, 0);
    assert.match(run.stderr, /spec\/settings\.yaml: spec_format is 1; this runtime reads spec format 2/);
  }
});

test('an edit override may remove a header with null', () => {
  const yaml = require('js-yaml');
  const Ajv2020 = require('ajv/dist/2020');
  const spec = path.join(__dirname, '..', '..', 'spec');
  const validate = new Ajv2020({ allErrors: false, strict: false }).compile(
    JSON.parse(fs.readFileSync(path.join(spec, 'channel.schema.json'), 'utf8')),
  );
  const doc = yaml.load(fs.readFileSync(path.join(spec, 'channels', 'ntfy.yaml'), 'utf8'));
  doc.edit.request.headers = { Title: null, 'X-Edit': '1' };
  const { validateSpec } = require('../src/specs');
  const loaded = validateSpec(doc, 'spec/channels/ntfy.yaml', validate); // the schema takes the null
  assert.equal('Title' in loaded.edit.request.headers, false);
  assert.equal(loaded.edit.request.headers['X-Edit'], '1');
  assert.equal('Title' in loaded.request.headers, true);
});
