'use strict';
// Sends one channel's plan (`sendPlan`) and reads the outcome from the vendor's replies: retries, the
// token fetch and its substitution into the planned requests. The plan is never changed: what happened
// is the Outcome. python/mcp_push/deliver.py is the same.

const { secondsText } = require('./wire');
const log = require('./log');
const { STATUS, channelResult } = require('./result');
const retry = require('./retry');
const { RetryPolicy, nextDelay } = retry;
const { withToken } = require('./planner');
const { loadSettings } = require('./specs');
const { evaluate, parseJson, ruleHolds, vendorMessage } = require('./success');
const { resolvePath } = require('./paths');
const { TOKENS } = require('./tokens');
const { requestVariables } = require('./config');
const { TransportError } = require('./transports');
const { monotonicMs } = require('./clock');

// Longest error text in a result; cut only after secrets are masked.
const MAX_ERROR_CHARS = 300;

// How the transports begin the error of a request they could not even send (then naming the library's
// error, which blame replaces with the variables to check).
const CANNOT_SEND = 'the request cannot be sent as configured';

/** A request the transport could not even send is the configuration's fault: name its variables. */
function blame(plan, error) {
  if (error.kind !== 'config_error' || !error.message.startsWith(CANNOT_SEND)) return error.message;
  const names = requestVariables(plan.spec, plan.env);
  return names.length ? `${CANNOT_SEND}: check ${names.join(', ')}` : CANNOT_SEND;
}

class Failed extends Error {
  constructor(status, error, httpStatus = null, replyText = null, retryable = false, reply = null) {
    super(error);
    this.status = status;
    this.error = error;
    this.httpStatus = httpStatus;
    this.replyText = replyText;
    this.retryable = retryable;
    this.reply = reply;
  }
}

/**
 * What sending one plan came to: {plan, result, replies}, replies being the bodies of the vendor's
 * successful replies to the plan's send steps, in order (the first post's names the message to edit).
 */
function outcome(plan, result, replies = []) {
  return Object.freeze({
    plan,
    result,
    replies: Object.freeze([...replies]),
    get attempts() {
      return result.attempts;
    },
  });
}

/** Requests made and parts started so far, counted as they happen: what a caller that stops waiting for a hung send still reports. */
function progress() {
  return { attempts: 0, parts: 0 };
}

/** One send of a plan: its tries, the token it fetched, the replies it had. */
class Sending {
  constructor(plan, timeout, pace, counted, attempts = null) {
    this.plan = plan;
    this.timeout = timeout;
    this.policy = RetryPolicy.forSpec(plan.spec, attempts);
    this.pace = pace || retry.PACE;
    this.progress = counted;
    // The plan's redactor, and the token once fetched (the plan's own is shared and left as it is).
    this.redactor = plan.redactor;
    this.token = null;
    this.replies = [];
    // The retry deadline covers the whole send, every target and part, not each request.
    this.started = this.pace.monotonic();
  }

  errorPaths() {
    return this.plan.spec.error_paths.length ? this.plan.spec.error_paths : loadSettings().error_paths;
  }

  async tryOnce(request, success) {
    this.progress.attempts += 1;
    let reply;
    try {
      reply = await this.plan.transport.send(request, this.timeout);
    } catch (error) {
      if (error instanceof TransportError) {
        // A reply lost after the request was written is retried only under an idempotency key.
        const retryable = error.retryable || (error.maybeDelivered && this.policy.idempotent);
        throw new Failed(error.kind, blame(this.plan, error), null, null, retryable);
      }
      throw error;
    }
    const [ok, why] = evaluate(success, reply.status, reply.text);
    if (!ok) {
      const said = vendorMessage(reply.text, this.errorPaths());
      const retryable = this.plan.transport.retryable(reply.status);
      throw new Failed(STATUS.REJECTED, said ? `${why}: ${said}` : why, reply.status, reply.text, retryable, reply);
    }
    return reply;
  }

