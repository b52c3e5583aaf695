'use strict';
// Process-wide cache of fetched credentials (WeCom app access_token), kept until shortly before expiry.

const crypto = require('node:crypto');

// Refresh a little early so a token never expires between the cache check and the vendor's check.
const EXPIRY_MARGIN_S = 60;

class TokenCache {
  constructor(clock = () => performance.now() / 1000) {
    this.clock = clock;
    this.tokens = new Map();
  }

  // Keys name credentials (corp secret); keep only a digest of them in memory.
  static key(cacheKey) {
    return crypto.createHash('sha256').update(cacheKey, 'utf8').digest('hex');
  }

  get(cacheKey) {
    const entry = this.tokens.get(TokenCache.key(cacheKey));
    return entry && entry.expires > this.clock() ? entry.token : null;
  }

  put(cacheKey, token, ttlS) {
    this.tokens.set(TokenCache.key(cacheKey), { token, expires: this.clock() + Math.max(ttlS - EXPIRY_MARGIN_S, 1) });
  }

  drop(cacheKey) {
    this.tokens.delete(TokenCache.key(cacheKey));
  }

  clear() {
    this.tokens.clear();
  }
}

const TOKENS = new TokenCache();

module.exports = { TokenCache, TOKENS, EXPIRY_MARGIN_S };
