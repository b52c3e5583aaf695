'use strict';
// Replays conformance cases against the Node runtime, for tools/conformance.py.
// stdin: [{id, env, now, input: {title, content, params}, replies?, placeholder}]
// stdout: [{id, plan, sent, result}] where `sent` is what went on the wire to the fake vendor (undici
// MockAgent answering with the scripted replies in order) and `result` the send's JSON result.

const { MockAgent } = require('undici');
const { plan, dispatch, useDispatcher } = require('../src');
const { EnvelopeError, RunLog, planEvent, renderEvent, sendEvent, validateEnvelope } = require('../src/events');
const { TOKENS } = require('../src/tokens');

function errorFor(kind, url) {
  const error = new Error(kind === 'timeout' ? 'Headers Timeout Error' : `connect ECONNREFUSED (url: ${url})`);
  error.code = kind === 'timeout' ? 'UND_ERR_HEADERS_TIMEOUT' : 'ECONNREFUSED';
  error.name = kind === 'timeout' ? 'HeadersTimeoutError' : 'Error';
  return error;
}

function headersOf(raw) {
  if (!raw) return {};
  if (Array.isArray(raw)) {
    const out = {};
    for (let i = 0; i < raw.length; i += 2) out[String(raw[i])] = String(raw[i + 1]);
    return out;
  }
  return { ...raw };
}

async function sendCase(testCase) {
  const replies = [...testCase.replies];
  const sent = [];
  const agent = new MockAgent();
  agent.disableNetConnect();
  const origins = new Set(testCase.urls.map((u) => new URL(u).origin));
  for (const origin of origins) {
    agent
      .get(origin)
      .intercept({ path: () => true, method: () => true })
      .reply((opts) => {
        const url = `${origin}${opts.path}`;
        const body = opts.body === undefined || opts.body === null ? null : Buffer.from(opts.body).toString('utf8');
        sent.push({ method: opts.method, url, headers: headersOf(opts.headers), body });
        const reply = replies.shift();
        if (!reply) throw new Error(`unscripted request: ${opts.method} ${url}`);
        if (reply.error) throw errorFor(reply.error, url);
        return { statusCode: reply.status, data: reply.body || '', responseOptions: { headers: reply.headers || {} } };
      })
      .persist();
  }
  useDispatcher(agent);
  try {
    const { title, content, params, event, seen } = testCase.input;
    let result;
    if (event === undefined) {
      result = await dispatch(title, content, testCase.env, { params: params || null, now: testCase.now });
    } else {
      const runs = new RunLog();
      for (const earlier of seen || []) renderEvent(validateEnvelope(earlier, testCase.now), runs);
      result = await sendEvent(event, { env: testCase.env, runs, now: testCase.now });
    }
    return { sent, result: result.toJSON() };
  } finally {
    useDispatcher(null);
    await agent.close();
  }
}

async function main() {
  let input = '';
  for await (const chunk of process.stdin) input += chunk;
  const out = [];
  for (const testCase of JSON.parse(input)) {
    TOKENS.clear();
    const { title, content, params, event, seen } = testCase.input;
    const entry = { id: testCase.id, error: null };
    if (event === undefined) {
      entry.plan = plan(title, content, { env: testCase.env, now: testCase.now, params: params || null, redact: false });
    } else {
      try {
        entry.plan = planEvent(event, { env: testCase.env, now: testCase.now, seen: seen || [], redact: false });
      } catch (error) {
        if (!(error instanceof EnvelopeError)) throw error;
        entry.plan = [];
        entry.error = error.message;
      }
    }
    if (testCase.replies) Object.assign(entry, await sendCase(testCase));
    out.push(entry);
  }
  process.stdout.write(JSON.stringify(out));
}

main().catch((error) => {
  process.stderr.write(`replay failed: ${error.stack}\n`);
  process.exit(2);
});