  /** One request, tried again on failures that say "later", within the policy's bounds. */
  async call(request, success) {
    const { policy, pace } = this;
    let tries = 0;
    for (;;) {
      tries += 1;
      try {
        return await this.tryOnce(request, success);
      } catch (failed) {
        if (!(failed instanceof Failed)) throw failed;
        if (!failed.retryable || tries >= policy.attempts) {
          if (failed.retryable) failed.error += ` (after ${tries} tries)`;
          throw failed;
        }
        const delay = nextDelay(policy, tries, failed.reply, pace);
        if (pace.monotonic() - this.started + delay > policy.deadline_seconds) {
          failed.error += ` (not retried: waiting ${secondsText(delay)} s would pass the ${secondsText(policy.deadline_seconds)} s deadline)`;
          throw failed;
        }
        log.info(
          `${this.plan.spec.display_name}: ${[...this.redactor.text(failed.error)].slice(0, 200).join('')}; trying again in ${secondsText(delay)} s`,
        );
        await pace.sleep(delay);
      }
    }
  }

  async fetchToken(refresh = false) {
    const { spec } = this.plan;
    const cacheKey = this.plan.tokenKey || '';
    if (refresh) TOKENS.drop(cacheKey);
    let token = TOKENS.get(cacheKey);
    if (!token) {
      const reply = await this.call(this.plan.tokenRequest, spec.token.success);
      const data = parseJson(reply.text);
      try {
        token = String(resolvePath(data, spec.token.value));
      } catch {
        throw new Failed(STATUS.REJECTED, `token reply has no ${spec.token.value}`, reply.status);
      }
      let ttl = spec.token.default_ttl || 3600;
      if (spec.token.expires_in) {
        try {
          const value = Number(resolvePath(data, spec.token.expires_in));
          if (Number.isFinite(value)) ttl = value;
        } catch {
          // no lifetime in the reply: keep the default
        }
      }
      TOKENS.put(cacheKey, token, ttl);
    }
    this.redactor = this.redactor.extended([token]);
    this.token = token;
    return token;
  }

  ready(request) {
    return this.token === null ? request : withToken(request, this.token);
  }

  /**
   * One planned request, with the token put in; a token the vendor calls stale is fetched anew and the
   * request tried once more (the requests after it get the new one).
   */
  async sendOne(request) {
    const { spec, success } = this.plan;
    const refreshRule = spec.token ? spec.token.refresh_on : undefined;
    try {
      return await this.call(this.ready(request), success);
    } catch (failed) {
      const stale =
        refreshRule &&
        failed instanceof Failed &&
        failed.replyText !== null &&
        ruleHolds(parseJson(failed.replyText), refreshRule);
      if (!stale) throw failed;
      // The cached token was revoked early: fetch a fresh one and try this request once more.
      await this.fetchToken(true);
      return await this.call(this.ready(request), success);
    }
  }

  async run() {
    if (this.plan.spec.token) await this.fetchToken();
    const { requests, parts, requestParts } = this.plan;
    const done = new Array(requests.length).fill(null);
    // Every target and part gets its message even when an earlier one failed (Chronocat's several QQ
    // ids). Parts go in order; the targets of one part at once (sendTargets).
    for (let start = 0; start < requests.length;) {
      const part = requestParts[start];
      let end = start;
      while (end < requests.length && requestParts[end] === part) end += 1;
      this.progress.parts = Math.max(this.progress.parts, part + 1);
      await this.sendTargets(start, end, done);
      start = end;
    }
    // Read in planned order, whatever order the replies came in: the same result as one at a time.
    const failures = [];
    let lastStatus = null;
    for (const [index, outcome] of done.entries()) {
      if (outcome instanceof Failed) {
        failures.push([requestParts[index], outcome]);
      } else {
        if (requests[index].step === 'send') this.replies.push(outcome.text);
        lastStatus = outcome.status;
      }
    }
    if (failures.length) {
      const [part, first] = failures[0];
      if (parts > 1)
        first.error = `${failures.length} of ${requests.length} requests failed; first, part ${part + 1}/${parts}: ${first.error}`;
      else if (requests.length > 1)
        first.error = `${failures.length} of ${requests.length} targets failed; first: ${first.error}`;
      throw first;
    }
    return lastStatus;
  }

