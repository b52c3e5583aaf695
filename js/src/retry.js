'use strict';
// When a failed request is tried again, and after how long (spec/README.md, "Retries"); retry.py's twin.
// The policy is settings.yaml's `retry`, overridden by a channel spec's own `retry` block. Only failures
// that cannot have delivered the message (a connection refused before any byte was written) and answers
// that say "later" (HTTP 429 and 5xx, SMTP 4xx) are retried; a vendor's no (4xx, 200 with an error code)
// never is. A request written whose reply was lost is retried only when the spec says `idempotent: true`
// (its request carries a key the vendor deduplicates on, as Matrix's txnId).

const { stripSpace } = require('./config');
const { loadSettings } = require('./specs');
const { parseJson } = require('./success');
const { lookup } = require('./templates');

class RetryPolicy {
  constructor({ attempts, backoff_seconds, max_backoff_seconds, jitter, deadline_seconds, after_json = null, idempotent = false }) {
    this.attempts = attempts;
    this.backoff_seconds = backoff_seconds;
    this.max_backoff_seconds = max_backoff_seconds;
    this.jitter = jitter;
    this.deadline_seconds = deadline_seconds;
    this.after_json = after_json;
    // The request carries an idempotency key: a lost reply may be retried without posting twice.
    this.idempotent = idempotent;
    Object.freeze(this);
  }

  static forSpec(spec) {
    return new RetryPolicy({ ...loadSettings().retry, ...(spec.retry || {}) });
  }

  /** Seconds before try number tries+1: backoff doubled per try, capped, then jittered down. */
  backoff(tries, r) {
    const base = Math.min(this.backoff_seconds * 2 ** (tries - 1), this.max_backoff_seconds);
    return base * (1 - this.jitter * r);
  }
}

/**
 * The clock, sleep and randomness retries use. Conformance replays and tests swap in fakes, either by
 * replacing the fields here or by handing sendPlan() a pace of their own. The sleep keeps the process
 * alive on purpose: a send waiting to retry is still a send in progress.
 */
const PACE = {
  sleep: (seconds) => new Promise((resolve) => setTimeout(resolve, seconds * 1000)),
  monotonic: () => performance.now() / 1000,
  random: () => Math.random(),
};

// ---- HTTP dates, read as Python's email.utils.parsedate_to_datetime reads them -----------------------

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec',
  'january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september', 'october', 'november', 'december'];
const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
const ZONES = { UT: 0, UTC: 0, GMT: 0, Z: 0, AST: -400, ADT: -300, EST: -500, EDT: -400, CST: -600, CDT: -500, MST: -700, MDT: -600, PST: -800, PDT: -700 };

// Python's int() of ASCII text: optional sign, digits with single underscores between them, white space around.
function pyInt(text) {
  const match = /^\s*([+-]?)(\d+(?:_\d+)*)\s*$/.exec(text);
  if (!match) return null;
  const value = Number(match[2].replace(/_/g, ''));
  return match[1] === '-' ? -value : value;
}

