'use strict';
// Loads and validates the channel specs once per process; python/mcp_push/specs.py does the same.

const { readSpecSource } = require('./specSource');

class SpecError extends Error {}

const isMappingValue = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

// The spec format this runtime reads (spec/settings.yaml `spec_format`; spec/README.md, Spec format).
const SPEC_FORMAT = 2;

function envVar(name, props) {
  return { name, required: false, secret: false, secret_parts: [], default: '', type: 'string', ...props };
}

/**
 * `override` deep-merged onto `base`: mappings merge key by key, a null removes the key, anything else
 * (scalars, lists, a mapping over a non-mapping) replaces. Neither argument is changed.
 */
function mergeOverride(base, override) {
  if (!isMappingValue(base) || !isMappingValue(override)) return override;
  // defineProperty, not `merged[key] =`: a "__proto__" data key stays an own key, as in a Python dict.
  const own = (obj, key, value) =>
    Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  const merged = {};
  for (const [key, value] of Object.entries(base)) own(merged, key, value);
  for (const [key, value] of Object.entries(override)) {
    if (value === null) delete merged[key];
    else own(merged, key, Object.hasOwn(merged, key) ? mergeOverride(merged[key], value) : value);
  }
  return merged;
}

/**
 * The `event` block with its `request` whole (its override merged onto the channel's request) and, for a
 * channel that edits, `edit_request`: the edit's override merged onto the card's request.
 */
function eventBlock(event, request, edit) {
  if (!event) return null;
  const cardRequest = mergeOverride(request, event.request);
  return { ...event, request: cardRequest, edit_request: edit ? mergeOverride(cardRequest, edit.request) : null };
}

function validateSpec(data, source, validate) {
  if (validate && !validate(data)) {
    const first = validate.errors[0];
    const where = first.instancePath.replace(/^\//, '') || '(top level)';
    throw new SpecError(`${source}: ${where}: ${first.message}`);
  }
  const env = {};
  for (const [name, props] of Object.entries(data.env)) env[name] = envVar(name, props);
  const referenced = [...data.active_when, ...(data.require_one_of || []).flat()];
  const unknown = [...new Set(referenced.filter((n) => !(n in env)))].sort();
  if (unknown.length)
    throw new SpecError(`${source}: active_when/require_one_of name undeclared env vars: ${unknown.join(', ')}`);
  if (source.replace(/^.*\//, '').replace(/\.yaml$/, '') !== data.name) {
    throw new SpecError(`${source}: name '${data.name}' must match the file name`);
  }
  // `hook: name`, or `hook: {use: name, ...params}` when the hook takes parameters (spec/README.md, Hooks).
  const { use: hook = null, ...hookParams } = typeof data.hook === 'string' ? { use: data.hook } : data.hook || {};
  return {
    name: data.name,
    display_name: data.display_name,
    docs: data.docs,
    env,
    active_when: data.active_when,
    require_one_of: data.require_one_of || [],
    request: data.request,
    success: data.success,
    limits: data.limits,
    hook,
    hook_params: hookParams,
    transport: data.transport || 'http',
    token: data.token || null,
    error_paths: data.error_paths || [],
    data: data.data || {},
    retry: data.retry || null,
    // The edit request whole: the spec's override merged onto the channel's request.
    edit: data.edit ? { ...data.edit, request: mergeOverride(data.request, data.edit.request) } : null,
    event: eventBlock(data.event, data.request, data.edit),
    // The dialect a message sent with format=markdown is written in (markdown.js).
    markdown: data.markdown || 'text',
    secretEnv: Object.keys(env).filter((n) => env[n].secret),
    priority: data.priority || null, // what a message's priority changes (priority.js)
  };
}

// The documents read (specSource.js), the channels built so far, each channel's active_when variables.
let cache = null;

/**
 * Reads the sources once. Specs parsed from a current spec/validated.json were validated when it was
 * written (tools/gen_docs.py), and each channel is built when first asked for; specs read from YAML are
 * all validated here, at once (ajv is loaded for that only), so a broken spec shows whichever it is.
 */
function sources() {
  if (cache) return cache;
  const source = readSpecSource();
  // A spec folder of another format is refused before its channels meet this format's schema.
  const format = source.settings.spec_format ?? 1;
  if (format !== SPEC_FORMAT)
    throw new SpecError(
      `spec/settings.yaml: spec_format is ${format}; this runtime reads spec format ${SPEC_FORMAT} (spec/README.md, Spec format)`,
    );
  const raw = {};
  for (const [file, data] of Object.entries(source.channels)) raw[file.replace(/\.yaml$/, '')] = [file, data];
  cache = { source, raw, built: {}, active: {}, settings: null };
  if (!source.validated) {
    const Ajv2020 = require('ajv/dist/2020');
    const validate = new Ajv2020({ allErrors: false, strict: false }).compile(source.schema);
    for (const [name, [file, data]] of Object.entries(raw))
      cache.built[name] = validateSpec(data, `spec/channels/${file}`, validate);
  }
  return cache;
}

/** Every channel id, in file-name order (the order results come in). */
const channelIds = () => Object.keys(sources().raw);

/** One channel's spec, built the first time it is asked for; undefined for an unknown id. */
function loadChannel(name) {
  const { raw, built } = sources();
  if (!built[name] && Object.hasOwn(raw, name))
    built[name] = validateSpec(raw[name][1], `spec/channels/${raw[name][0]}`, null);
  return built[name];
}

/** The variables that turn a channel on (its active_when), without building the whole channel. */
function activeVars(name) {
  const { raw, active } = sources();
  if (!active[name]) {
    const data = raw[name][1];
    active[name] = data.active_when.map((n) => envVar(n, data.env[n]));
  }
  return active[name];
}

/** Every channel, built: callers that need only the configured ones use channelIds, activeVars and loadChannel. */
function loadChannels() {
  const channels = {};
  for (const name of channelIds()) channels[name] = loadChannel(name);
  return channels;
}

function loadSettings() {
  const state = sources();
  if (!state.settings) {
    const settings = { ...state.source.settings, env: {} };
    for (const [name, props] of Object.entries(state.source.settings.env || {}))
      settings.env[name] = envVar(name, props);
    state.settings = settings;
  }
  return state.settings;
}

function knownEnvNames() {
  const names = new Set(Object.keys(loadSettings().env));
  for (const [, data] of Object.values(sources().raw)) for (const name of Object.keys(data.env)) names.add(name);
  return names;
}

module.exports = {
  SpecError,
  channelIds,
  loadChannel,
  activeVars,
  loadChannels,
  loadSettings,
  knownEnvNames,
  validateSpec,
  mergeOverride,
  SPEC_FORMAT,
};
