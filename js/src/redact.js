'use strict';
// Removes secret values, in every form they travel in, from text that leaves the engine.
// Which values are secret is data: the spec's `secret: true` env vars plus what hooks derive.

const { pct } = require('./wire');

const MASK = '***';
const registry = new Set(); // every secret form this process has seen, for the logger

function forms(secret) {
  const plus = pct(secret).replace(/%20/g, '+');
  const keepSlashColon = pct(secret).replace(/%2F/g, '/').replace(/%3A/g, ':');
  const json = JSON.stringify(secret).slice(1, -1);
  const asciiJson = json.replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return [secret, pct(secret), plus, keepSlashColon, json, asciiJson].filter(Boolean);
}

const URL_RE = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/?#]*)([\s\S]*)$/;
// A piece of a secret URL shorter than this is a path word ("send", "api"), not a key.
const MIN_URL_PIECE = 6;

/** A secret that is a URL (BARK_PUSH=https://host/KEY) travels in pieces: a vendor echoes the key alone. */
function urlPieces(secret) {
  const match = URL_RE.exec(secret);
  if (!match) return [];
  const [, authority, rest] = match;
  const at = authority.lastIndexOf('@');
  const pieces = at > 0 ? [authority.slice(0, at)] : [];
  pieces.push(...rest.split(/[/?&=#;]/));
  return pieces.filter((piece) => piece.length >= MIN_URL_PIECE);
}

class Redactor {
  constructor(secrets = []) {
    this.forms = [];
    this.add(secrets);
  }

  add(secrets) {
    const all = new Set(this.forms);
    for (const secret of secrets) {
      if (!secret) continue;
      for (const value of [String(secret), ...urlPieces(String(secret))]) {
        for (const form of forms(value)) {
          all.add(form);
          registry.add(form);
        }
      }
    }
    // Longest first, so a secret that contains another is masked whole.
    this.forms = [...all].sort((a, b) => b.length - a.length);
  }

  text(value) {
    let out = String(value);
    for (const form of this.forms) if (out.includes(form)) out = out.split(form).join(MASK);
    return out;
  }

  tree(value) {
    if (typeof value === 'string') return this.text(value);
    if (Array.isArray(value)) return value.map((v) => this.tree(v));
    if (value !== null && typeof value === 'object') {
      const out = {};
      for (const [k, v] of Object.entries(value)) out[this.text(k)] = this.tree(v);
      return out;
    }
    return value;
  }
}

function processRedactor() {
  const redactor = new Redactor();
  redactor.forms = [...registry].sort((a, b) => b.length - a.length);
  return redactor;
}

module.exports = { Redactor, processRedactor, MASK };
