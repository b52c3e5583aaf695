'use strict';
// A monotonic clock in milliseconds for timing sends and pacing retries. Not `performance.now()`: the
// global `performance` loads node:perf_hooks at its first use (about 0.6 ms of a script's first send,
// before its first request went out); process.hrtime reads the same monotonic clock.

const monotonicMs = () => Number(process.hrtime.bigint()) / 1e6;

module.exports = { monotonicMs };
