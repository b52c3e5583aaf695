'use strict';
// A message's priority (low, normal, high; docs/ROUTING.md) as each channel spec maps it to its vendor's
// knob, as data (spec/README.md, "Priority"): per level, settings it overrides (`env`) and fields it adds
// to the request's JSON body (`body`). python/mcp_push/priority.py is the same.

const LEVELS = ['low', 'normal', 'high'];

/** What `priority` changes for this channel: {env?, body?}, empty when nothing. */
function priorityLevel(spec, priority) {
  if (!priority) return {};
  return (spec.priority || {})[priority] || {};
}

/** [env, request template] under `priority`: the level's settings over the channel's, its body fields added. */
function withPriority(spec, env, request, priority) {
  const level = priorityLevel(spec, priority);
  if (!Object.keys(level).length) return [env, request];
  env = { ...env, ...(level.env || {}) };
  const body = request.body;
  if ('body' in level && body !== null && typeof body === 'object' && !Array.isArray(body))
    request = { ...request, body: { ...body, ...level.body } };
  return [env, request];
}

module.exports = { LEVELS, priorityLevel, withPriority };
