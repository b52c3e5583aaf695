'use strict';
// Helpers for js/test/*.test.js: real loopback servers standing in for vendors and proxies, child
// processes, and process.env / stderr handling. Kept outside test/ because `node --test test/` runs
// every .js file under a folder named test as a test file.

const { spawn } = require('node:child_process');
const http = require('node:http');
const net = require('node:net');
const path = require('node:path');

const JS_ROOT = path.join(__dirname, '..');
// A reply every JSON-checking channel used here reads as delivered (ntfy, gotify: id; telegram: ok;
// WeCom: errcode), as the Python tests' local server does.
const DEFAULT_REPLY = '{"ok":true,"errcode":0,"code":0,"id":1}';

// ---- vendor replies (handler(req, res, received)) -------------------------------------------------

const json = (status, data) => (req, res) => {
  const text = typeof data === 'string' ? data : JSON.stringify(data);
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(text);
};

const text = (status, body) => (req, res) => {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' });
  res.end(body);
};

/** Answers after `ms`, as `then` would. */
const after = (ms, then) => (req, res, received) => {
  const timer = setTimeout(() => then(req, res, received), ms);
  res.on('close', () => clearTimeout(timer));
};

/** Accepts the request and never answers. */
const never = () => () => {};

/** Sends the status line and headers, a first piece of the body, then nothing more. */
const stallBody = () => (req, res) => {
  res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': '100' });
  res.write('{"ok":');
};

/** Sends headers, then one body byte every `ms`, forever (each read is quick; the whole never ends). */
const drip = (ms) => (req, res) => {
  res.writeHead(200, { 'Content-Type': 'application/json' });
  res.flushHeaders();
  const timer = setInterval(() => res.write(' '), ms);
  res.on('close', () => clearInterval(timer));
};

/**
 * A vendor that holds each request until the test calls `release()`, then answers as `then` would (if the
 * client is still there). `arrived` resolves when the first request is in; `closed` resolves when the client
 * hangs up on a held request (its timeout gave up on it). A test that releases only after the call under
 * test has returned proves, without a clock, that a timeout ended the wait. Use `handler` as the route.
 */
function hold(then = json(200, DEFAULT_REPLY)) {
  let release;
  const released = new Promise((resolve) => {
    release = resolve;
  });
  let arrive;
  const arrived = new Promise((resolve) => {
    arrive = resolve;
  });
  let close;
  const closed = new Promise((resolve) => {
    close = resolve;
  });
  const held = {
    arrived,
    closed,
    released: false,
    release() {
      held.released = true;
      release();
    },
    handler(req, res, received) {
      res.on('close', () => {
        if (!res.writableEnded) close();
      });
      arrive(received);
      released.then(() => {
        if (!res.destroyed) then(req, res, received);
      });
    },
  };
  return held;
}

// ---- servers ---------------------------------------------------------------------------------------

function listen(server) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server.address().port));
  });
}

/**
 * An HTTP server on 127.0.0.1 playing a vendor. `route(prefix, handler)` answers requests whose path
 * starts with prefix (longest prefix wins); others get DEFAULT_REPLY. Every request is recorded in
 * `received` as {method, path, headers, body, remotePort}.
 */
