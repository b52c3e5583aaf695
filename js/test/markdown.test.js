'use strict';
// Markdown in (format: 'markdown'): markdown-it loads only when asked for, send/plan take the format and
// refuse another in Python's words, and the bundle converts too. conformance/cases/markdown/ pins the
// converted bytes per channel against the Python runtime.

const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { after, before, test } = require('node:test');

const { JS_ROOT, json, startVendor } = require('../test-helpers');

let vendor;
before(async () => {
  vendor = await startVendor();
});
after(() => vendor.close());

const telegram = () => ({
  HITOKOTO: 'false',
  TG_BOT_TOKEN: '123:tok_markdown_js',
  TG_USER_ID: '42',
  TG_API_HOST: vendor.url,
});
const TELEGRAM_OK = { ok: true, result: { message_id: 7, chat: { id: 1, type: 'private' }, date: 1700000000 } };

test('a plain send never loads markdown-it; a Markdown plan does', () => {
  const script = [
    "const { plan } = require('./src');",
    "const env = { NTFY_TOPIC: 't' };",
    "plan('t', 'c', { env });",
    "const loaded = () => Object.keys(require.cache).some((f) => f.includes(`${require('path').sep}markdown-it${require('path').sep}`));",
    'const before = loaded();',
    "plan('t', '**c**', { env, format: 'markdown' });",
    'process.stdout.write(`${before} ${loaded()}`);',
  ].join('\n');
  const probe = spawnSync(process.execPath, ['-e', script], { cwd: JS_ROOT, encoding: 'utf8' });
  assert.equal(probe.status, 0, probe.stderr);
  assert.equal(probe.stdout, 'false true');
});

test('another format is refused in the one wording, by plan, send and checkFormat', async () => {
  const { checkFormat } = require('../src/markdown');
  const { plan, send } = require('../src');
  for (const value of ['html', 'Markdown', 1]) {
    assert.throws(() => checkFormat(value), { message: 'format: must be text or markdown' });
    assert.throws(() => plan('t', 'c', { env: { NTFY_TOPIC: 't' }, format: value }), {
      message: 'format: must be text or markdown',
    });
    await assert.rejects(send('t', 'c', { env: { NTFY_TOPIC: 't' }, format: value }), {
      message: 'format: must be text or markdown',
    });
  }
});

test('the schema offers exactly the converter dialects', () => {
  const { DIALECTS } = require('../src/markdown');
  const schema = JSON.parse(fs.readFileSync(path.join(JS_ROOT, '..', 'spec', 'channel.schema.json'), 'utf8'));
  assert.deepEqual(schema.properties.markdown.enum, DIALECTS);
});

test('send delivers Telegram HTML with parse_mode HTML', async () => {
  const { send } = require('../src');
  vendor.route('/bot', json(200, TELEGRAM_OK));
  const result = await send('Build', '**done** in `3 s`', { env: telegram(), format: 'markdown' });
  assert.equal(result.channels[0].status, 'delivered');
  const body = JSON.parse(vendor.received.at(-1).body);
  assert.equal(body.text, 'Build\n\n<b>done</b> in <code>3 s</code>');
  assert.equal(body.parse_mode, 'HTML');
});

test('the bundle converts Markdown too (markdown-it inside the one file)', () => {
  const bundle = path.join(JS_ROOT, 'dist', 'sendNotify.js');
  spawnSync(process.execPath, [path.join(JS_ROOT, 'build.js')], { stdio: 'pipe' }); // this checkout's sources
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'md-bundle-'));
  fs.copyFileSync(bundle, path.join(folder, 'sendNotify.js'));
  const script =
    "const { plan } = require('./sendNotify'); process.stdout.write(plan('T', '~~a~~ <b>', { env: { TG_BOT_TOKEN: '1:x', TG_USER_ID: '2' }, now: 1700000000, redact: false, format: 'markdown' })[0].body)";
  const probe = spawnSync(process.execPath, ['-e', script], {
    cwd: folder,
    env: { PATH: process.env.PATH },
    encoding: 'utf8',
  });
  assert.equal(probe.status, 0, probe.stderr);
  assert.equal(
    probe.stdout,
    '{"chat_id":"2","text":"T\\n\\n<s>a</s> &lt;b&gt;","parse_mode":"HTML","disable_web_page_preview":true}',
  );
});
