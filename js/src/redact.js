'use strict';
// Removes secret values, in every form they travel in, from text that leaves mcp-push.
// Which values are secret is data: the spec's `secret: true` env vars (with `secret_parts` for composite
// values), the userinfo of any URL setting, proxy credentials from the environment, plus values a hook
// derives and declares under `secrets` (long-lived) or `message_secrets` (this message only). The
// rules are in spec/README.md, "Secrets"; python/mcp_push/redact.py applies the same ones.

const { stripSpace: strip } = require('./config');
const { pct, unquote } = require('./wire');

const MASK = '***';
// A secret (or a part of one) shorter than this is masked only where it stands as a whole token: a
// one-letter CHAT_TOKEN must not eat every "c" of a log line.
const LONG_SECRET = 8;
// Characters that make up a token: a short secret counts only where neither neighbour is one of these.
const TOKEN_CHAR = /[A-Za-z0-9_-]/;
const ALNUM = /[A-Za-z0-9]/;
// Path segments and query values that name an API, never a credential (compared ignoring case).
const COMMON_PATH_WORDS = new Set(
  `
    api apis app apps bot bots cgi-bin chat default hook hooks incoming index invoke json manual message
    messages notify open-apis path paths push robot send sendmessage service services spaces text token
    trigger triggers v1 v2 v3 v4 v5 webhook webhooks workflows title content key
`
    .split(/\s+/)
    .filter(Boolean),
);
const URL_RE = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/?#]*)([^?#]*)(?:\?([^#]*))?(?:#([\s\S]*))?$/;
// QingLong's placeholders in WEBHOOK_URL separate pieces like a '/' does.
const PLACEHOLDER = /\$(?:title|content)/;
const LINES = /\r\n|\n|\r/;
// A header value is a credential when its name says so, or when it is long enough to be a token.
const SECRET_HEADER = /auth|token|key|secret|sign|cookie|pass|session/i;
const PLAIN_HEADERS = new Set(['content-type', 'accept', 'user-agent', 'accept-language', 'cache-control']);
const SCHEME_VALUE = /^([A-Za-z][A-Za-z0-9_-]*) +([^ \t\n\r\f\v]+)$/;
// Proxy settings every HTTP client reads from the process environment.
const PROXY_VARS = ['HTTPS_PROXY', 'HTTP_PROXY', 'ALL_PROXY', 'https_proxy', 'http_proxy', 'all_proxy'];
// Result statuses (result.js) and the fields of a result and an outcome.
const STATUS_WORDS = [
  'delivered',
  'rejected',
  'network_error',
  'timeout',
  'config_error',
  'skipped',
  'internal_error',
  'queued',
  'superseded',
  'retrying',
];
const FIELD_WORDS = [
  'ok',
  'status',
  'error',
  'channel',
  'channels',
  'delivered',
  'queued',
  'total',
  'skipped',
  'summary',
  'elapsed_ms',
  'http_status',
  'attempts',
  'parts',
  'truncated',
  'true',
  'false',
  'null',
];

// Lengths in code points, as Python counts them.
const length = (text) => [...text].length;

// --- what a secret is made of ---------------------------------------------------------------------

/** A URL path segment or query value that carries a credential: not a common path word, and 16
 * characters or more, or letters and digits mixed. */
function isToken(piece) {
  if (!ALNUM.test(piece) || COMMON_PATH_WORDS.has(piece.toLowerCase())) return false;
  return length(piece) >= 16 || (/[A-Za-z]/.test(piece) && /[0-9]/.test(piece));
}

/** Base64 of the UTF-8 text, with its padding and without (a reply may drop it). */
function b64(text) {
  const encoded = Buffer.from(text, 'utf8').toString('base64');
  return [encoded, encoded.replace(/=+$/, '')];
}

/** The compositions a login travels in: `user:password` (HTTP Basic, before and after Base64) and SMTP
 * AUTH PLAIN's `\0user\0password` in Base64. Never the user name alone. */
function authForms(user, password) {
  if (!password) return [];
  return [password, `${user}:${password}`, ...b64(`${user}:${password}`), ...b64(`\0${user}\0${password}`)];
}

/** `user:password` (raw or percent-encoded, as in a URL): the password and the compositions of both; a
 * userinfo without ':' is a token itself. */
