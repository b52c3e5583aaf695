'use strict';
// The entry points: `send`/`sendNotify` (per-channel results, never rejects, never hangs) and `plan`.

const log = require('./log');
const { STATUS, SendResult, channelResult } = require('./result');
const { ConfigError, isTrue, messageText, requestTimeout, setting } = require('./config');
const { outcome, progress, sendPlan } = require('./deliver');
const { secondsText } = require('./wire');
const { overflowMode } = require('./overflow');
const { checkFormat } = require('./markdown');
const { planChannel, requestToDict } = require('./planner');
const { processRedactor, proxySecrets } = require('./redact');
const { monotonicMs } = require('./clock');
const { RetryPolicy, attemptsOverride } = require('./retry');
const { NO_CHANNEL_NAMED, channelNames, channelProblems, channelsError, configuredChannels } = require('./selection');

// Extra seconds a channel may run past its own request timeouts before it is reported as hung.
const JOIN_MARGIN_S = 5;

/**
 * Seconds a channel may take before it is reported as hung: every request it may make (a stale token
 * costs two more) times its transport's round trips (each allowed the full timeout), plus a margin.
 */
function timeBudget(channelPlan, timeout, attempts = null) {
  const requests = channelPlan.requests.length + (channelPlan.tokenRequest ? 3 : 0);
  const { roundTrips } = channelPlan.transport;
  const policy = RetryPolicy.forSpec(channelPlan.spec, attempts);
  // Retried tries start within the deadline; the last may then take its whole timeout.
  const retries = policy.attempts > 1 ? policy.deadline_seconds + timeout * roundTrips : 0;
  return timeout * Math.max(requests, 1) * roundTrips + retries + JOIN_MARGIN_S;
}

/**
 * The channel ids a `channels` argument selects (null: all), or the result that says why nothing is
 * sent: a config_error per name that is no configured channel (send never rejects).
 */
function selection(source, channels) {
  const names = channelNames(channels);
  if (names === null) return [null, null];
  if (!names.length) return [null, new SendResult([], NO_CHANNEL_NAMED)];
  const problems = channelProblems(source, names);
  if (problems.length) {
    for (const [, error] of problems) log.warning(`not pushed: ${error}`);
    return [
      null,
      new SendResult(problems.map(([name, error]) => channelResult(name, false, STATUS.CONFIG_ERROR, error))),
    ];
  }
  return [names.map((name) => name.toLowerCase()), null];
}

function skipReason(title, content, source) {
  if (!content) return 'content is empty';
  // Whole-line matches only, as QingLong; an empty line (or an unset variable) skips nothing.
  const skipTitles = setting('SKIP_PUSH_TITLE', source).split('\n').filter(Boolean);
  if (skipTitles.includes(title)) return 'title is listed in SKIP_PUSH_TITLE';
  return null;
}

/**
 * The requests `send` would make, without sending (no hitokoto, no token fetch). The same JSON as
 * Python's mcp_push.plan: [{channel, step, method, url, headers, body[, proxy]}] or {channel, error}.
 * `editRefs` ({channel: ref}) plans, for a channel whose spec can edit (`edit`), the edit of the
 * message ref names instead of a post.
 */
function plan(
  title,
  content,
  {
    env = null,
    now = null,
    params = null,
    redact = true,
    editRefs = null,
    channels = null,
    priority = null,
    format = null,
  } = {},
) {
  const markup = checkFormat(format);
  const source = env === null ? process.env : env;
  title = messageText(title);
  content = messageText(content);
  const [selected, refused] = selection(source, channels);
  if (refused) {
    const errors = refused.channels.map((r) => ({ channel: r.channel, error: r.error }));
    return errors.length ? errors : [{ channel: '', error: refused.skipped }];
  }
  if (skipReason(title, content, source)) return [];
  const at = now === null ? Date.now() / 1000 : now;
  const overflow = overflowMode(setting('MCP_PUSH_OVERFLOW', source)); // a ConfigError here is thrown
  const entries = [];
  const proxies = proxySecrets(); // once per message: the same for every channel
  for (const [spec, channelVars] of configuredChannels(source, selected)) {
    const channelPlan = planChannel(
      spec,
      channelVars,
      title,
      content,
      params || {},
      at,
      overflow,
      refFor(editRefs, spec.name),
      priority,
      markup,
      proxies,
    );
    const mask = redact ? (tree) => channelPlan.redactor.tree(tree) : (tree) => tree;
    if (channelPlan.error) {
      entries.push({ channel: spec.name, error: channelPlan.error });
      continue;
    }
    const steps = channelPlan.tokenRequest ? [channelPlan.tokenRequest] : [];
    for (const request of [...steps, ...channelPlan.requests]) entries.push(mask(requestToDict(request)));
  }
  return entries;
}

