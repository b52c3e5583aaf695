'use strict';
// Delivers one channel's planned requests and reads the outcome from the vendor's replies.

const { secondsText } = require('./wire');
const log = require('./log');
const { STATUS, channelResult } = require('./result');
const retry = require('./retry');
const { RetryPolicy, nextDelay, retryableStatus } = retry;
const { renderRequest } = require('./planner');
const { loadSettings } = require('./specs');
const { evaluate, parseJson, ruleHolds, vendorMessage } = require('./success');
const { render } = require('./templates');
const { resolvePath } = require('./paths');
const { TOKENS } = require('./tokens');
const { requestVariables } = require('./config');
const { TransportError, transportFor } = require('./transports');

// Longest error text in a result; cut only after secrets are masked.
const MAX_ERROR_CHARS = 300;

// How the transports begin the error of a request they could not even send (then naming the library's
// error, which blame replaces with the variables to check).
const CANNOT_SEND = 'the request cannot be sent as configured';

/** A request the transport could not even send is the configuration's fault: name its variables. */
function blame(plan, error) {
  if (error.kind !== 'config_error' || !error.message.startsWith(CANNOT_SEND)) return error.message;
  const names = requestVariables(plan.spec, (plan.context && plan.context.env) || {});
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

class Delivery {
  constructor(plan, timeout, pace = null) {
    this.plan = plan;
    this.timeout = timeout;
    this.send = transportFor(plan.spec.transport);
    this.policy = RetryPolicy.forSpec(plan.spec);
    this.pace = pace || retry.PACE;
    // The retry deadline covers the whole send, every target and part, not each request.
    this.started = this.pace.monotonic();
  }

  errorPaths() {
    return this.plan.spec.error_paths.length ? this.plan.spec.error_paths : loadSettings().error_paths;
  }

  get attempts() {
    return this.plan.attempts;
  }

  async tryOnce(request, success) {
    this.plan.attempts += 1;
    let reply;
    try {
      reply = await this.send(request, this.timeout);
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
      const retryable = retryableStatus(this.plan.spec.transport, reply.status);
      throw new Failed(STATUS.REJECTED, said ? `${why}: ${said}` : why, reply.status, reply.text, retryable, reply);
    }
    if (request.step === 'send') this.plan.replyTexts.push(reply.text);
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
        log.info(`${this.plan.spec.display_name}: ${[...this.plan.redactor.text(failed.error)].slice(0, 200).join('')}; trying again in ${secondsText(delay)} s`);
        await pace.sleep(delay);
      }
    }
  }

  async fetchToken(refresh = false) {
    const { spec, context } = this.plan;
    const cacheKey = render(spec.token.cache_key, context);
    if (refresh) TOKENS.drop(cacheKey);
    const cached = TOKENS.get(cacheKey);
    if (cached) return cached;
    const reply = await this.call(this.plan.tokenRequest, spec.token.success);
    const data = parseJson(reply.text);
    let token;
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
    this.plan.redactor.add([token]);
    TOKENS.put(cacheKey, token, ttl);
    return token;
  }

  requestsWith(token) {
    if (token === null) return this.plan.requests;
    const template = this.plan.requestTemplate || this.plan.spec.request;
    return this.plan.partContexts.flatMap((context) => renderRequest(this.plan.spec, template, { ...context, token }));
  }

  async sendOne(index, request) {
    const { spec } = this.plan;
    const success = this.plan.success || spec.success;
    const refreshRule = spec.token ? spec.token.refresh_on : undefined;
    try {
      return (await this.call(request, success)).status;
    } catch (failed) {
      const stale = refreshRule && failed instanceof Failed && failed.replyText !== null && ruleHolds(parseJson(failed.replyText), refreshRule);
      if (!stale) throw failed;
      // The cached token was revoked early: fetch a fresh one and try this request once more.
      const token = await this.fetchToken(true);
      return (await this.call(this.requestsWith(token)[index], success)).status;
    }
  }

  async run() {
    const token = this.plan.spec.token ? await this.fetchToken() : null;
    const requests = this.requestsWith(token);
    let lastStatus = null;
    const failures = [];
    const parts = this.plan.partContexts.length;
    // Every target and part gets its message even when an earlier one failed (Chronocat's several QQ ids).
    for (const [index, request] of requests.entries()) {
      const part = index < this.plan.requestParts.length ? this.plan.requestParts[index] : 0;
      this.plan.partsSent = Math.max(this.plan.partsSent, part + 1);
      try {
        lastStatus = await this.sendOne(index, request);
      } catch (failed) {
        if (!(failed instanceof Failed)) throw failed;
        failures.push([part, failed]);
      }
    }
    if (failures.length) {
      const [part, first] = failures[0];
      if (parts > 1) first.error = `${failures.length} of ${requests.length} requests failed; first, part ${part + 1}/${parts}: ${first.error}`;
      else if (requests.length > 1) first.error = `${failures.length} of ${requests.length} targets failed; first: ${first.error}`;
      throw first;
    }
    return lastStatus;
  }
}

/** ', 3 parts', ', truncated' or both, for the log line of a long message. */
function shapeNote(result) {
  return (result.parts > 1 ? `, ${result.parts} parts` : '') + (result.truncated ? ', truncated' : '');
}

/** Runs one channel to completion; every failure becomes a result, never a rejection. */
async function deliver(plan, timeout, pace = null) {
  const started = performance.now();
  const { name } = plan.spec;
  const redact = (text) => {
    const masked = [...plan.redactor.text(text)]; // code points, as Python counts: a pair is never cut
    return masked.length <= MAX_ERROR_CHARS ? masked.join('') : `${masked.slice(0, MAX_ERROR_CHARS - 1).join('')}…`;
  };
  const delivery = new Delivery(plan, timeout, pace);
  let result;
  try {
    if (plan.error) throw new Failed(plan.errorStatus, plan.error);
    const httpStatus = await delivery.run();
    result = channelResult(name, true, STATUS.DELIVERED, null, delivery.attempts, 0, httpStatus);
  } catch (failed) {
    if (failed instanceof Failed) {
      result = channelResult(name, false, failed.status, redact(failed.error), delivery.attempts, 0, failed.httpStatus);
    } else {
      // A bug in a hook or spec must not take other channels down.
      result = channelResult(name, false, STATUS.INTERNAL_ERROR, redact(`${failed.name}: ${failed.message}`), delivery.attempts);
    }
  }
  result.parts = plan.partsSent;
  result.truncated = plan.truncated;
  result.elapsed_ms = Math.round(performance.now() - started);
  if (result.ok) log.info(`${plan.spec.display_name}: delivered (${result.elapsed_ms} ms${shapeNote(result)})`);
  else log.warning(`${plan.spec.display_name}: ${result.status}: ${result.error}`);
  return result;
}

module.exports = { deliver };