function userinfoParts(userinfo) {
  if (!userinfo) return [];
  const colon = userinfo.indexOf(':');
  if (colon < 0) return [userinfo, unquote(userinfo)];
  const user = userinfo.slice(0, colon);
  const password = userinfo.slice(colon + 1);
  return [password, userinfo, ...authForms(unquote(user), unquote(password))];
}

/** The pieces of a path or query value, raw and percent-decoded; a decoded '/' splits again. */
function pieces(text) {
  const out = [];
  for (const raw of text.split(PLACEHOLDER)) {
    out.push(raw);
    const decoded = unquote(raw);
    if (decoded !== raw) out.push(decoded, ...decoded.split('/'));
  }
  return out.filter(Boolean);
}

/**
 * The parts of a URL that carry its credential: the userinfo, and the path segments and query values
 * that are tokens (isToken). A URL with no token piece has its credential somewhere anyway: then every
 * path segment and query value that is no common word counts. null for a non-URL. The scheme, the host
 * and the query keys are never parts.
 */
function urlParts(value) {
  const match = URL_RE.exec(value);
  if (!match) return null;
  const [, authority, path, query, fragment] = match;
  const at = authority.lastIndexOf('@');
  const candidates = path.split('/').flatMap(pieces);
  for (const pair of (query || '').split(/[&;]/)) {
    const eq = pair.indexOf('=');
    candidates.push(...pieces(eq >= 0 ? pair.slice(eq + 1) : ''));
  }
  candidates.push(...pieces(fragment || ''));
  let tokens = candidates.filter(isToken);
  if (!tokens.length) tokens = candidates.filter((p) => ALNUM.test(p) && !COMMON_PATH_WORDS.has(p.toLowerCase()));
  const parts = [...(at >= 0 ? userinfoParts(authority.slice(0, at)) : []), ...tokens];
  // A bare https://host/ carries nothing but the host: then the whole value is the secret.
  return parts.length ? parts : [value];
}

/** The credential in a URL setting that is not secret itself (NTFY_URL=http://user:pw@host). */
function urlUserinfo(value) {
  if (!String(value).includes('@')) return []; // no userinfo without an @ (most URLs): no regex run
  const match = URL_RE.exec(strip(value));
  if (!match) return [];
  const at = match[1].lastIndexOf('@');
  return at >= 0 ? userinfoParts(match[1].slice(0, at)) : [];
}

/** `Name: value` lines: each value that is a credential, the credential after its scheme word (`Bearer
 * x` -> x), and for Basic the user:password it decodes to. */
function headerParts(text) {
  const parts = [];
  for (const line of text.split(LINES)) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const name = strip(line.slice(0, colon));
    const value = strip(line.slice(colon + 1));
    if (!value) continue;
    if (!(SECRET_HEADER.test(name) || (length(value) >= 16 && !PLAIN_HEADERS.has(name.toLowerCase())))) continue;
    parts.push(value);
    const scheme = SCHEME_VALUE.exec(value);
    if (scheme) {
      parts.push(scheme[2]);
      if (scheme[1].toLowerCase() === 'basic')
        parts.push(...userinfoParts(Buffer.from(scheme[2], 'base64').toString('utf8')));
    }
  }
  return parts;
}

/**
 * URLs separated by white space or commas (APPRISE_URLS): each URL (whose userinfo, path and query tokens
 * secretForms masks), and its host too where that is a token, as services put a credential there
 * (Apprise's tgram://<bot token>/<chat>).
 */
function urlsParts(value) {
  const parts = [];
  for (const url of value.split(/[ \t\n\r\f\v,]+/)) {
    if (!url) continue;
    parts.push(url);
    const match = URL_RE.exec(url);
    if (match) {
      const host = match[1].slice(match[1].lastIndexOf('@') + 1);
      const colon = host.lastIndexOf(':');
      for (const piece of [host, colon >= 0 ? host.slice(0, colon) : ''])
        if (piece && isToken(piece)) parts.push(piece);
    }
  }
  return parts;
}

const SHAPES = {
  userinfo: userinfoParts,
  header_values: headerParts,
  list: (value) => value.split(',').map(strip).filter(Boolean),
  urls: urlsParts,
};

/** The secrets in one channel's settings: each `secret: true` value with its `secret_parts`, and the
 * userinfo of every URL-valued setting. `envVars` is the spec's env block (name -> var). */
