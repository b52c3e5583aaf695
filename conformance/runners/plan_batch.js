'use strict';
// Plans whole batches of messages in one Node process, for python/tests/test_crosscheck.py.
//
//   node conformance/runners/plan_batch.js           stdin: one JSON array [{env, now, title, content, params}, ...]
//                                                    stdout: the JSON array of plans, in the same order
//   node conformance/runners/plan_batch.js --lines   a long-lived worker: one such array per stdin line, one
//                                                    array of plans per stdout line, until stdin closes
//
// Each plan is what plan(title, content, {env, now, params, redact: false}) returns. An item whose
// planning throws becomes {"exception": "<name>: <message>"} and the batch goes on. Exit code 2 only
// when the input itself cannot be read (not JSON, not an array).

const path = require('node:path');
const readline = require('node:readline');
// The runtime resolves from js/, wherever this file lives.
const { plan } = require('node:module').createRequire(path.join(__dirname, '..', '..', 'js', 'package.json'))('./src');

function planOne(item) {
  try {
    return plan(item.title, item.content, {
      env: item.env || {},
      now: item.now === undefined ? null : item.now,
      params: item.params === undefined ? null : item.params,
      redact: false,
    });
  } catch (error) {
    return { exception: `${(error && error.name) || 'Error'}: ${error && error.message}` };
  }
}

function planBatch(text) {
  const batch = JSON.parse(text);
  if (!Array.isArray(batch)) throw new Error('input must be a JSON array of {env, now, title, content, params}');
  return JSON.stringify(batch.map(planOne));
}

async function oneShot() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  // Decode once: a multi-byte character may straddle two chunks.
  process.stdout.write(planBatch(Buffer.concat(chunks).toString('utf8')), 'utf8');
}

async function serveLines() {
  // JSON never holds a raw CR or LF (JSON.stringify escapes them), so one batch is one line. Send the
  // batches ASCII-only (Python's json.dumps default): readline must not see U+2028 in a line.
  const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of lines) {
    if (!line.trim()) continue;
    const out = planBatch(line);
    if (!process.stdout.write(out + '\n', 'utf8')) await new Promise((resolve) => process.stdout.once('drain', resolve));
  }
}

(process.argv.includes('--lines') ? serveLines() : oneShot()).catch((error) => {
  process.stderr.write(`plan_batch failed: ${error && error.stack}\n`);
  process.exitCode = 2;
});
