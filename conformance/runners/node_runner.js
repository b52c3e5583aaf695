'use strict';
// The Node replayer of the conformance cases (conformance/README.md, "Runners"), run by node.py.
// stdin: [{id, env, now, input: {title, content, params, event, seen, edit_refs, channels}, replies?, urls?}]
// stdout: [{id, plan, error, sent, result, delays}], the output python_runner.py's run_case returns: `sent` is
// what went on the wire to the fake vendor (undici MockAgent answering with the scripted replies in order, a
// reply with `times: N` answering N tries), `result` the send's JSON result and `delays` the seconds retries
// waited: not slept, but recorded on a fake clock, with the jitter's random draw fixed at 0 (python_runner's
// FakePace).

const path = require('node:path');
// The runtime and its dependencies (undici) resolve from js/, wherever this file lives.
const jsRequire = require('node:module').createRequire(path.join(__dirname, '..', '..', 'js', 'package.json'));

const { MockAgent, errors } = jsRequire('undici');
const { plan, dispatch, useDispatcher } = jsRequire('./src');
const { EnvelopeError, RunLog, eventMessage, planEvent, renderEvent, sendEvent, validateEnvelope } = jsRequire('./src/events');
const retry = jsRequire('./src/retry');
const { TOKENS } = jsRequire('./src/tokens');
const { ConfigError } = jsRequire('./src/config');
// Retries' clock for replays: sleeping only advances the clock and is recorded; the jitter draws 0.
const { fakePace } = jsRequire('./test-helpers');

// Each failure is thrown as undici throws it against a real server (js/test/http.test.js checks
// those). 'closed' (the vendor read the request and closed without a word) and 'cut' (a 200 reply
// closed partway through its body) are both undici's SocketError 'other side closed'.
function errorFor(kind, url) {
  if (kind === 'closed' || kind === 'cut') return new errors.SocketError('other side closed');
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

// undici drops a default port (https://host:443/…) before the request reaches the mock, as a URL's
// origin does; record the URL as planned, so `sent` compares with the case and with Python's requests.
function asPlanned(url, planned) {
  const withPort = planned.find((u) => u.replace(/^(https:\/\/[^/?#]+):443(?=[/?#]|$)|^(http:\/\/[^/?#]+):80(?=[/?#]|$)/, '$1$2') === url);
  return withPort || url;
}

// node.py sends a NaN or infinity (YAML's .nan, which JSON cannot hold) as {"$number": "NaN"}.
const nonFinite = (key, value) =>
  value && typeof value === 'object' && Object.keys(value).length === 1 && typeof value.$number === 'string' ? Number(value.$number) : value;

async function sendCase(testCase) {
  const replies = testCase.replies.flatMap((reply) => Array(reply.times || 1).fill(reply));
  const sent = [];
  const agent = new MockAgent();
  agent.disableNetConnect();
  const origins = new Set(testCase.urls.map((u) => new URL(u).origin));
  for (const origin of origins) {
    agent
      .get(origin)
      .intercept({ path: () => true, method: () => true })
      .reply((opts) => {
        const url = asPlanned(`${origin}${opts.path}`, testCase.urls);
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
  const saved = retry.PACE;
  const pace = fakePace();
  pace.wall = () => testCase.now + pace.clock; // a Retry-After date is read against the case's now
  retry.PACE = pace;
  try {
    const { title, content, params, event, seen, edit_refs: editRefs, channels, priority, format } = testCase.input;
    let result;
    if (event === undefined) {
      result = await dispatch(title, content, testCase.env, { params: params || null, now: testCase.now, editRefs: editRefs || null, channels: channels || null, priority: priority || null, format: format || null });
    } else {
      const runs = new RunLog();
      for (const earlier of seen || []) renderEvent(validateEnvelope(earlier, testCase.now), runs);
      if (editRefs) {
        // The refs are the case's, not a run's memory (sendEvent's): send the rendered event as given.
        const [eventTitle, eventContent, eventParams] = eventMessage(validateEnvelope(event, testCase.now), testCase.env, runs);
        result = await dispatch(eventTitle, eventContent, testCase.env, { params: eventParams, now: testCase.now, editRefs });
      } else {
        result = await sendEvent(event, { env: testCase.env, runs, now: testCase.now });
      }
    }
    return { sent, result: result.toJSON(), delays: pace.slept };
  } finally {
    retry.PACE = saved;
    useDispatcher(null);
    await agent.close();
  }
}

async function main() {
  let input = '';
  for await (const chunk of process.stdin) input += chunk;
  const out = [];
  for (const testCase of JSON.parse(input, nonFinite)) {
    TOKENS.clear();
    const { title, content, params, event, seen, edit_refs: editRefs, channels, priority, format } = testCase.input;
    const entry = { id: testCase.id, error: null };
    if (event === undefined) {
      try {
        entry.plan = plan(title, content, { env: testCase.env, now: testCase.now, params: params || null, redact: false, editRefs: editRefs || null, channels: channels || null, priority: priority || null, format: format || null });
      } catch (error) {
        // A setting that cannot work (MCP_PUSH_OVERFLOW=chop): nothing is planned.
        if (!(error instanceof ConfigError)) throw error;
        entry.plan = [];
        entry.error = error.message;
      }
    } else {
      try {
        entry.plan = planEvent(event, { env: testCase.env, now: testCase.now, seen: seen || [], redact: false, editRefs: editRefs || null });
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
  process.stderr.write(`node_runner failed: ${error.stack}\n`);
  process.exit(2);
});
