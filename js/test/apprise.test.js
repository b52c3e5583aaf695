'use strict';
// The apprise channel in Node: sent by the `apprise` command on PATH; without it, a config_error saying
// how to enable it (python/tests/test_apprise.py also delivers through the command of its environment).
// The URLs' secrets are masked as in Python (the `urls` secret shape).

const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { test } = require('node:test');

const { plan, send } = require('../src');
const { Redactor, envSecrets } = require('../src/redact');
const { loadChannels } = require('../src/specs');
const { findApprise } = require('../src/transports/apprise');
const { captureStderr, withProcessEnv } = require('../test-helpers');

const BOT_TOKEN = '123456:AAmcpFakeBotTok_9f3k';
const PASSWORD = 'mcpFakePassw0rd';

test('without the apprise command on PATH the channel is a config_error saying how to enable it', async () => {
  const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'no-apprise-'));
  const result = await withProcessEnv({ PATH: empty }, () =>
    captureStderr(() => send('t', 'c', { env: { APPRISE_URLS: 'json://127.0.0.1:9/x', HITOKOTO: 'false' } })),
  );
  const [channel] = result.value.channels;
  assert.equal(channel.status, 'config_error');
  assert.match(channel.error, /^the apprise channel needs the apprise command on PATH: pip install apprise/);
});

test('the command is looked up on PATH: an executable file named apprise', () => {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'apprise-bin-'));
  assert.equal(findApprise(folder), null);
  fs.writeFileSync(path.join(folder, 'apprise'), '#!/bin/sh\n', { mode: 0o755 });
  assert.equal(findApprise(`${os.tmpdir()}${path.delimiter}${folder}`), path.join(folder, 'apprise'));
});

test('tokens, passwords and token hosts in APPRISE_URLS are masked', () => {
  const urls = `tgram://${BOT_TOKEN}/987654, mailto://ops:${PASSWORD}@mail.example.org`;
  const shown = JSON.stringify(plan('t', 'c', { env: { APPRISE_URLS: urls } }));
  assert.ok(!shown.includes(BOT_TOKEN) && !shown.includes(PASSWORD), shown);
  const redactor = new Redactor(envSecrets(loadChannels().apprise.env, { APPRISE_URLS: urls }));
  assert.equal(
    redactor.text(`Telegram said: bad token ${BOT_TOKEN}; SMTP AUTH failed for ops:${PASSWORD}`),
    'Telegram said: bad token ***; SMTP AUTH failed for ***',
  );
});
