'use strict';
// The Node side of the benchmarks, run by bench/run.py in a child process; it times itself and prints
// one JSON line on stdout.
//   node bench/node_bench.js fanout <runs>        sendNotify() to the channels set in process.env
//   node bench/node_bench.js plan <ms per sample> <samples> <env json file>   plan() for every channel
//   node bench/node_bench.js targets <n> <runs>   sendNotify() to the Chronocat channel in process.env with
//     n QQ ids in CHRONOCAT_QQ (the untimed warm-up send: one id)
//   node bench/node_bench.js sendloop <sendNotify.js file> <runs>   a drop-in's sendNotify() (mcp-push's
//     bundle or QingLong's), one untimed send then <runs> timed; "BENCH-TIMES …" on stderr

const path = require('node:path');
const fs = require('node:fs');

const ROOT = path.resolve(__dirname, '..');

async function fanout(runs) {
  const { sendNotify } = require(path.join(ROOT, 'js', 'sendNotify'));
  const walls = [];
  let failed = [];
  let channels = 0;
  let first = 0;
  // One warm-up send (module loading, spec parsing, first connections), then the timed ones.
  for (let i = 0; i <= runs; i++) {
    const started = process.hrtime.bigint();
    const result = await sendNotify('Bench', `fan-out ${i}`);
    const wall = Number(process.hrtime.bigint() - started) / 1e9;
    failed = result.failed.map((r) => `${r.channel}: ${r.status} ${r.error || ''}`);
    channels = result.channels.length;
    if (i > 0) walls.push(wall);
    else first = wall;
  }
  return { walls, first, failed, channels };
}

async function targets(n, runs) {
  const { sendNotify } = require(path.join(ROOT, 'js', 'sendNotify'));
  const ids = Array.from({ length: n }, (_, i) => `user_id=${10001 + i}`).join(';');
  const walls = [];
  let failed = [];
  let first = 0;
  for (let i = 0; i <= runs; i++) {
    process.env.CHRONOCAT_QQ = i === 0 ? 'user_id=10001' : ids;
    const started = process.hrtime.bigint();
    const result = await sendNotify('Bench', `targets ${i}`);
    const wall = Number(process.hrtime.bigint() - started) / 1e9;
    failed = result.failed.map((r) => `${r.channel}: ${r.status} ${r.error || ''}`);
    if (i > 0) walls.push(wall);
    else first = wall;
  }
  return { walls, first, failed, channels: 1 };
}

async function sendLoop(file, runs) {
  const { sendNotify } = require(path.resolve(file));
  const walls = [];
  for (let i = 0; i <= runs; i++) {
    const started = process.hrtime.bigint();
    await sendNotify('Bench', `warm fan-out ${i}`);
    if (i > 0) walls.push(Number(process.hrtime.bigint() - started) / 1e9);
  }
  // QingLong's sendNotify writes its own lines on stdout: the times go to stderr.
  process.stderr.write(`\nBENCH-TIMES ${walls.join(' ')}\n`);
  return { walls };
}

function plan(msPerSample, samples, envFile) {
  const env = JSON.parse(fs.readFileSync(envFile, 'utf8'));
  const { plan: planFn } = require(path.join(ROOT, 'js', 'sendNotify'));
  const entries = planFn('Backup', 'finished in 3 min', { env });
  const channels = new Set(entries.map((e) => e.channel));
  const errors = entries.filter((e) => e.error).map((e) => `${e.channel}: ${e.error}`);
  // Warm-up: let V8 optimise the engine before anything is timed.
  const warmUntil = Date.now() + 500;
  while (Date.now() < warmUntil) planFn('Backup', 'finished in 3 min', { env });
  const perChannelUs = [];
  for (let s = 0; s < samples; s++) {
    let calls = 0;
    const until = process.hrtime.bigint() + BigInt(msPerSample) * 1000000n;
    const cpuStarted = process.cpuUsage();
    while (process.hrtime.bigint() < until) {
      planFn('Backup', 'finished in 3 min', { env });
      calls++;
    }
    // CPU time (user + system, µs), not wall time: other processes on the machine do not inflate it.
    const cpu = process.cpuUsage(cpuStarted);
    perChannelUs.push((cpu.user + cpu.system) / calls / channels.size);
  }
  return { perChannelUs, channels: channels.size, errors };
}

async function main() {
  const [mode, ...args] = process.argv.slice(2);
  let out;
  if (mode === 'fanout') out = await fanout(Number(args[0] || 7));
  else if (mode === 'targets') out = await targets(Number(args[0]), Number(args[1] || 3));
  else if (mode === 'sendloop') out = await sendLoop(args[0], Number(args[1] || 7));
  else if (mode === 'plan') out = plan(Number(args[0]), Number(args[1]), args[2]);
  else throw new Error(`unknown mode ${mode}`);
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

main().catch((err) => {
  process.stderr.write(`${err.stack}\n`);
  process.exit(1);
});