const isLeap = (year) => (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
const daysIn = (year, month) => [31, isLeap(year) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];

/**
 * Unix seconds of an RFC 2822 / HTTP date that names its zone, or null: the steps of Python's
 * email._parseaddr._parsedate_tz, so a lenient date is read alike by both runtimes ("-0000", a zone
 * that disclaims itself, is null: Python's parse gives a naive time, which retry_after ignores).
 */
function parseHttpDate(header) {
  let data = header.split(/\s+/).filter(Boolean);
  if (!data.length) return null;
  if (data[0].endsWith(',') || DAYS.includes(data[0].toLowerCase())) data.shift();
  else {
    const comma = data[0].lastIndexOf(',');
    if (comma >= 0) data[0] = data[0].slice(comma + 1);
  }
  if (data.length === 3) {
    const stuff = data[0].split('-');
    if (stuff.length === 3) data = [...stuff, ...data.slice(1)];
  }
  if (data.length === 4) {
    const s = data[3];
    let i = s.indexOf('+');
    if (i === -1) i = s.indexOf('-');
    if (i > 0) data.splice(3, 1, s.slice(0, i), s.slice(i));
    else data.push('');
  }
  if (data.length < 5) return null;
  let [dd, mm, yy, tm, tz] = data.slice(0, 5);
  if (!(dd && mm && yy)) return null;
  mm = mm.toLowerCase();
  if (!MONTHS.includes(mm)) {
    [dd, mm] = [mm, dd.toLowerCase()];
    if (!MONTHS.includes(mm)) return null;
  }
  let month = MONTHS.indexOf(mm) + 1;
  if (month > 12) month -= 12;
  if (dd.endsWith(',')) dd = dd.slice(0, -1);
  if (yy.indexOf(':') > 0) [yy, tm] = [tm, yy];
  if (yy.endsWith(',')) {
    yy = yy.slice(0, -1);
    if (!yy) return null;
  }
  if (!/^[0-9]/.test(yy)) [yy, tz] = [tz, yy];
  if (tm.endsWith(',')) tm = tm.slice(0, -1);
  let parts = tm.split(':');
  let thh;
  let tmm;
  let tss = '0';
  if (parts.length === 2) [thh, tmm] = parts;
  else if (parts.length === 3) [thh, tmm, tss] = parts;
  else if (parts.length === 1 && parts[0].includes('.')) {
    parts = parts[0].split('.');
    if (parts.length === 2) [thh, tmm] = parts;
    else if (parts.length === 3) [thh, tmm, tss] = parts;
    else return null;
  } else return null;
  const numbers = [yy, dd, thh, tmm, tss].map(pyInt);
  if (numbers.includes(null)) return null;
  const [givenYear, day, hour, minute, second] = numbers;
  // A two-digit year, as POSIX reads it: 69-99 are 1969-1999, 0-68 are 2000-2068.
  const year = givenYear < 100 ? givenYear + (givenYear > 68 ? 1900 : 2000) : givenYear;
  tz = tz.toUpperCase();
  let offset = null;
  if (tz in ZONES) offset = ZONES[tz];
  else {
    offset = pyInt(tz);
    if (offset === 0 && tz.startsWith('-')) offset = null;
  }
  if (offset) offset = Math.sign(offset) * (Math.floor(Math.abs(offset) / 100) * 3600 + (Math.abs(offset) % 100) * 60);
  // datetime() refuses what no calendar has, and a zone a day or more away.
  if (offset === null || Math.abs(offset) >= 86400) return null;
  if (year < 1 || year > 9999 || month < 1 || month > 12 || day < 1 || day > daysIn(year, month)) return null;
  if (hour > 23 || minute > 59 || second > 59 || hour < 0 || minute < 0 || second < 0) return null;
  const utc = new Date(0);
  utc.setUTCFullYear(year, month - 1, day);
  utc.setUTCHours(hour, minute, second, 0);
  return utc.getTime() / 1000 - offset;
}

/**
 * Seconds the vendor asked to wait: the Retry-After header (seconds or an HTTP date), else the spec's
 * `after_json` path in the body (Telegram's parameters.retry_after). null when it said nothing.
 */
function retryAfter(reply, policy, now = () => Date.now() / 1000) {
  const header = stripSpace(String((reply.headers || {})['retry-after'] || ''));
  if (header) {
    if (/^[0-9]+$/.test(header)) return Number(header);
    const when = parseHttpDate(header);
    if (when !== null) return Math.max(when - now(), 0);
  }
  if (policy.after_json) {
    let value;
    try {
      value = lookup(parseJson(reply.text), policy.after_json);
    } catch {
      value = null;
    }
    if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value;
  }
  return null;
}

/** The wait before the next try: what the vendor asked for, or the jittered backoff. */
function nextDelay(policy, tries, reply, pace) {
  const asked = reply ? retryAfter(reply, policy) : null;
  return asked !== null ? asked : policy.backoff(tries, pace.random());
}

module.exports = { RetryPolicy, PACE, retryAfter, nextDelay, parseHttpDate };