  /**
   * Sends requests start..end-1 (the targets of one part), up to the pace's `atOnce` of them at a time,
   * started in planned order and within the spec's `limits.rate` (Starts). Each has its own timeout, so
   * a target that never answers holds one place only. A spec with a token sends one at a time: a token
   * the vendor calls stale is fetched anew for the requests after it.
   */
  async sendTargets(start, end, done) {
    const rate = (this.plan.spec.limits || {}).rate || null;
    const count = end - start;
    const width = Math.min(count, this.pace.atOnce || 1, rate ? rate.count : count);
    if (width <= 1 || this.plan.spec.token) {
      for (let index = start; index < end; index += 1) done[index] = await this.outcomeOf(index);
      return;
    }
    const starts = new Starts(rate);
    let next = start;
    const bugs = new Map();
    const work = async () => {
      while (next < end) {
        const index = next;
        next += 1; // taken in planned order; each start waits its turn under the rate
        await starts.turn();
        try {
          done[index] = await this.outcomeOf(index);
        } catch (error) {
          bugs.set(index, error); // a bug: thrown below, as one at a time would
        }
      }
    };
    await Promise.all(Array.from({ length: width }, work));
    if (bugs.size) throw bugs.get(Math.min(...bugs.keys()));
  }

  async outcomeOf(index) {
    try {
      return await this.sendOne(this.plan.requests[index]);
    } catch (failed) {
      if (failed instanceof Failed) return failed;
      throw failed;
    }
  }
}

const margin = (seconds) => seconds + Math.min(2, seconds / 10);

/** Seconds from `now` until one more request may start, given the earlier `starts` (oldest first). */
function nextStart(starts, now, rate) {
  let wait = 0;
  if (starts.length && rate.min_interval_seconds)
    wait = Math.max(wait, starts[starts.length - 1] + margin(rate.min_interval_seconds) - now);
  if (starts.length >= rate.count)
    wait = Math.max(wait, starts[starts.length - rate.count] + margin(rate.per_seconds) - now);
  return wait;
}

/**
 * The starts of one send's concurrent requests, held to the spec's `limits.rate`: at most `count` in any
 * `per_seconds` window and `min_interval_seconds` apart, with the margin the MCP server's lanes count
 * (spec/README.md, "Rate limits": S + min(2, S / 10)). Only the library's own concurrency is paced here:
 * requests one after another are sent as they always were.
 */
class Starts {
  constructor(rate) {
    this.rate = rate;
    this.times = [];
    this.queue = Promise.resolve();
  }

  turn() {
    if (!this.rate) return this.queue;
    this.queue = this.queue.then(async () => {
      const delay = nextStart(this.times, monotonicMs() / 1000, this.rate);
      if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay * 1000));
      this.times.push(monotonicMs() / 1000);
    });
    return this.queue;
  }
}

/** ', 3 parts', ', truncated' or both, for the log line of a long message. */
function shapeNote(result) {
  return (result.parts > 1 ? `, ${result.parts} parts` : '') + (result.truncated ? ', truncated' : '');
}

/**
 * Sends one channel's plan to completion; every failure becomes a result, never a rejection. Resolves
 * to its Outcome. `counted` (the caller's progress()) counts requests and parts as they happen.
 */
async function sendPlan(plan, timeout, pace = null, counted = progress(), attempts = null) {
  const started = monotonicMs();
  const { name } = plan.spec;
  const sending = new Sending(plan, timeout, pace, counted, attempts);
  const redact = (text) => {
    const masked = [...sending.redactor.text(text)]; // code points, as Python counts: a pair is never cut
    return masked.length <= MAX_ERROR_CHARS ? masked.join('') : `${masked.slice(0, MAX_ERROR_CHARS - 1).join('')}…`;
  };
  let result;
  try {
    if (plan.error) throw new Failed(plan.errorStatus, plan.error);
    const httpStatus = await sending.run();
    result = channelResult(name, true, STATUS.DELIVERED, null, counted.attempts, 0, httpStatus);
  } catch (failed) {
    if (failed instanceof Failed) {
      result = channelResult(name, false, failed.status, redact(failed.error), counted.attempts, 0, failed.httpStatus);
    } else {
      // A bug in a hook or spec must not take other channels down.
      result = channelResult(
        name,
        false,
        STATUS.INTERNAL_ERROR,
        redact(`${failed.name}: ${failed.message}`),
        counted.attempts,
      );
    }
  }
  result.parts = counted.parts;
  result.truncated = plan.truncated;
  result.elapsed_ms = Math.round(monotonicMs() - started);
  if (result.ok) log.info(`${plan.spec.display_name}: delivered (${result.elapsed_ms} ms${shapeNote(result)})`);
  else log.warning(`${plan.spec.display_name}: ${result.status}: ${result.error}`);
  return outcome(plan, result, sending.replies);
}

module.exports = { sendPlan, outcome, progress, nextStart };
