'use strict';
// Retries (spec/README.md, "Retries") against a real loopback vendor: what is tried again, after how
// long, and what the result says. Waits pass on a fake clock (the jitter drawn at 0) and are recorded.

const assert = require('node:assert/strict');
const { after, before, beforeEach, test } = require('node:test');

const { send } = require('../src');
const { timeBudget } = require('../src/api');
const { RetryPolicy, retryAfter } = require('../src/retry');
const { transportFor } = require('../src/transports');
const { captureStderr, closedPort, fakeRetryPace, json, never, startVendor } = require('../test-helpers');

const slept = fakeRetryPace();

let vendor;
before(async () => {
  vendor = await startVendor();
});
after(() => vendor.close());
beforeEach(() => {
  vendor.received.length = 0;
  slept.length = 0;
});

/** A handler answering the n-th request with the n-th handler (the last one from then on). */
const inTurn = (...handlers) => {
  let calls = 0;
  return (req, res, received) => handlers[Math.min(calls++, handlers.length - 1)](req, res, received);
};

const withHeaders = (status, headers, body) => (req, res) => {
  res.writeHead(status, { 'Content-Type': 'text/plain', ...headers });
  res.end(body);
};

const gotify = (path) => ({ HITOKOTO: 'false', GOTIFY_URL: `${vendor.url}${path}`, GOTIFY_TOKEN: 'gotify_tok_r' });

async function sendQuietly(env) {
  const { value } = await captureStderr(() => send('t', 'c', { env }));
  return value;
}

test('a 429 with Retry-After: 1, then 200: waits the second asked for and is delivered on the second try', async () => {
  vendor.route('/a429', inTurn(withHeaders(429, { 'Retry-After': '1' }, 'slow down'), json(200, { id: 1 })));
  const result = await sendQuietly(gotify('/a429'));
  const entry = result.get('gotify');
  assert.deepEqual([entry.ok, entry.status, entry.attempts, entry.http_status], [true, 'delivered', 2, 200]);
  assert.deepEqual(slept, [1]);
  assert.equal(vendor.received.length, 2);
});

test('a 5xx on every try: four tries with the backoff doubling, and the last answer is the result', async () => {
  vendor.route('/down', withHeaders(503, {}, 'upstream unavailable'));
  const entry = (await sendQuietly(gotify('/down'))).get('gotify');
  assert.deepEqual([entry.ok, entry.status, entry.attempts, entry.http_status], [false, 'rejected', 4, 503]);
  assert.equal(entry.error, 'HTTP 503: upstream unavailable (after 4 tries)');
  assert.deepEqual(slept, [1, 2, 4]);
});

test("a vendor's error code in a 200 reply is its no: one try, never retried", async () => {
  vendor.route('/cgi-bin/webhook/send', json(200, { errcode: 93000, errmsg: 'invalid webhook url' }));
  const result = await sendQuietly({ HITOKOTO: 'false', QYWX_KEY: 'key_r', QYWX_ORIGIN: vendor.url });
  const entry = result.get('wecom_bot');
  assert.deepEqual([entry.ok, entry.status, entry.attempts, entry.http_status], [false, 'rejected', 1, 200]);
  assert.ok(!entry.error.includes('tries'), entry.error);
  assert.deepEqual(slept, []);
});

test("a 400 is the vendor's no: one try", async () => {
  vendor.route('/bad', withHeaders(400, {}, 'bad request'));
  const entry = (await sendQuietly(gotify('/bad'))).get('gotify');
  assert.deepEqual([entry.status, entry.attempts, entry.error], ['rejected', 1, 'HTTP 400: bad request']);
  assert.deepEqual(slept, []);
});

test('a refused connection never reached the vendor: tried again after the backoff, every try counted', async () => {
  const port = await closedPort();
  const result = await sendQuietly({
    HITOKOTO: 'false',
    GOTIFY_URL: `http://127.0.0.1:${port}`,
    GOTIFY_TOKEN: 'gotify_tok_r',
  });
  const entry = result.get('gotify');
  assert.deepEqual([entry.status, entry.attempts], ['network_error', 4]);
  assert.equal(entry.error, `connection refused (POST http://127.0.0.1:${port}/message?token=***) (after 4 tries)`);
  assert.deepEqual(slept, [1, 2, 4]);
});