function envSecrets(envVars, env) {
  const found = [];
  for (const [name, v] of Object.entries(envVars)) {
    const value = env[name] === undefined || env[name] === null ? '' : String(env[name]);
    if (!value) continue;
    if (v.secret) {
      found.push(value);
      for (const shape of v.secret_parts || []) found.push(...SHAPES[shape](value));
    } else {
      found.push(...urlUserinfo(value));
    }
  }
  return found;
}

// The last proxy settings seen and their credentials: the same with every channel of every message, so
// they are parsed again only when a variable changes (one entry; the key is the six values themselves).
let proxyMemo = { key: null, secrets: [] };

/** Credentials in HTTPS_PROXY / HTTP_PROXY / ALL_PROXY (any case), which the HTTP clients use. */
function proxySecrets(environ = process.env) {
  const values = PROXY_VARS.map((name) => environ[name] || '');
  const key = values.join('\n'); // a URL holds no newline that matters: urlUserinfo strips around it
  if (key !== proxyMemo.key) proxyMemo = { key, secrets: values.flatMap(urlUserinfo) };
  return [...proxyMemo.secrets];
}

// --- how a secret travels -------------------------------------------------------------------------

let protectedCache = null;
/** Words output is made of, never masked even when a (silly) secret equals one: channel ids, status
 * words, result field names and common path words. */
function protectedWords() {
  if (!protectedCache) {
    const { SpecError, channelIds } = require('./specs');
    let channels = [];
    try {
      channels = channelIds();
    } catch (error) {
      if (!(error instanceof SpecError)) throw error; // masking must work even when a broken spec is reported
    }
    protectedCache = new Set(
      [...channels, ...STATUS_WORDS, ...FIELD_WORDS, ...COMMON_PATH_WORDS].map((w) => w.toLowerCase()),
    );
  }
  return protectedCache;
}

/** The value and how it looks once URL-, JSON- or Base64-encoded; percent-encodings also with
 * lower-case hex digits and encoded twice. */