// An own entry only: a channel named like an Object.prototype member has no ref.
const refFor = (editRefs, name) =>
  editRefs && Object.prototype.hasOwnProperty.call(editRefs, name) ? editRefs[name] : null;

function withDeadline(promise, ms, onTimeout) {
  let timer;
  const deadline = new Promise((resolve) => {
    timer = setTimeout(() => resolve(onTimeout()), ms);
    timer.unref(); // a channel stuck past every timeout must not keep the process alive
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/**
 * The result of a send under a config file that cannot be used (send never rejects): nothing goes, and
 * one config_error result, named `config`, says every problem of the file. Python's config_file_problem.
 */
function configFileProblem(source) {
  const { ConfigFileError, loadConfig } = require('./configFile');
  try {
    loadConfig(source);
  } catch (error) {
    if (!(error instanceof ConfigFileError)) throw error;
    log.warning(`not pushed: ${error.message}`);
    return new SendResult([channelResult('config', false, STATUS.CONFIG_ERROR, error.message)]);
  }
  return null;
}

/**
 * A message ready to go: {title, content, targets: [[spec, env]], timeout, overflow}, or with `result`
 * set, why nothing goes (skipped, no channel, a setting that cannot work). Python's prepare_message.
 */
async function prepareMessage(title, content, source, channels = null) {
  title = messageText(title);
  content = messageText(content);
  const problem = configFileProblem(source);
  if (problem) return { title, content, targets: [], timeout: 0, overflow: 'split', attempts: null, result: problem };
  const [selected, refused] = selection(source, channels);
  if (refused) return { title, content, targets: [], timeout: 0, overflow: 'split', attempts: null, result: refused };
  const targets = configuredChannels(source, selected);
  const prepared = { title, content, targets, timeout: 0, overflow: 'split', attempts: null, result: null };
  const reason = skipReason(title, content, source);
  if (reason) {
    log.info(`not pushed: ${reason}`);
    prepared.result = new SendResult(
      targets.map(([spec]) => channelResult(spec.name, false, STATUS.SKIPPED, reason)),
      reason,
    );
    return prepared;
  }
  if (!targets.length) {
    log.warning("no push channel is configured; see the channel table in mcp-push's README");
    prepared.result = new SendResult([], 'no channel is configured');
    return prepared;
  }
  try {
    prepared.timeout = requestTimeout(setting('MCP_PUSH_TIMEOUT', source));
    prepared.overflow = overflowMode(setting('MCP_PUSH_OVERFLOW', source));
    setting('MCP_PUSH_FORMAT', source); // checked here, so a bad value is every channel's config_error
    prepared.attempts = attemptsOverride(source);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    log.warning(error.message);
    prepared.result = new SendResult(
      targets.map(([spec]) => channelResult(spec.name, false, STATUS.CONFIG_ERROR, error.message)),
    );
    return prepared;
  }
  if (isTrue(setting('HITOKOTO', source))) {
    const { fetchQuote } = require('./hitokoto');
    const quote = await fetchQuote();
    if (quote) prepared.content = `${content}\n\n${quote}`;
  }
  return prepared;
}

/**
 * Sends to every configured channel (or the named subset) concurrently; always resolves to results.
 * `editRefs` ({channel: ref}) makes a channel whose spec can edit (`edit`) edit the message ref names
 * instead of posting, under the one edit rule (edits.postOrEdit): an edit the vendor refuses with a 4xx
 * is posted anew; a 5xx is retried as the edit and, if it keeps failing, reported as the edit's failure.
 */
async function dispatch(
  title,
  content,
  source,
  { params = null, channels = null, now = null, editRefs = null, priority = null, tags = null, format = null } = {},
) {
  const markup = checkFormat(format);
  const prepared = await prepareMessage(title, content, source, channels);
  if (prepared.result) return prepared.result;
  prepared.format = markup;
  if (priority !== null)
    prepared.priorities = Object.fromEntries(prepared.targets.map(([spec]) => [spec.name, priority]));
  // With a routing config file (docs/ROUTING.md), routing decides which instances get it (routed.js).
  const { merge, routePrepared } = require('./routed');
  const routing = routePrepared(prepared, source, { tags, channels, now });
  if (routing !== null && !prepared.targets.length) return merge(routing, []);
  const sent = (await sendPrepared(prepared, { params, now, editRefs })).map((outcome) => outcome.result);
  return routing !== null ? merge(routing, sent) : new SendResult(sent);
}

/**
 * Plans and sends a prepared message to its channels (or those named in `only`) concurrently: each
 * channel's Outcome (its result, the plan it ran, the vendor's successful replies). With `editRefs`,
 * edits follow the one edit rule (edits.postOrEdit).
 */
async function sendPrepared(prepared, { params = null, now = null, editRefs = null, only = null } = {}) {
  // Required here, not at the top: edits.js requires this module.
  const { postOrEdit } = require('./edits');
  const targets = only === null ? prepared.targets : prepared.targets.filter(([spec]) => only.includes(spec.name));
  const at = now === null ? Date.now() / 1000 : now;
  const send = (refs, subset) =>
    sendConcurrently(
      prepared,
      subset === null ? targets : targets.filter(([spec]) => subset.includes(spec.name)),
      params,
      at,
      refs,
    );
  return postOrEdit(send, editRefs || {});
}

// Whether a send of this process has started requests (whose connections may be pooled now).
let requestsStarted = false;

async function sendConcurrently(prepared, targets, params, at, editRefs) {
  const { title, content, timeout, overflow, attempts = null, format = 'text' } = prepared;
  const proxies = proxySecrets();
  const plans = targets.map(([spec, env]) =>
    planChannel(
      spec,
      env,
      title,
      content,
      params || {},
      at,
      overflow,
      refFor(editRefs, spec.name),
      (prepared.priorities || {})[spec.name] ?? null,
      format,
      proxies,
    ),
  );
  // A connection a previous send's reply has just finished with goes back to its pool on the next turn
  // of the event loop (undici's, node:http's): starting the requests after that turn reuses it, where
  // a send that followed at once opened new ones (a tunnel and a TLS handshake each, behind a proxy).
  // Before this process's first requests no connection can be pooled: they start at once.
  if (requestsStarted) await new Promise((resolve) => setImmediate(resolve));
  requestsStarted = true;
  const started = monotonicMs();
  // The masks of this send's secrets (its results' and log lines') are worked out after its requests are
  // on their way, while the vendors answer: not before the requests, nor at the first reply.
  setImmediate(() => {
    for (const channelPlan of plans) channelPlan.redactor.prime();
    processRedactor().prime();
  });
  return Promise.all(
    plans.map((channelPlan) => {
      const budget = timeBudget(channelPlan, timeout, attempts);
      const counted = progress();
      const guarded = sendPlan(channelPlan, timeout, null, counted, attempts).catch((error) =>
        outcome(
          channelPlan,
          channelResult(
            channelPlan.spec.name,
            false,
            STATUS.INTERNAL_ERROR,
            channelPlan.redactor.text(String(error)),
            counted.attempts,
            0,
            null,
            counted.parts,
            channelPlan.truncated,
          ),
        ),
      );
      // Still running at the deadline: it may deliver late, but the caller is not kept waiting for it.
      return withDeadline(guarded, budget * 1000, () => {
        log.warning(`${channelPlan.spec.display_name}: no result within ${secondsText(budget)} s; not waiting for it`);
        return outcome(
          channelPlan,
          channelResult(
            channelPlan.spec.name,
            false,
            STATUS.TIMEOUT,
            `no result within ${secondsText(budget)} s`,
            counted.attempts,
            Math.round(monotonicMs() - started),
            null,
            counted.parts,
            channelPlan.truncated,
          ),
        );
      });
    }),
  );
}

/**
 * Pushes to every configured channel, reading process.env (or `env`), and says what happened.
 * `params` are vendor parameters merged into Bark and PushMe bodies and appended to iGot's form.
 * `channels` (channel ids, any case; a string may list several, comma-separated) sends to those
 * only; a name that is no configured channel sends nothing and is a config_error result of that name
 * whose error lists the configured channels (send never rejects). `format: 'markdown'` reads the content
 * as CommonMark and converts it for each channel (its spec's `markdown`); the default `text` sends it as it
 * is; another value rejects with Error('format: must be text or markdown').
 */
function send(
  title,
  content,
  { env = null, params = null, channels = null, now = null, tags = null, format = null } = {},
) {
  return dispatch(title, content, env === null ? process.env : env, { params, channels, now, tags, format });
}

module.exports = {
  plan,
  dispatch,
  send,
  configuredChannels,
  channelNames,
  channelProblems,
  channelsError,
  timeBudget,
  prepareMessage,
  sendPrepared,
};
