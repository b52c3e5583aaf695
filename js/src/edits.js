'use strict';
// Edit in place (spec/README.md, "Edit in place"). `postOrEdit` is the one rule for an edit that fails,
// used by `dispatch`/`sendEvent` (and, in Python, by the MCP server's engine). For `sendEvent`
// (MCP_PUSH_EDIT_PROGRESS=true), the message each run's first post created is remembered in this
// process's memory, and the run's later updates edit it. python/mcp_push/edits.py is the same.

const crypto = require('node:crypto');
const log = require('./log');
const { prepareMessage, sendPrepared } = require('./api');
const { isTrue, resolveVar } = require('./config');
const { outcome } = require('./deliver');
const { STATUS, SendResult } = require('./result');
const { loadSettings } = require('./specs');
const { parseJson } = require('./success');
const { resolvePath } = require('./paths');

const EDIT_VAR = 'MCP_PUSH_EDIT_PROGRESS';
const TERMINAL = ['end', 'error'];
// Refs remembered per credential: runs that never end must not grow memory without bound.
const MAX_REFS = 1000;

// Lane keys are salted (an unsalted hash of a short token could be tested against guesses); in-process
// edits salt per process, as python/mcp_push/lanekey.py does.
const PROCESS_SALT = crypto.randomBytes(32);

/** `channel:<16 hex digits>` of HMAC-SHA256(salt, the secret values joined by NUL): one lane, one rate
 * limit, per credential, without keeping the credential. */
function laneKey(spec, env, salt) {
  const secrets = spec.secretEnv.map((name) => env[name] ?? '').join('\0');
  // The channel id, not an instance's name: two instances with one credential share the vendor's limits.
  return `${spec.instance_of || spec.name}:${crypto.createHmac('sha256', salt).update(secrets, 'utf8').digest('hex').slice(0, 16)}`;
}

/**
 * The message each run's updates edit, per channel credential (lane key) and run id; the oldest run of
 * a credential is forgotten first once it holds `limit`.
 */
class EditRefs {
  constructor(limit = MAX_REFS) {
    this.limit = limit;
    this.refs = new Map(); // lane key -> Map(run id -> ref), oldest first
  }

  get(lane, runId) {
    const refs = this.refs.get(lane);
    return refs && refs.has(runId) ? refs.get(runId) : null;
  }

  /** Remembers the run's message; null forgets it. */
  set(lane, runId, ref) {
    if (!this.refs.has(lane)) this.refs.set(lane, new Map());
    const refs = this.refs.get(lane);
    refs.delete(runId);
    if (ref === null || ref === undefined) return;
    refs.set(runId, ref);
    while (refs.size > this.limit) refs.delete(refs.keys().next().value);
  }
}

const EDITS = new EditRefs();

/** The value at the spec's `edit.ref` in a post's reply, or null. */
function readRef(spec, replyText) {
  try {
    const ref = resolvePath(parseJson(replyText), spec.edit.ref);
    return ref === undefined ? null : ref;
  } catch {
    return null;
  }
}

/**
 * The vendor answered the edit with a no that a new post can get past: a 4xx other than 429 (the message
 * is gone, too old, not editable), or a success status whose body says it failed. A 5xx or 429 (retried
 * as the edit first), a timeout or a network error is not: the edit may have landed, or the vendor is
 * down, and a post as well could show the message twice.
 */
function editRefused({ result, plan }) {
  const status = result.http_status;
  return (
    plan.edits &&
    result.status === STATUS.REJECTED &&
    status !== null &&
    (status < 300 || (status >= 400 && status < 500)) && // a 3xx is an answer, but not about the message
    !plan.transport.retryable(status)
  );
}

/**
 * The one edit rule, for `dispatch`/`sendEvent`. `send(refs, only)` plans and delivers (the channels in
 * `only`, or all when null), editing the message refs[channel] names where the channel can; its retries
 * apply to an edit as to a post. An edit the vendor refused (editRefused) is posted anew, once, and that
 * post's outcome is the channel's (its attempts and time counting the edit's too); any other failed edit
 * is the channel's outcome as it is. Resolves to an Outcome per channel in the order of the first send.
 */
async function postOrEdit(send, editRefs) {
  const outcomes = new Map((await send(editRefs, null)).map((sent) => [sent.plan.spec.name, sent]));
  const refused = [...outcomes].filter(([, sent]) => editRefused(sent)).map(([name]) => name);
  if (refused.length) {
    for (const name of refused) {
      const { result, plan } = outcomes.get(name);
      log.info(`${plan.spec.display_name}: the vendor refused the edit (${result.error}); posting a new message`);
    }
    for (const post of await send({}, refused)) {
      // The refused edit went out too: the channel's requests and time are both sends'.
      const edit = outcomes.get(post.plan.spec.name).result;
      const both = {
        ...post.result,
        attempts: post.result.attempts + edit.attempts,
        elapsed_ms: post.result.elapsed_ms + edit.elapsed_ms,
      };
      outcomes.set(post.plan.spec.name, outcome(post.plan, both, post.replies));
    }
  }
  return [...outcomes.values()];
}

/**
 * Sends one event of a run (`kind`: start, update, end, error) like `dispatch`; with the opt-in, an
 * update edits the run's message where the channel can (postOrEdit: a refused edit is posted anew, and
 * that post becomes the run's message).
 */
async function dispatchRun(
  title,
  content,
  source,
  runId,
  kind,
  { channels = null, now = null, refs = EDITS, tags = null, params = null } = {},
) {
  const prepared = await prepareMessage(title, content, source, channels);
  if (prepared.result) return prepared.result;
  const { merge, routePrepared } = require('./routed');
  const routing = routePrepared(prepared, source, { kind, runId, tags, channels, now }); // null: no config file
  if (routing === null) return new SendResult(await sendRun(prepared, source, runId, kind, now, refs, params));
  return merge(routing, prepared.targets.length ? await sendRun(prepared, source, runId, kind, now, refs, params) : []);
}

async function sendRun(prepared, source, runId, kind, now, refs, params = null) {
  if (!isTrue(resolveVar(loadSettings().env[EDIT_VAR], source))) {
    return (await sendPrepared(prepared, { params, now })).map((sent) => sent.result);
  }
  const lanes = new Map(
    prepared.targets
      .filter(([spec]) => spec.edit !== null)
      .map(([spec, env]) => [spec.name, laneKey(spec, env, PROCESS_SALT)]),
  );
  const editRefs = {};
  // Updates edit the run's card, and so do its end and error: the final state replaces the progress.
  if (kind === 'update' || TERMINAL.includes(kind)) {
    for (const [name, lane] of lanes) {
      const ref = refs.get(lane, runId);
      if (ref !== null) editRefs[name] = ref;
    }
  }
  const outcomes = await sendPrepared(prepared, { params, now, editRefs });
  for (const { plan, result, replies } of outcomes) {
    const { name } = plan.spec;
    if (!lanes.has(name) || !result.ok) continue;
    if (TERMINAL.includes(kind)) refs.set(lanes.get(name), runId, null);
    // A post (the run's first, or one after a refused edit) is the message its later updates edit.
    else if (!plan.edits && replies.length) refs.set(lanes.get(name), runId, readRef(plan.spec, replies[0]));
  }
  return outcomes.map((sent) => sent.result);
}

module.exports = {
  EDIT_VAR,
  MAX_REFS,
  EditRefs,
  EDITS,
  PROCESS_SALT,
  laneKey,
  readRef,
  editRefused,
  postOrEdit,
  dispatchRun,
};