function encodings(value) {
  const encoded = pct(value);
  const json = JSON.stringify(value).slice(1, -1);
  const forms = new Set([
    value,
    encoded,
    pct(encoded),
    encoded.replace(/%20/g, '+'),
    encoded.replace(/%2F/g, '/').replace(/%3A/g, ':'),
    json,
    json.replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`),
    ...b64(value),
    Buffer.from(value, 'utf8').toString('base64url'),
  ]);
  for (const form of [...forms])
    if (form.includes('%')) forms.add(form.replace(/%[0-9A-F]{2}/g, (h) => h.toLowerCase()));
  forms.delete('');
  return forms;
}

const formsCache = new Map();
/** [form, wholeTokenOnly] for every form of a secret and of its URL parts. Cached: the same secrets come
 * with every message. */
function secretForms(secret) {
  let forms = formsCache.get(secret);
  if (forms) return forms;
  const parts = urlParts(secret);
  const protectedSet = protectedWords();
  const out = new Map();
  for (const base of parts === null ? [secret] : parts) {
    const short = length(base) < LONG_SECRET;
    if (short && !ALNUM.test(base)) continue; // ", " is no credential; masking it would eat punctuation
    for (const form of encodings(base)) {
      if (protectedSet.has(form.toLowerCase())) continue;
      out.set(form, (out.has(form) ? out.get(form) : true) && short);
    }
  }
  forms = [...out];
  if (formsCache.size >= 4096) formsCache.clear();
  formsCache.set(secret, forms);
  return forms;
}

/** True when the match stands as a whole token: no token character right before or after it. */
function bounded(text, start, end) {
  return (start === 0 || !TOKEN_CHAR.test(text[start - 1])) && (end === text.length || !TOKEN_CHAR.test(text[end]));
}

/** Masks a set of secrets. `add` is for this redactor only (a message's own secrets); the process
 * registry (REGISTRY) is fed separately, with long-lived secrets only. */
class Redactor {
  constructor(secrets = []) {
    this.known = new Map(); // form -> masked only as a whole token
    // Secrets added whose forms are not worked out yet: a send's redactor is only read after the vendor
    // replied (or failed), so its forms are made then, not before the request goes on the wire.
    this.pending = [];
    this.add(secrets);
  }

  add(secrets) {
    for (const secret of secrets) if (secret) this.pending.push(String(secret));
  }

  /** form -> masked only as a whole token, for every secret added so far. */
  get forms() {
    if (this.pending.length) {
      const pending = this.pending;
      this.pending = [];
      for (const secret of pending) {
        for (const [form, whole] of secretForms(secret)) {
          this.known.set(form, (this.known.has(form) ? this.known.get(form) : true) && whole);
        }
      }
    }
    return this.known;
  }

  /** Works out the forms of every secret added so far now (a send does it while its vendors answer). */
  prime() {
    return this.forms.size;
  }

  /** A new redactor masking these secrets too; this one is left as it is (a plan's, shared). */
  extended(secrets) {
    const wider = new Redactor();
    wider.known = new Map(this.forms);
    wider.add(secrets);
    return wider;
  }

  /** Every occurrence of every form is masked, overlaps merged into one mask: masking one secret first
   * must not leave half of another that overlaps it visible. */
  text(value) {
    const text = String(value);
    const forms = this.forms;
    let spans = null; // most texts hold no secret: no array for them
    for (const [form, whole] of forms) {
      for (let start = text.indexOf(form); start !== -1; start = text.indexOf(form, start + 1)) {
        const end = start + form.length;
        if (!whole || bounded(text, start, end)) (spans || (spans = [])).push([start, end]);
      }
    }
    if (spans === null) return text;
    spans.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    let out = '';
    let cursor = 0;
    let [openStart, openEnd] = spans[0];
    for (const [start, end] of spans.slice(1)) {
      if (start <= openEnd) {
        openEnd = Math.max(openEnd, end);
        continue;
      }
      out += text.slice(cursor, openStart) + MASK;
      [cursor, openStart, openEnd] = [openEnd, start, end];
    }
    return out + text.slice(cursor, openStart) + MASK + text.slice(openEnd);
  }

  /** Values masked; a key only when it is exactly a long secret (keys are field names, channel ids). */
  tree(value) {
    if (typeof value === 'string') return this.text(value);
    if (Array.isArray(value)) return value.map((v) => this.tree(v));
    if (value !== null && typeof value === 'object') {
      const out = {};
      const forms = this.forms;
      for (const k of Object.keys(value)) out[forms.get(k) === false ? MASK : k] = this.tree(value[k]);
      return out;
    }
    return value;
  }
}

/**
 * The process-wide secrets the logger masks: long-lived ones only (settings' credentials, what hooks
 * derive from them, proxy credentials, and fetched tokens while they are cached). A message's own derived
 * values (signatures) live in that message's Redactor, so this stays as large as the configuration,
 * however many messages go out.
 */
class SecretRegistry {
  constructor() {
    this.secrets = new Set();
    this.slots = new Map();
    this.cached = null;
  }

  add(secrets) {
    for (const secret of secrets) {
      const value = secret === undefined || secret === null ? '' : String(secret);
      if (value && !this.secrets.has(value)) {
        this.secrets.add(value);
        this.cached = null;
      }
    }
  }

  /** Secrets that replace the slot's previous ones (a refreshed token replaces the old one). */
  put(slot, secrets) {
    this.slots.set(slot, secrets.map(String).filter(Boolean));
    this.cached = null;
  }

  drop(slot) {
    if (this.slots.delete(slot)) this.cached = null;
  }

  /** Secrets held (entries, not forms). */
  get size() {
    let count = this.secrets.size;
    for (const values of this.slots.values()) count += values.length;
    return count;
  }

  /** One Redactor for all of them, rebuilt only when they change (the logger runs per line). */
  redactor() {
    if (!this.cached) this.cached = new Redactor([...this.secrets, ...[...this.slots.values()].flat()]);
    return this.cached;
  }
}

const REGISTRY = new SecretRegistry();

/** A redactor for every long-lived secret this process knows (used by the logger). */
function processRedactor() {
  REGISTRY.add(proxySecrets());
  return REGISTRY.redactor();
}

module.exports = {
  MASK,
  LONG_SECRET,
  COMMON_PATH_WORDS,
  Redactor,
  SecretRegistry,
  REGISTRY,
  processRedactor,
  isToken,
  urlParts,
  urlUserinfo,
  userinfoParts,
  headerParts,
  authForms,
  envSecrets,
  proxySecrets,
  secretForms,
};
