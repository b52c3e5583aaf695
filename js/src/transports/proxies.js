'use strict';
// The undici dispatchers of requests that go through a proxy: the spec's (TG_PROXY_*) or the
// environment's (HTTP(S)_PROXY, NO_PROXY). One dispatcher per proxy and timeout, kept while the
// environment names the same proxies, so a tunnel (CONNECT, then TLS to the vendor) is reused by the
// next request as a direct connection is; a dispatcher per request paid a tunnel and a TLS handshake
// for every request (the every-HTTP-channel fan-out through the bench's proxy: 2.6 D a send).
// A request that timed out retires its dispatcher: undici retries a CONNECT a stuck proxy never
// answers for minutes, and only destroying the dispatcher ends that (js/test/stuck_proxy.test.js). A
// retired dispatcher takes no new request and is destroyed once the last request it has ends, so the
// others on it finish as they would have. Idle tunnels are unref'd by undici: they never keep a
// one-shot process alive.

const { unquote } = require('../wire');
const { IDLE_REUSE_MS } = require('./direct');

// A process whose environment keeps changing does not collect dispatchers: past this many, the oldest retires.
const MAX_POOLED = 8;
const pooled = new Map();

function idleOptions(ms) {
  return {
    connect: { timeout: ms },
    proxyTls: { timeout: ms },
    requestTls: { timeout: ms },
    keepAliveTimeout: IDLE_REUSE_MS,
    keepAliveMaxTimeout: IDLE_REUSE_MS,
  };
}

function specProxyAgent(proxyUrl, ms) {
  const { ProxyAgent } = require('undici');
  const url = new URL(proxyUrl); // a proxy URL that does not parse throws here (ERR_INVALID_URL)
  const options = { ...idleOptions(ms), uri: `${url.protocol}//${url.host}` };
  if (url.username || url.password) {
    const credentials = `${unquote(url.username)}:${unquote(url.password)}`;
    options.token = `Basic ${Buffer.from(credentials, 'utf8').toString('base64')}`;
  }
  return new ProxyAgent(options);
}

// The proxies EnvHttpProxyAgent reads when it is made (NO_PROXY it reads again at each request).
function envProxies() {
  const env = process.env;
  return [env.http_proxy ?? env.HTTP_PROXY, env.https_proxy ?? env.HTTPS_PROXY];
}

function envProxyAgent(ms) {
  const { EnvHttpProxyAgent } = require('undici');
  return new EnvHttpProxyAgent(idleOptions(ms));
}

function retire(key, entry) {
  if (pooled.get(key) === entry) pooled.delete(key);
  entry.retired = true;
  if (entry.active === 0) entry.dispatcher.destroy().catch(() => {});
}

/**
 * The dispatcher for one request through a proxy: {dispatcher, timedOut(), release()}. `proxyUrl` is
 * the spec's proxy, or null for the environment's. Call release() when the request has ended, and
 * timedOut() first if it timed out.
 */
function leaseProxy(proxyUrl, ms) {
  const key = JSON.stringify(proxyUrl ? ['spec', proxyUrl, ms] : ['env', ...envProxies(), ms]);
  let entry = pooled.get(key);
  if (!entry) {
    const dispatcher = proxyUrl ? specProxyAgent(proxyUrl, ms) : envProxyAgent(ms);
    entry = { dispatcher, active: 0, retired: false };
    pooled.set(key, entry);
    if (pooled.size > MAX_POOLED) {
      const [oldest] = pooled.keys();
      retire(oldest, pooled.get(oldest));
    }
  }
  entry.active += 1;
  let ended = false;
  return {
    dispatcher: entry.dispatcher,
    timedOut: () => retire(key, entry),
    release() {
      if (ended) return;
      ended = true;
      entry.active -= 1;
      if (entry.retired && entry.active === 0) entry.dispatcher.destroy().catch(() => {});
    },
  };
}

module.exports = { leaseProxy };