test('a connection closed after the request was sent is not tried again: the vendor may have the message', async () => {
  vendor.route(
    '/reset',
    inTurn((req) => req.socket.destroy(), json(200, { id: 2 })),
  );
  const entry = (await sendQuietly(gotify('/reset'))).get('gotify');
  assert.deepEqual([entry.ok, entry.status, entry.attempts], [false, 'network_error', 1]);
  assert.match(
    entry.error,
    /^connection closed after the request was sent; the message may have been delivered \(POST /,
  );
  assert.equal(vendor.received.length, 1);
  assert.deepEqual(slept, []);
});

test('a timeout is not retried: the vendor may already have the message', async () => {
  vendor.route('/hang', never());
  const entry = (await sendQuietly({ ...gotify('/hang'), MCP_PUSH_TIMEOUT: '0.2' })).get('gotify');
  assert.deepEqual([entry.status, entry.attempts, entry.error], ['timeout', 1, 'no reply within 0.2 s']);
  assert.deepEqual(slept, []);
});

test("Telegram's parameters.retry_after in a 429 body is the wait (spec retry.after_json)", async () => {
  const flood = json(429, {
    ok: false,
    error_code: 429,
    description: 'Too Many Requests: retry after 3',
    parameters: { retry_after: 3 },
  });
  vendor.route('/botTOKEN_R/sendMessage', inTurn(flood, json(200, { ok: true })));
  const result = await sendQuietly({
    HITOKOTO: 'false',
    TG_BOT_TOKEN: 'TOKEN_R',
    TG_USER_ID: '1',
    TG_API_HOST: vendor.url,
  });
  assert.deepEqual([result.get('telegram').ok, result.get('telegram').attempts], [true, 2]);
  assert.deepEqual(slept, [3]);
});

test('a wait beyond the deadline ends the retries, and the result says why', async () => {
  vendor.route('/later', withHeaders(429, { 'Retry-After': '120' }, 'slow down'));
  const entry = (await sendQuietly(gotify('/later'))).get('gotify');
  assert.deepEqual([entry.status, entry.attempts, entry.http_status], ['rejected', 1, 429]);
  assert.equal(entry.error, 'HTTP 429: slow down (not retried: waiting 120 s would pass the 60 s deadline)');
  assert.deepEqual(slept, []);
});

test('the retry log line names the wait and masks the secrets', async () => {
  vendor.route('/logged', inTurn(withHeaders(500, {}, 'token gotify_tok_r is busy'), json(200, { id: 3 })));
  const log = require('../src/log');
  log.setLevel('info');
  let stderr;
  try {
    ({ stderr } = await captureStderr(() => send('t', 'c', { env: gotify('/logged') })));
  } finally {
    log.setLevel('warning');
  }
  assert.match(stderr, /INFO Gotify: HTTP 500: token \*\*\* is busy; trying again in 1 s/);
  assert.ok(!stderr.includes('gotify_tok_r'));
});

// ---- the policy's pieces -----------------------------------------------------------------------------

const policy = (overrides = {}) =>
  new RetryPolicy({
    attempts: 4,
    backoff_seconds: 1,
    max_backoff_seconds: 30,
    jitter: 0.5,
    deadline_seconds: 60,
    ...overrides,
  });

test('the backoff doubles from backoff_seconds, stops at max_backoff_seconds, and jitter shortens it', () => {
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6, 7].map((tries) => policy().backoff(tries, 0)),
    [1, 2, 4, 8, 16, 30, 30],
  );
  assert.equal(policy().backoff(2, 0.5), 1.5); // 2 * (1 - 0.5 * 0.5)
  assert.equal(policy({ jitter: 0 }).backoff(3, 0.9), 4);
});

test("a spec's retry block overrides settings.yaml field by field", () => {
  const telegram = RetryPolicy.forSpec({ retry: { after_json: 'parameters.retry_after' } });
  assert.deepEqual(
    { ...telegram },
    {
      attempts: 4,
      backoff_seconds: 1,
      max_backoff_seconds: 30,
      jitter: 0.5,
      deadline_seconds: 60,
      after_json: 'parameters.retry_after',
      idempotent: false,
    },
  );
  assert.equal(RetryPolicy.forSpec(require('../src/specs').loadChannels().matrix).idempotent, true);
  assert.equal(RetryPolicy.forSpec({ retry: { attempts: 1 } }).attempts, 1);
  assert.equal(RetryPolicy.forSpec({ retry: null }).after_json, null);
});

test('HTTP 429 and 5xx say "later"; other statuses are answers. For SMTP, 4xx is the transient class', () => {
  assert.deepEqual(
    [429, 500, 503, 400, 401, 404, 302].map((s) => transportFor('http').retryable(s)),
    [true, true, true, false, false, false, false],
  );
  assert.deepEqual(
    [421, 450, 451, 550, 554].map((s) => transportFor('smtp').retryable(s)),
    [true, true, true, false, false],
  );
});

