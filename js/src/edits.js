'use strict';
// Edit in place for `sendEvent` (MCP_PUSH_EDIT_PROGRESS=true): the message each run's first post
// created is remembered in this process's memory, and the run's later updates edit it (spec/README.md,
// "Rate limits, coalescing and the outbox"). python/mcp_push/edits.py is the same.

const crypto = require('node:crypto');
const log = require('./log');
const { deliverPrepared, prepareMessage } = require('./api');
const { isTrue, resolveVar } = require('./config');
const { STATUS, SendResult } = require('./result');
const { loadSettings } = require('./specs');
const { parseJson } = require('./success');
const { lookup } = require('./templates');

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
  return `${spec.name}:${crypto.createHmac('sha256', salt).update(secrets, 'utf8').digest('hex').slice(0, 16)}`;
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
    const ref = lookup(parseJson(replyText), spec.edit.ref);
    return ref === undefined ? null : ref;
  } catch {
    return null;
  }
}

/**
 * Sends one event of a run (`kind`: start, update, end, error) like `dispatch`; with the opt-in, an
 * update edits the run's message where the channel can, and a refused edit is posted anew.
 */
async function dispatchRun(title, content, source, runId, kind, { channels = null, now = null, refs = EDITS } = {}) {
  const prepared = await prepareMessage(title, content, source, channels);
  if (prepared.result) return prepared.result;
  if (!isTrue(resolveVar(loadSettings().env[EDIT_VAR], source))) {
    return new SendResult((await deliverPrepared(prepared, { now })).map(([result]) => result));
  }
  const lanes = new Map(prepared.targets.filter(([spec]) => spec.edit !== null).map(([spec, env]) => [spec.name, laneKey(spec, env, PROCESS_SALT)]));
  const editRefs = {};
  if (kind === 'update') {
    for (const [name, lane] of lanes) {
      const ref = refs.get(lane, runId);
      if (ref !== null) editRefs[name] = ref;
    }
  }
  const outcomes = new Map((await deliverPrepared(prepared, { now, editRefs })).map((outcome) => [outcome[1].spec.name, outcome]));
  const refused = Object.keys(editRefs).filter((name) => outcomes.get(name)[0].status === STATUS.REJECTED);
  if (refused.length) {
    // The message to edit is gone or too old: post anew, and that becomes the run's message.
    for (const name of refused) {
      const [result, plan] = outcomes.get(name);
      log.info(`${plan.spec.display_name}: editing the run's message failed (${result.error}); posting a new one`);
    }
    for (const outcome of await deliverPrepared(prepared, { now, only: refused })) outcomes.set(outcome[1].spec.name, outcome);
  }
  for (const [name, [result, plan]] of outcomes) {
    if (!lanes.has(name) || !result.ok) continue;
    if (TERMINAL.includes(kind)) refs.set(lanes.get(name), runId, null);
    else if (plan.requestTemplate === null && plan.replyTexts.length) refs.set(lanes.get(name), runId, readRef(plan.spec, plan.replyTexts[0]));
  }
  return new SendResult([...outcomes.values()].map(([result]) => result));
}

module.exports = { EDIT_VAR, MAX_REFS, EditRefs, EDITS, PROCESS_SALT, laneKey, readRef, dispatchRun };
