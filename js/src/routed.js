'use strict';
// Routing applied to a prepared message (docs/ROUTING.md): which of its instances it goes to now, at
// which priority, and a result for each of the others, from routing.decide. Without a config file nothing
// here runs and nothing changes. python/mcp_push/routed.py is the same: the library sends at once, so a
// held message is not sent and a digest route is refused, each saying so.

const { STATUS, SendResult, channelResult } = require('./result');
const { decide } = require('./routing');

const DIGEST_REFUSED =
  'digest routes need the MCP server (mcp-push serve), which collects messages; this sends at once, so it is not sent';
const HELD_NOT_SENT = 'only the MCP server sends held messages, so it is not sent';

const pad = (n) => String(n).padStart(2, '0');
function whenText(seconds) {
  const d = new Date(seconds * 1000);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} UTC`;
}

/** What routing.decide reads: the instances in the pipeline's order and the config's routes. */
function routingConfig(config, targets) {
  const channels = {};
  for (const [spec] of targets) channels[spec.name] = { tags: [...((config.channels[spec.name] || {}).tags || [])] };
  return { channels, routes: config.routes };
}

function messageOf(kind, runId, title, tags, channels) {
  const message = { kind, title, tags: [...(tags || [])] };
  if (runId) message.run_id = runId;
  if (channels !== null && channels !== undefined) message.channels = [...channels].map((n) => n.toLowerCase());
  return message;
}

/** The sent instances' results and the others', in the instances' order. */
function merge(routing, sent) {
  const byName = new Map([...routing.others, ...sent.map((r) => [r.channel, r])]);
  const results = routing.order.filter((name) => byName.has(name)).map((name) => byName.get(name));
  const going = routing.decisions.some((d) => d.action === 'send');
  const skipped = going ? null : `routing: ${routing.decisions.length ? routing.decisions[0].rule : 'no instance'}`;
  return new SendResult(results, skipped);
}

/**
 * Narrows `prepared` to the instances the message goes to now, with their priorities, and returns
 * {decisions, order, others}; null (and `prepared` as it was) without a config file.
 */
function routePrepared(
  prepared,
  source,
  { kind = 'message', runId = null, tags = null, channels = null, now = null } = {},
) {
  const { loadConfig } = require('./configFile');
  const config = loadConfig(source);
  if (config === null) return null;
  const at = now === null ? Date.now() / 1000 : now;
  const { decisions } = decide(
    routingConfig(config, prepared.targets),
    messageOf(kind, runId, prepared.title, tags, channels),
    null,
    at,
  );
  const routing = { decisions, order: prepared.targets.map(([spec]) => spec.name), others: new Map() };
  const going = {};
  for (const { instance, action, rule, priority, until } of decisions) {
    if (action === 'send') going[instance] = priority;
    else if (action === 'drop') routing.others.set(instance, channelResult(instance, false, STATUS.SKIPPED, rule));
    else if (action === 'defer')
      routing.others.set(
        instance,
        channelResult(instance, false, STATUS.SKIPPED, `${rule}: until ${whenText(until)}; ${HELD_NOT_SENT}`),
      );
    else
      routing.others.set(instance, channelResult(instance, false, STATUS.CONFIG_ERROR, `${rule}: ${DIGEST_REFUSED}`));
  }
  prepared.targets = prepared.targets.filter(([spec]) => Object.hasOwn(going, spec.name));
  prepared.priorities = going;
  return routing;
}

module.exports = { DIGEST_REFUSED, HELD_NOT_SENT, merge, routePrepared, whenText };
