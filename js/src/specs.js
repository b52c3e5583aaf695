'use strict';
// Loads and validates the channel specs once per process.

const { readSpecSource } = require('./specSource');

class SpecError extends Error {}

const isMappingValue = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

// The spec format this runtime reads (spec/settings.yaml `spec_format`; spec/README.md, Spec format).
const SPEC_FORMAT = 2;

let cache = null;

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
  const own = (obj, key, value) => Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  const merged = {};
  for (const [key, value] of Object.entries(base)) own(merged, key, value);
  for (const [key, value] of Object.entries(override)) {
    if (value === null) delete merged[key];
    else own(merged, key, Object.hasOwn(merged, key) ? mergeOverride(merged[key], value) : value);
  }
  return merged;
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
  if (unknown.length) throw new SpecError(`${source}: active_when/require_one_of name undeclared env vars: ${unknown.join(', ')}`);
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
    secretEnv: Object.keys(env).filter((n) => env[n].secret),
  };
}

function load() {
  if (cache) return cache;
  const source = readSpecSource();
  // A spec folder of another format is refused before its channels meet this format's schema.
  const format = source.settings.spec_format ?? 1;
  if (format !== SPEC_FORMAT) throw new SpecError(`spec/settings.yaml: spec_format is ${format}; this runtime reads spec format ${SPEC_FORMAT} (spec/README.md, Spec format)`);
  let validate = null;
  if (!source.validated) {
    // Bundles are validated at build time; a checkout is validated here, once.
    const Ajv2020 = require('ajv/dist/2020');
    validate = new Ajv2020({ allErrors: false, strict: false }).compile(source.schema);
  }
  const channels = {};
  for (const [file, data] of Object.entries(source.channels)) {
    const spec = validateSpec(data, `spec/channels/${file}`, validate);
    channels[spec.name] = spec;
  }
  const settings = { ...source.settings, env: {} };
  for (const [name, props] of Object.entries(source.settings.env || {})) settings.env[name] = envVar(name, props);
  cache = { channels, settings };
  return cache;
}

const loadChannels = () => load().channels;
const loadSettings = () => load().settings;

function knownEnvNames() {
  const names = new Set(Object.keys(loadSettings().env));
  for (const spec of Object.values(loadChannels())) for (const name of Object.keys(spec.env)) names.add(name);
  return names;
}

module.exports = { SpecError, loadChannels, loadSettings, knownEnvNames, validateSpec, mergeOverride, SPEC_FORMAT };
