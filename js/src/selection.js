'use strict';
// Which channels a call goes to: every configured one, or those a `channels` argument names (channel
// ids, any case; a string lists several, comma-separated), and the errors for names that are no
// configured channel (spec/README.md, "Choosing channels"). python/mcp_push/selection.py, word for word.

const { asText, channelEnv, isConfigured, isSet, resolveVar, stripSpace } = require('./config');
const { activeVars, channelIds, loadChannel } = require('./specs');

/**
 * [spec, resolved env] for every channel whose env says it is in use, in spec order; with `only`, just
 * those of these ids (any case). Only the channels whose active_when variables are set are built.
 */
function configuredChannels(source, only = null) {
  const wanted = only ? new Set([...only].map((name) => name.toLowerCase())) : null;
  const instances = configInstances(source);
  if (instances !== null) return instances.filter(([spec]) => wanted === null || wanted.has(spec.name));
  return envChannels(source, wanted);
}

/**
 * With a config file (configFile.js): its named instances, in file order, each a copy of its channel's
 * spec under the instance's name with the instance's own settings (`${NAME}` read from the source), then
 * the env-configured channels not shadowed by an instance's name. null without one.
 */
function configInstances(source) {
  const { expand, loadConfig } = require('./configFile');
  const config = loadConfig(source);
  if (config === null) return null;
  const found = [];
  for (const [name, instance] of Object.entries(config.channels)) {
    const base = loadChannel(instance.type);
    const given = {};
    for (const [variable, value] of Object.entries(instance.env || {})) given[variable] = expand(value, source);
    found.push([{ ...base, name, instance_of: base.name }, channelEnv(base, given)]);
  }
  return [...found, ...envChannels(source, null).filter(([spec]) => !Object.hasOwn(config.channels, spec.name))];
}

function envChannels(source, wanted) {
  const found = [];
  for (const name of channelIds()) {
    if (wanted && !wanted.has(name)) continue;
    if (!activeVars(name).some((v) => isSet(v, resolveVar(v, source)))) continue;
    const spec = loadChannel(name);
    const env = channelEnv(spec, source);
    if (isConfigured(spec, env)) found.push([spec, env]);
  }
  return found;
}

/**
 * The channel names a caller gave, each once, in order: a string is split on commas (the CLI's
 * `--channel a,b`), blanks are dropped. null means every configured channel. Python's channel_names.
 */
function channelNames(channels) {
  if (channels === null || channels === undefined) return null;
  const items = typeof channels === 'string' ? [channels] : [...channels].map(asText);
  return [...new Set(items.flatMap((item) => item.split(',').map(stripSpace)).filter(Boolean))];
}

const NO_CHANNEL_NAMED = 'channels names no channel; leave it out to send to every configured channel';

/**
 * [[name, what is wrong]] for each name that is no configured channel (matched ignoring case), and the
 * list of the configured ones ("configured: dingtalk, ntfy", or "configured: none").
 */
function unconfigured(source, names) {
  const configured = configuredChannels(source).map(([spec]) => spec.name);
  const known = new Set(channelIds());
  const wrong = names
    .filter((name) => !configured.includes(name.toLowerCase()))
    .map((name) => [
      name,
      known.has(name.toLowerCase()) ? `channel '${name}' is not configured` : `unknown channel '${name}'`,
    ]);
  return [wrong, `configured: ${configured.length ? configured.join(', ') : 'none'}`];
}

/**
 * [name, error] for each name that is no configured channel, the error listing the configured ones:
 * "unknown channel 'nope'; configured: dingtalk, ntfy".
 */
function channelProblems(source, names) {
  const [wrong, listed] = unconfigured(source, names);
  return wrong.map(([name, what]) => [name, `${what}; ${listed}`]);
}

/** One line saying what is wrong with a `channels` argument, or null when it is fine (or absent). */
function channelsError(source, channels) {
  const names = channelNames(channels);
  if (names === null) return null;
  if (!names.length) return NO_CHANNEL_NAMED;
  const [wrong, listed] = unconfigured(source, names);
  return wrong.length ? `${wrong.map(([, what]) => what).join('; ')}; ${listed}` : null;
}

module.exports = { NO_CHANNEL_NAMED, configuredChannels, channelNames, channelProblems, channelsError };
