'use strict';
// Routing decisions (docs/ROUTING.md): which instance gets a message, at which priority, now, later or
// never, and the rule that decided, in words. One pure function, `decide`: the config, the message, the
// state and the clock in; the decisions and the new state out. python/mcp_push/routing.py is the same,
// word for word (its docstring describes the state); conformance/cases/routing/ pins both.

const KINDS = ['message', 'start', 'update', 'end', 'error'];
const DEFAULT_PRIORITY = { message: 'normal', start: 'normal', update: 'low', end: 'normal', error: 'high' };
const OUTCOMES = { error: 'failure', end: 'success' };
const KEEP_OUTCOMES_S = 30 * 86400; // a run's last outcome is forgotten after 30 days
const UNITS = { s: 1, m: 60, h: 3600, d: 86400 };

const an = (kind) => (/^[aeiou]/.test(kind) ? `an ${kind}` : `a ${kind}`);

/** A config duration (30s, 10m, 1h, 1d) in seconds. */
const seconds = (duration) => Number(duration.slice(0, -1)) * UNITS[duration.slice(-1)];

/** `*` any text, `?` one character, everything else itself (case matters). */
function globMatch(pattern, text) {
  const regex = [...pattern]
    .map((c) => (c === '*' ? '[\\s\\S]*' : c === '?' ? '[\\s\\S]' : c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')))
    .join('');
  return new RegExp(`^(?:${regex})$`, 'u').test(text);
}

/** A route's `when` in words: "event error", "event end, run_id nightly-*", "every message". */
function describe(when) {
  when = when || {};
  const parts = [];
  if ('event' in when) parts.push(`event ${when.event.join('|')}`);
  if ('run_id' in when) parts.push(`run_id ${when.run_id}`);
  if ('tags' in when) parts.push(`tags ${when.tags.join('|')}`);
  if ('title' in when) parts.push(`title ${when.title}`);
  return parts.length ? parts.join(', ') : 'every message';
}

/** Every condition of `when` holds. */
function matches(when, message) {
  when = when || {};
  if ('event' in when && !when.event.includes(message.kind)) return false;
  if ('run_id' in when && !globMatch(when.run_id, message.run_id || '')) return false;
  if ('tags' in when && !when.tags.some((tag) => (message.tags || []).includes(tag))) return false;
  return !('title' in when && !globMatch(when.title, message.title || ''));
}

/** The instance names a route's `to` names, in order, each once; `tag:NAME` every instance with the tag. */
function targets(to, channels) {
  const found = [];
  for (const target of to) {
    const names = target.startsWith('tag:')
      ? Object.keys(channels).filter((n) => (channels[n].tags || []).includes(target.slice(4)))
      : [target];
    for (const name of names) if (!found.includes(name)) found.push(name);
  }
  return found;
}

/** [minute of the day, second of the minute] at Unix time `now` in the IANA time zone. */
function localClock(now, zone) {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: zone,
    hourCycle: 'h23',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(new Date(Math.floor(now) * 1000));
  const part = (type) => Number(parts.find((p) => p.type === type).value);
  return [part('hour') * 60 + part('minute'), part('second')];
}

const minutesOf = (clock) => Number(clock.slice(0, 2)) * 60 + Number(clock.slice(3, 5));

/** The end of the quiet hours `now` falls in (Unix seconds), or null outside them. */
function quietUntil(quiet, now) {
  const start = minutesOf(quiet.from);
  const end = minutesOf(quiet.to);
  const [minute, second] = localClock(now, quiet.tz ?? 'UTC');
  const inside = start < end ? start <= minute && minute < end : start > end ? minute >= start || minute < end : false;
  if (!inside) return null;
  return Math.floor(now) - second + ((((end - minute) % 1440) + 1440) % 1440) * 60;
}

const compareTuples = (a, b) => {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  return 0;
};

/** The latest recorded outcome of the run `key`, or (pattern) of any run whose id fits the glob. */
function lastOutcome(state, key, pattern) {
  const outcomes = state.outcomes || {};
  if (!pattern) return Object.hasOwn(outcomes, key) ? outcomes[key].outcome : null;
  const fitting = Object.entries(outcomes)
    .filter(([runId]) => globMatch(key, runId))
    .map(([runId, entry]) => [entry.at, runId, entry.outcome])
    .sort(compareTuples);
  return fitting.length ? fitting[fitting.length - 1][2] : null;
}

/** Why `only:` drops the message, or null when it passes. */
function onlyProblem(route, label, message, state) {
  const { only } = route;
  const { kind } = message;
  if (only === 'failures') return kind === 'error' ? null : `${label}: only failures: ${an(kind)} is no failure`;
  const pattern = (route.when || {}).run_id;
  const key = pattern ?? (message.run_id || '');
  if (!Object.hasOwn(OUTCOMES, kind))
    return `${label}: only ${only}: ${an(kind)} is no ${only === 'recoveries' ? 'recovery' : 'change'}`;
  if (!key) return `${label}: only ${only}: the message has no run_id to follow`;
  const before = lastOutcome(state, key, pattern !== undefined);
  if (only === 'recoveries') {
    if (kind === 'end' && before === 'failure') return null;
    return `${label}: only recoveries: no error of ${key} before this ${kind}`;
  }
  if (before === OUTCOMES[kind])
    return `${label}: only changes: ${key} ${before === 'failure' ? 'failed' : 'succeeded'} before too`;
  return null;
}

/** A defer decision for an update within the throttle interval (the last one held wins), or null to send. */
function throttle(route, label, name, message, state, now) {
  const every = seconds(route.throttle);
  const key = `${name} ${message.run_id || ''}`;
  state.throttle ??= {};
  const entry = Object.hasOwn(state.throttle, key) ? state.throttle[key] : null;
  if (entry !== null && entry.pending !== null && now < entry.pending)
    return {
      action: 'defer',
      until: entry.pending,
      rule: `${label}: throttle ${route.throttle}: replaces the update held until then`,
    };
  if (entry === null || now >= entry.free) {
    state.throttle[key] = { free: now + every, pending: null };
    return null;
  }
  const held = entry.free;
  state.throttle[key] = { free: held + every, pending: held };
  return {
    action: 'defer',
    until: held,
    rule: `${label}: throttle ${route.throttle}: one update per run per ${route.throttle}; held`,
  };
}

function digest(route, index, label, name, state, now) {
  const every = seconds(route.digest.every);
  const limit = route.digest.max;
  const key = `${index + 1} ${name}`;
  let windows = {};
  if (state !== null) windows = state.digest ??= {};
  let entry = Object.hasOwn(windows, key) ? windows[key] : null;
  if (entry === null || now >= entry.until) entry = { until: now + every, count: 0 };
  entry = { until: entry.until, count: entry.count + 1 };
  const decision = {
    action: 'digest',
    until: entry.until,
    digest: key,
    rule: `${label}: digest every ${route.digest.every}`,
  };
  if (limit !== undefined && entry.count >= limit) {
    decision.flush = true;
    decision.rule += `: ${limit} collected, sent now`;
    delete windows[key];
  } else {
    windows[key] = entry;
  }
  return decision;
}

function apply(route, index, name, message, state, now) {
  const label = `route ${index + 1}`;
  let rule = `${label}: ${describe(route.when)} → ${route.to.join(', ')}`;
  const priority = route.priority || DEFAULT_PRIORITY[message.kind];
  const decided = { instance: name, priority };
  if ('only' in route) {
    if (state === null) rule += `; only ${route.only} cannot be told without a state folder, so it is sent`;
    else {
      const why = onlyProblem(route, label, message, state);
      if (why !== null) return { ...decided, action: 'drop', rule: why };
    }
  }
  const quiet = route.quiet_hours;
  if (quiet !== undefined && !(quiet.except || []).includes(message.kind)) {
    const until = quietUntil(quiet, now);
    if (until !== null) {
      const hours = `${label}: quiet hours ${quiet.from}-${quiet.to} ${quiet.tz ?? 'UTC'}`;
      if ((quiet.then ?? 'defer') === 'drop') return { ...decided, action: 'drop', rule: hours };
      return { ...decided, action: 'defer', until, rule: `${hours}: held until they end` };
    }
  }
  if ('digest' in route) return { ...decided, ...digest(route, index, label, name, state, now) };
  if ('throttle' in route && message.kind === 'update') {
    if (state === null) rule += '; throttle cannot be kept without a state folder, so it is sent';
    else {
      const held = throttle(route, label, name, message, state, now);
      if (held !== null) return { ...decided, ...held };
    }
  }
  return { ...decided, action: 'send', rule };
}

/** Forgets what no longer decides anything: old outcomes, throttle slots already free, empty parts. */
function tidy(state, now) {
  const outcomes = state.outcomes || {};
  for (const [runId, entry] of Object.entries(outcomes)) if (entry.at < now - KEEP_OUTCOMES_S) delete outcomes[runId];
  const slots = state.throttle || {};
  for (const [key, e] of Object.entries(slots))
    if ((e.pending === null || now >= e.pending) && now >= e.free) delete slots[key];
  for (const part of ['outcomes', 'throttle', 'digest'])
    if (part in state && !Object.keys(state[part]).length) delete state[part];
}

/**
 * {decisions, state}: one decision per instance of the config, in its order: {instance, action (send,
 * drop, defer, digest), priority (low, normal, high), rule[, until][, digest, flush]}. Python's decide.
 */
function decide(config, message, state, now) {
  const kind = message.kind || 'message';
  if (!KINDS.includes(kind)) throw new RangeError(`kind: must be one of ${KINDS.join(', ')}`);
  message = { ...message, kind };
  const channels = config.channels || {};
  const routes = config.routes || [];
  const names = Object.keys(channels);
  const newState = state === null || state === undefined ? null : structuredClone(state);
  const decided = new Map();
  const base = (name) => ({ instance: name, priority: DEFAULT_PRIORITY[kind] });
  const explicit = message.channels;
  if (explicit !== null && explicit !== undefined) {
    for (const name of names) {
      const chosen = explicit.includes(name);
      decided.set(name, {
        ...base(name),
        action: chosen ? 'send' : 'drop',
        rule: chosen ? 'channels named by the caller' : 'not among the channels named',
      });
    }
  } else if (!routes.length) {
    for (const name of names) decided.set(name, { ...base(name), action: 'send', rule: 'no routes: every instance' });
  } else {
    let matched = false;
    for (const [index, route] of routes.entries()) {
      if (!matches(route.when, message)) continue;
      matched = true;
      for (const name of targets(route.to, channels))
        if (Object.hasOwn(channels, name) && !decided.has(name))
          decided.set(name, apply(route, index, name, message, newState, now));
      if (!route.continue) break;
    }
    const left = matched ? 'no route sends it there' : 'no route matches';
    for (const name of names) if (!decided.has(name)) decided.set(name, { ...base(name), action: 'drop', rule: left });
  }
  if (newState !== null && Object.hasOwn(OUTCOMES, kind) && message.run_id) {
    newState.outcomes ??= {};
    newState.outcomes[message.run_id] = { outcome: OUTCOMES[kind], at: now };
  }
  if (newState !== null) tidy(newState, now);
  return { decisions: names.map((name) => decided.get(name)), state: newState };
}

module.exports = { DEFAULT_PRIORITY, KINDS, decide, describe, globMatch, matches, quietUntil, seconds, targets };