async function startVendor() {
  const routes = new Map();
  const received = [];
  const server = http.createServer(async (req, res) => {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const entry = {
      method: req.method,
      path: req.url,
      headers: req.headers,
      body: Buffer.concat(chunks).toString('utf8'),
      remotePort: req.socket.remotePort,
    };
    received.push(entry);
    const prefix = [...routes.keys()].sort((a, b) => b.length - a.length).find((p) => req.url.startsWith(p));
    (prefix === undefined ? json(200, DEFAULT_REPLY) : routes.get(prefix))(req, res, entry);
  });
  const port = await listen(server);
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    received,
    route(prefix, handler) {
      routes.set(prefix, handler);
      return this;
    },
    paths: () => received.map((r) => r.path),
    close() {
      server.closeAllConnections(); // also the requests a test left hanging
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * A forward proxy on 127.0.0.1 that only tunnels (HTTP CONNECT), as undici's ProxyAgent uses it.
 * Records each CONNECT as {target, authorization, upstreamPort} where upstreamPort is the local port
 * of its own connection to the target, so a test can tell the vendor's request came through it.
 * Only 127.0.0.1 targets are tunnelled: the tests never leave loopback. Tunnels stay open between
 * requests (the runtime reuses them, as a direct connection): dropTunnels() closes them.
 */
async function startConnectProxy() {
  const connects = [];
  const plain = [];
  const sockets = new Set();
  const server = http.createServer((req, res) => {
    plain.push(req.url); // an absolute-URI request instead of a tunnel
    res.writeHead(502);
    res.end();
  });
  server.on('connect', (req, client, head) => {
    sockets.add(client);
    const entry = { target: req.url, authorization: req.headers['proxy-authorization'] ?? null, upstreamPort: null };
    connects.push(entry);
    const cut = req.url.lastIndexOf(':');
    const host = req.url.slice(0, cut);
    const port = Number(req.url.slice(cut + 1));
    if (host !== '127.0.0.1') {
      client.end('HTTP/1.1 403 Forbidden\r\n\r\n');
      return;
    }
    const upstream = net.connect(port, host, () => {
      entry.upstreamPort = upstream.localPort;
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  const port = await listen(server);
  return {
    host: '127.0.0.1',
    port,
    connects,
    plain,
    /** Closes every open tunnel: the next request through the proxy opens a new one (a CONNECT). */
    dropTunnels() {
      for (const socket of sockets) socket.destroy();
      sockets.clear();
    },
    close() {
      for (const socket of sockets) socket.destroy();
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** A proxy on 127.0.0.1 that accepts connections and never answers (nor reads): one that hung. */
async function startStuckProxy() {
  const sockets = new Set();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  const port = await listen(server);
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    accepted: () => sockets.size,
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** A port on 127.0.0.1 nobody listens on (bound, then released): connecting is refused at once. */
async function closedPort() {
  const server = net.createServer();
  const port = await listen(server);
  await new Promise((resolve) => server.close(resolve));
  return port;
}

// ---- retries ------------------------------------------------------------------------------------------

/** Retries' fake clock: sleeping only advances the clock and is recorded; the jitter draws 0. */
function fakePace() {
  const pace = {
    clock: 0,
    slept: [],
    sleep: async (seconds) => {
      pace.slept.push(seconds);
      pace.clock += seconds;
    },
    monotonic: () => pace.clock,
    random: () => 0,
    atOnce: 1, // scripted replies answer in order: one request at a time
  };
  return pace;
}

/**
 * Retry waits pass on a fake clock for the rest of this test file (python/tests/conftest.py does the
 * same for every Python test). Returns the list the waits are recorded in. A file that wants real
 * waits does not call it.
 */
function fakeRetryPace() {
  const pace = fakePace();
  require('../src/retry').PACE = pace;
  return pace.slept;
}

/** settings.yaml's `retry` with `overrides`, until the returned function restores it. */
function overrideRetrySettings(overrides) {
  const settings = require('../src/specs').loadSettings();
  const saved = settings.retry;
  settings.retry = { ...saved, ...overrides };
  return () => {
    settings.retry = saved;
  };
}

// ---- process.env, stderr, child processes -----------------------------------------------------------

/** Every env var name mcp-push reads (channel and settings vars). */
function knownEnvNames() {
  return [...require('../src/specs').knownEnvNames()];
}

/**
 * Runs `fn` with process.env holding exactly `vars` among mcp-push's own variables (those of the
 * developer's shell are hidden), and restores process.env afterwards, whatever happens.
 */
async function withProcessEnv(vars, fn) {
  const names = new Set([...knownEnvNames(), ...Object.keys(vars)]);
  const saved = {};
  for (const name of names) {
    saved[name] = Object.prototype.hasOwnProperty.call(process.env, name) ? process.env[name] : undefined;
    delete process.env[name];
  }
  Object.assign(process.env, vars);
  try {
    return await fn();
  } finally {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}

// Active captures. While any is active, this process's stderr goes to all of them and not to the
// terminal; safe for tests that run concurrently (each may also see the others' lines).
const captures = new Set();
let realStderrWrite = null;

// Waiting for a line on a captured stderr: {pattern, resolve}.
const stderrWaiters = new Set();

/**
 * Resolves when a line matching `pattern` is written to a captured stderr (captureStderr): a channel's
 * "delivered" log line says its result is in, an event a test can wait for instead of a time.
 */
function stderrLine(pattern) {
  return new Promise((resolve) => stderrWaiters.add({ pattern, resolve }));
}

/** Runs `fn`, capturing (and not showing) what this process writes to stderr meanwhile. */
async function captureStderr(fn) {
  const capture = { text: '' };
  if (!captures.size) {
    realStderrWrite = process.stderr.write;
    process.stderr.write = (chunk, ...rest) => {
      const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
      for (const active of captures) active.text += text;
      for (const waiter of stderrWaiters) {
        if (waiter.pattern.test(text)) {
          stderrWaiters.delete(waiter);
          waiter.resolve(text);
        }
      }
      const callback = rest.find((r) => typeof r === 'function');
      if (callback) callback();
      return true;
    };
  }
  captures.add(capture);
  try {
    const value = await fn();
    return { value, stderr: capture.text };
  } finally {
    captures.delete(capture);
    if (!captures.size) process.stderr.write = realStderrWrite;
  }
}

/**
 * Runs `code` in a fresh `node -e` (cwd js/), asynchronously so servers in this process keep serving.
 * The child's env is `env` plus PATH only. The child may write a JSON report to fd 3 with
 * `report(value)`; resolves to {code, stdout, stderr, report}.
 */
function runNode(code, env = {}, { timeoutMs = 20000 } = {}) {
  const prelude = `const report = (v) => require('node:fs').writeSync(3, JSON.stringify(v));\n`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', prelude + code], {
      cwd: JS_ROOT,
      env: { PATH: process.env.PATH, ...env },
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    });
    const out = { stdout: '', stderr: '', fd3: '' };
    child.stdout.on('data', (d) => (out.stdout += d));
    child.stderr.on('data', (d) => (out.stderr += d));
    child.stdio[3].on('data', (d) => (out.fd3 += d));
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`child did not finish within ${timeoutMs} ms; stderr: ${out.stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: out.stdout, stderr: out.stderr, report: out.fd3 ? JSON.parse(out.fd3) : null });
    });
  });
}

module.exports = {
  JS_ROOT,
  startStuckProxy,
  fakePace,
  DEFAULT_REPLY,
  json,
  text,
  after,
  never,
  stallBody,
  drip,
  hold,
  startVendor,
  startConnectProxy,
  closedPort,
  fakeRetryPace,
  overrideRetrySettings,
  knownEnvNames,
  withProcessEnv,
  captureStderr,
  stderrLine,
  runNode,
};
