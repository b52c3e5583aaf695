'use strict';
// stdout belongs to the MCP stdio protocol (and to the user's script): the console channel and every
// log line go to stderr. Checked in a child process so both streams are captured whole.

const assert = require('node:assert/strict');
const { test } = require('node:test');

const { runNode } = require('../test-helpers');

test('the console channel writes the message to stderr and nothing to stdout', async () => {
  const child = await runNode(
    `require('./sendNotify').sendNotify('Title 标题', 'body\\nline 2 😀').then((result) => report(result.toJSON()));`,
    { CONSOLE: 'true', HITOKOTO: 'false' },
  );
  assert.equal(child.code, 0, child.stderr);
  assert.equal(child.stdout, '');
  assert.ok(child.stderr.includes('Title 标题\n\nbody\nline 2 😀\n'), child.stderr);
  assert.deepEqual(
    child.report.channels.map((r) => [r.channel, r.ok, r.status, r.http_status]),
    [['console', true, 'delivered', 200]],
  );
});

test('CONSOLE=false means the console channel is off', async () => {
  const child = await runNode(
    `require('./sendNotify').sendNotify('Title', 'body').then((result) => report(result.toJSON()));`,
    { CONSOLE: 'false', HITOKOTO: 'false' },
  );
  assert.equal(child.stdout, '');
  assert.deepEqual(child.report, { ok: false, skipped: 'no channel is configured', channels: [] });
  assert.ok(!child.stderr.includes('body'));
});