test('Retry-After is RFC 9110 delta-seconds or an IMF-fixdate exactly; a date in the past is no wait', () => {
  const now = () => Date.UTC(2015, 9, 21, 7, 28, 0) / 1000;
  const reply = (value) => ({ status: 503, text: '', headers: { 'retry-after': value } });
  assert.equal(retryAfter(reply(' 7 '), policy(), now), 7);
  assert.equal(retryAfter(reply('Wed, 21 Oct 2015 07:28:42 GMT'), policy(), now), 42);
  assert.equal(retryAfter(reply('Wed, 21 Oct 2015 07:00:00 GMT'), policy(), now), 0);
  assert.equal(retryAfter(reply('Sat, 01 Jan 0050 00:00:00 GMT'), policy(), now), 0); // year 50, not 1950: past
  // Neither form: a fraction, a numeric zone, the obsolete RFC 850 and asctime forms, another case, a day
  // or time no calendar has, year 0, garbage.
  const neither = [
    '1.5',
    '-5',
    'Wed, 21 Oct 2015 09:28:42 +0200',
    'Wednesday, 21-Oct-15 07:28:42 GMT',
    'Wed Oct 21 07:28:42 2015',
    'wed, 21 oct 2015 07:28:42 gmt',
    'Sat, 29 Feb 2015 07:28:42 GMT',
    'Wed, 21 Oct 2015 24:00:00 GMT',
    'Wed, 21 Oct 2015 07:28:60 GMT',
    'Sat, 01 Jan 0000 00:00:00 GMT',
    'soon',
    '',
  ];
  for (const value of neither) assert.equal(retryAfter(reply(value), policy(), now), null, value);
  assert.equal(retryAfter(reply('9'.repeat(400)), policy(), now), 2 ** 31); // capped, as RFC 9111 caps one
});

test('after_json is read only without a Retry-After header, and only as a non-negative number', () => {
  const withBody = (text, headers = {}) => ({ status: 429, text, headers });
  const path = policy({ after_json: 'parameters.retry_after' });
  assert.equal(retryAfter(withBody('{"parameters":{"retry_after":5}}'), path), 5);
  assert.equal(retryAfter(withBody('{"parameters":{"retry_after":5}}', { 'retry-after': '2' }), path), 2);
  for (const text of [
    '{"parameters":{"retry_after":-1}}',
    '{"parameters":{"retry_after":"5"}}',
    '{"parameters":{"retry_after":true}}',
    '{}',
    'not json',
  ]) {
    assert.equal(retryAfter(withBody(text), path), null, text);
  }
  assert.equal(retryAfter(withBody('{"parameters":{"retry_after":5}}'), policy()), null); // no after_json in the spec
});

test("a channel's time budget has room for its retries: the deadline and one more timeout per round trip", () => {
  const spec = { transport: 'http', retry: null };
  const transport = transportFor('http');
  assert.equal(timeBudget({ spec, transport, requests: [{}], tokenRequest: null }, 15), 15 * 2 + 60 + 15 * 2 + 5);
  assert.equal(
    timeBudget({ spec: { ...spec, retry: { attempts: 1 } }, transport, requests: [{}], tokenRequest: null }, 15),
    15 * 2 + 5,
  );
});

test('MCP_PUSH_RETRY_ATTEMPTS overrides every policy, read through config.setting as retry.py reads it', () => {
  const { attemptsOverride, RetryPolicy: Policy } = require('../src/retry');
  const { ConfigError } = require('../src/config');
  const { loadChannels } = require('../src/specs');
  assert.equal(attemptsOverride({}), null);
  assert.equal(attemptsOverride({ MCP_PUSH_RETRY_ATTEMPTS: ' 2 ' }), 2);
  assert.equal(Policy.forSpec(loadChannels().webhook, 1).attempts, 1);
  assert.equal(Policy.forSpec(loadChannels().webhook).attempts, 4);
  for (const bad of ['0', '1.5', 'x', '+2', '\u00a02']) {
    assert.throws(
      () => attemptsOverride({ MCP_PUSH_RETRY_ATTEMPTS: bad }),
      (error) =>
        error instanceof ConfigError && error.message === 'MCP_PUSH_RETRY_ATTEMPTS: must be an integer of at least 1',
    );
  }
});

test('config.setting: a declared default, a seconds rule, and an undeclared name is a bug', () => {
  const { ConfigError, setting } = require('../src/config');
  assert.equal(setting('MCP_PUSH_HTTP_MAX_BODY', {}), '1048576');
  assert.throws(
    () => setting('MCP_PUSH_HTTP_IDLE_TIMEOUT', { MCP_PUSH_HTTP_IDLE_TIMEOUT: '1e3' }),
    (error) =>
      error instanceof ConfigError &&
      error.message === 'MCP_PUSH_HTTP_IDLE_TIMEOUT: must be a number of seconds above 0',
  );
  assert.throws(() => setting('MCP_PUSH_NOPE', {}), /MCP_PUSH_NOPE: not declared in spec\/settings.yaml/);
});
