'use strict';
// When a failed request is tried again, and after how long (spec/README.md, "Retries"); retry.py's twin.
// The policy is settings.yaml's `retry`, overridden by a channel spec's own `retry` block. Only failures
// that cannot have delivered the message (a connection refused before any byte was written) and answers
// that say "later" (HTTP 429 and 5xx, SMTP 4xx) are retried; a vendor's no (4xx, 200 with an error code)
// never is. A request written whose reply was lost is retried only when the spec says `idempotent: true`
// (its request carries a key the vendor deduplicates on, as Matrix's txnId).

const { setting, stripSpace } = require('./config');
const { loadSettings } = require('./specs');
const { parseJson } = require('./success');
const { resolvePath } = require('./paths');
const { monotonicMs } = require('./clock');

class RetryPolicy {
  constructor({
    attempts,
    backoff_seconds,
    max_backoff_seconds,
    jitter,
    deadline_seconds,
    after_json = null,
    idempotent = false,
  }) {
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

  /** settings.yaml's policy, the spec's `retry` over it, and MCP_PUSH_RETRY_ATTEMPTS (`attempts`, from attemptsOverride) over the policy's attempts. */
  static forSpec(spec, attempts = null) {
    const merged = { ...loadSettings().retry, ...(spec.retry || {}) };
    if (attempts !== null) merged.attempts = attempts;
    return new RetryPolicy(merged);
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
  monotonic: () => monotonicMs() / 1000,
  random: () => Math.random(),
  // Wall-clock Unix seconds, what a Retry-After date is measured from.
  wall: () => Date.now() / 1000,
  // How many targets of one channel are sent at once (deliver.js). A fake clock is one sender's: a
  // replay's scripted replies answer in order, so the fakes (and a pace without it) send one at a time.
  atOnce: 8,
};

// Retry-After (spec/README.md, "Retries"): RFC 9110 delta-seconds, or an IMF-fixdate exactly; anything
// else (the obsolete RFC 850 and asctime forms, a sign, a fraction, another zone) says nothing.
const DELTA_SECONDS = /^[0-9]+$/;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const IMF_FIXDATE = new RegExp(
  `^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), ([0-9]{2}) (${MONTHS.join('|')}) ([0-9]{4}) ([0-9]{2}):([0-9]{2}):([0-9]{2}) GMT$`,
);
// A larger delta-seconds is read as 2**31, as RFC 9111 reads one that overflows: every wait is finite.
const MAX_DELTA_SECONDS = 2 ** 31;

/** Seconds a Retry-After value asks to wait (a date in the past: 0), or null when it is neither form. */
function headerWait(header, now) {
  const value = stripSpace(header);
  if (DELTA_SECONDS.test(value)) return Math.min(Number(value), MAX_DELTA_SECONDS);
  const match = IMF_FIXDATE.exec(value);
  if (!match) return null;
  const [day, month, year, hour, minute, second] = [match[1], MONTHS.indexOf(match[2]) + 1, ...match.slice(3)].map(
    Number,
  );
  // setUTCFullYear, not Date.UTC, which reads years 0-99 as 1900-1999. A day no calendar has (31 Feb,
  // hour 24, second 60) comes back as another one, and is no date; nor is year 0, as for Python's datetime.
  const when = new Date(0);
  when.setUTCFullYear(year, month - 1, day);
  when.setUTCHours(hour, minute, second, 0);
  const exists =
    year >= 1 &&
    when.getUTCFullYear() === year &&
    when.getUTCMonth() === month - 1 &&
    when.getUTCDate() === day &&
    when.getUTCHours() === hour &&
    when.getUTCMinutes() === minute &&
    when.getUTCSeconds() === second;
  return exists ? Math.max(when.getTime() / 1000 - now, 0) : null;
}

/**
 * Seconds the vendor asked to wait: the Retry-After header, else the spec's
 * `after_json` path in the body (Telegram's parameters.retry_after). null when it said nothing.
 */
function retryAfter(reply, policy, now = () => Date.now() / 1000) {
  const header = String((reply.headers || {})['retry-after'] || '');
  const asked = header ? headerWait(header, now()) : null;
  if (asked !== null) return asked;
  if (policy.after_json) {
    let value;
    try {
      value = resolvePath(parseJson(reply.text), policy.after_json);
    } catch {
      value = null;
    }
    if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value;
  }
  return null;
}

/** The wait before the next try: what the vendor asked for, or the jittered backoff. */
function nextDelay(policy, tries, reply, pace) {
  const asked = reply ? retryAfter(reply, policy, pace.wall) : null;
  return asked !== null ? asked : policy.backoff(tries, pace.random());
}

const ATTEMPTS_VAR = 'MCP_PUSH_RETRY_ATTEMPTS';

/** MCP_PUSH_RETRY_ATTEMPTS: tries per request for every channel (an integer of at least 1, a ConfigError naming it otherwise), or null when unset. */
function attemptsOverride(source) {
  const text = stripSpace(setting(ATTEMPTS_VAR, source));
  return text ? Number(text) : null;
}

module.exports = { RetryPolicy, PACE, ATTEMPTS_VAR, attemptsOverride, retryAfter, nextDelay, headerWait };
