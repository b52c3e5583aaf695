'use strict';
// Process-wide cache of fetched credentials (WeCom app access_token), kept until shortly before expiry.

const crypto = require('node:crypto');
const { REGISTRY } = require('./redact');
const { monotonicMs } = require('./clock');

// Refresh a little early so a token never expires between the cache check and the vendor's check.
const EXPIRY_MARGIN_S = 60;

class TokenCache {
  constructor(clock = () => monotonicMs() / 1000) {
    this.clock = clock;
    this.tokens = new Map();
  }

  // Keys name credentials (corp secret); keep only a digest of them in memory.
  static key(cacheKey) {
    return crypto.createHash('sha256').update(cacheKey, 'utf8').digest('hex');
  }

  // A cached token is a long-lived secret while it is cached: the process registry (the logger) holds
  // it in a slot named after the key, replaced on refresh and emptied when it goes.

  get(cacheKey) {
    const key = TokenCache.key(cacheKey);
    const entry = this.tokens.get(key);
    if (entry && entry.expires > this.clock()) return entry.token;
    if (entry) {
      this.tokens.delete(key);
      REGISTRY.drop(`token:${key}`);
    }
    return null;
  }

  put(cacheKey, token, ttlS) {
    const key = TokenCache.key(cacheKey);
    this.tokens.set(key, { token, expires: this.clock() + Math.max(ttlS - EXPIRY_MARGIN_S, 1) });
    REGISTRY.put(`token:${key}`, [token]);
  }

  drop(cacheKey) {
    const key = TokenCache.key(cacheKey);
    this.tokens.delete(key);
    REGISTRY.drop(`token:${key}`);
  }

  clear() {
    for (const key of this.tokens.keys()) REGISTRY.drop(`token:${key}`);
    this.tokens.clear();
  }
}

const TOKENS = new TokenCache();

module.exports = { TokenCache, TOKENS, EXPIRY_MARGIN_S };
