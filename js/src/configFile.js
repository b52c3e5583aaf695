'use strict';
// The routing config file, mcp-push.yaml (docs/ROUTING.md): where it is, reading it as YAML 1.2 with the
// line of every value, checking it against spec/config.schema.json and the channel specs, and the named
// channel instances it declares. python/mcp_push/configfile.py is the same, word for word.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { ConfigError, asText, setting } = require('./config');
const { channelIds, loadChannel } = require('./specs');
const { specDir } = require('./specSource');

const FILE_NAME = 'mcp-push.yaml';
const CONFIG_VAR = 'MCP_PUSH_CONFIG';
const REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;
const NAME = /^[a-z][a-z0-9_-]*$/;
const TYPE_WORDS = {
  string: 'text',
  object: 'a mapping',
  array: 'a list',
  boolean: 'true or false',
  integer: 'a whole number',
  number: 'a number',
};

/** A config file that cannot be used: every problem, one a line, `<file>:<line>: <field>: <rule>`. */
class ConfigFileError extends ConfigError {
  constructor(problems) {
    super(problems.join('\n'));
    this.problems = problems;
  }
}

/** The user's config folder for mcp-push (XDG on Linux and BSDs, %APPDATA% on Windows). */
function userConfigDir() {
  const home = os.homedir();
  if (process.platform === 'win32')
    return path.join(process.env.APPDATA || path.join(home, 'AppData', 'Roaming'), 'mcp-push');
  return path.join(process.env.XDG_CONFIG_HOME || path.join(home, '.config'), 'mcp-push');
}

// No exception for a missing file (the usual case, looked for at every send and plan): building one
// cost more than the stat.
const isFile = (file) => {
  try {
    const stat = fs.statSync(file, { throwIfNoEntry: false });
    return stat !== undefined && stat.isFile();
  } catch {
    return false;
  }
};

/**
 * MCP_PUSH_CONFIG (which must name a file), else ./mcp-push.yaml, else the user config folder's; null
 * when there is none (then nothing about routing applies).
 */
function configPath(source) {
  const named = setting(CONFIG_VAR, source);
  if (named) {
    const file = named.startsWith('~/') ? path.join(os.homedir(), named.slice(2)) : named;
    if (!isFile(file)) throw new ConfigFileError([`${CONFIG_VAR}: no file at ${named}`]);
    return file;
  }
  for (const file of [path.join(process.cwd(), FILE_NAME), path.join(userConfigDir(), FILE_NAME)])
    if (isFile(file)) return file;
  return null;
}

const cache = new Map();

/** The config file in use, checked (ConfigFileError when it cannot be used), or null without one. */
function loadConfig(source) {
  const file = configPath(source);
  if (file === null) return null;
  const stat = fs.statSync(file);
  const stamp = `${stat.mtimeMs}:${stat.size}`;
  const key = path.resolve(file);
  const cached = cache.get(key);
  if (cached && cached[0] === stamp) return cached[1];
  const config = parseConfig(fs.readFileSync(file, 'utf8'), file);
  cache.set(key, [stamp, config]);
  return config;
}

// --- YAML 1.2 core, with lines ---------------------------------------------------------------------

const join = (where, step) => (where ? `${where}.${step}` : step);

/**
 * The document as YAML 1.2 core data and the line of each value ("routes.0.to") and key
 * ("routes.0.to#key"); ConfigFileError for text that is no YAML or a key given twice.
 */
function readYaml(text, label) {
  const YAML = require('yaml');
  const counter = new YAML.LineCounter();
  const doc = YAML.parseDocument(text, { lineCounter: counter, uniqueKeys: false, prettyErrors: false });
  if (doc.errors.length) {
    const first = doc.errors[0];
    const line = counter.linePos(first.pos[0]).line;
    throw new ConfigFileError([`${label}:${line}: not valid YAML: ${first.message.split('\n')[0]}`]);
  }
  const lines = {};
  const problems = [];
  const lineOf = (node, fallback) => (node && node.range ? counter.linePos(node.range[0]).line : fallback);
  const toData = (node, where, fallback) => {
    const line = lineOf(node, fallback);
    if (!(where in lines)) lines[where] = line;
    if (node === null || node === undefined) return null;
    if (YAML.isSeq(node)) return node.items.map((child, i) => toData(child, join(where, String(i)), line));
    if (YAML.isMap(node)) {
      const out = {};
      for (const pair of node.items) {
        const key = YAML.isScalar(pair.key) ? asText(pair.key.value) : String(pair.key);
        const at = join(where, key);
        const keyLine = lineOf(pair.key, line);
        if (Object.hasOwn(out, key)) {
          problems.push(`${label}:${keyLine}: ${at}: is given twice`);
          continue;
        }
        lines[`${at}#key`] = keyLine;
        Object.defineProperty(out, key, {
          value: toData(pair.value, at, keyLine),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      return out;
    }
    if (YAML.isAlias(node)) return toData(node.resolve(doc), where, line);
    return node.value;
  };
  if (doc.contents === null) return [{}, {}];
  const data = toData(doc.contents, '', 1);
  if (problems.length) throw new ConfigFileError(problems);
  return [data, lines];
}

// --- checking --------------------------------------------------------------------------------------

let schema = null;
let validator = null;

function configSchema() {
  schema ??= JSON.parse(fs.readFileSync(path.join(specDir(), 'config.schema.json'), 'utf8'));
  return schema;
}

function lineAt(lines, where, key = false) {
  if (key && `${where}#key` in lines) return lines[`${where}#key`];
  while (!(where in lines) && where.includes('.')) where = where.slice(0, where.lastIndexOf('.'));
  return lines[where] ?? 1;
}

const unpointer = (pointer) =>
  pointer
    .split('/')
    .slice(1)
    .map((step) => step.replace(/~1/g, '/').replace(/~0/g, '~'))
    .join('.');

function rule(error) {
  const { keyword, params } = error;
  if (keyword === 'type')
    return `must be ${params.type
      .split(',')
      .map((name) => TYPE_WORDS[name])
      .join(' or ')}`;
  if (keyword === 'enum') return `must be one of ${params.allowedValues.map(String).join(', ')}`;
  if (keyword === 'pattern') return String(error.parentSchema.description || `must match ${params.pattern}`);
  if (keyword === 'minItems') return `must list at least ${params.limit}`;
  if (keyword === 'minimum') return `must be at least ${params.limit}`;
  return `breaks the schema's ${keyword}`;
}

const byLine = (a, b) => a[0] - b[0] || (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : a[2] < b[2] ? -1 : a[2] > b[2] ? 1 : 0);

function uniqueSorted(found) {
  const seen = new Map(found.map((item) => [JSON.stringify(item), item]));
  return [...seen.values()].sort(byLine);
}

/** [line, field, rule] for each way the data breaks spec/config.schema.json. */
function schemaProblems(data, lines) {
  if (!validator) {
    const Ajv2020 = require('ajv/dist/2020');
    validator = new Ajv2020({ allErrors: true, verbose: true, strict: false }).compile(configSchema());
  }
  if (validator(data)) return [];
  const found = [];
  for (const error of validator.errors) {
    const where = unpointer(error.instancePath);
    if (error.keyword === 'required') {
      const name = error.params.missingProperty;
      found.push([lineAt(lines, where), join(where, name), 'is required']);
    } else if (error.keyword === 'additionalProperties') {
      const at = join(where, error.params.additionalProperty);
      found.push([lineAt(lines, at, true), at, 'is not a known field']);
    } else {
      found.push([lineAt(lines, where), where || '(top)', rule(error)]);
    }
  }
  return uniqueSorted(found);
}

function validTimeZone(name) {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

/** What the schema cannot say: names, channel types and their variables, route targets, time zones. */
function meaningProblems(data, lines) {
  const found = [];
  const known = new Set(channelIds());
  const channels = data.channels || {};
  const tags = new Set(Object.values(channels).flatMap((instance) => instance.tags || []));
  for (const [name, instance] of Object.entries(channels)) {
    const where = `channels.${name}`;
    if (!NAME.test(name)) found.push([lineAt(lines, where, true), where, configSchema().$defs.name.description]);
    const kind = instance.type;
    if (!known.has(kind)) {
      found.push([lineAt(lines, `${where}.type`), `${where}.type`, `unknown channel '${kind}'`]);
      continue;
    }
    const spec = loadChannel(kind);
    for (const variable of Object.keys(instance.env || {}))
      if (!Object.hasOwn(spec.env, variable))
        found.push([
          lineAt(lines, `${where}.env.${variable}`, true),
          `${where}.env.${variable}`,
          `${kind} reads no ${variable}`,
        ]);
  }
  (data.routes || []).forEach((route, index) => {
    route.to.forEach((target, position) => {
      const where = `routes.${index}.to.${position}`;
      if (target.startsWith('tag:')) {
        if (!tags.has(target.slice(4)))
          found.push([lineAt(lines, where), where, `no instance has tag '${target.slice(4)}'`]);
      } else if (!Object.hasOwn(channels, target) && !known.has(target)) {
        found.push([lineAt(lines, where), where, `no instance '${target}'`]);
      }
    });
    const zone = (route.quiet_hours || {}).tz;
    if (zone !== undefined && !validTimeZone(zone)) {
      const where = `routes.${index}.quiet_hours.tz`;
      found.push([lineAt(lines, where), where, `unknown time zone '${zone}'`]);
    }
  });
  return uniqueSorted(found);
}

/**
 * A config file's text, checked: {path, data, lines, channels, routes}, or ConfigFileError listing every
 * problem found (`mcp-push.yaml:7: routes.1.throttle: must be a duration ...`).
 */
function parseConfig(text, label = FILE_NAME) {
  let [data, lines] = readYaml(text, label);
  if (data === null) data = {};
  let problems = schemaProblems(data, lines);
  if (!problems.length) problems = meaningProblems(data, lines);
  if (problems.length)
    throw new ConfigFileError(problems.map(([line, where, why]) => `${label}:${line}: ${where}: ${why}`));
  return { path: label, data, lines, channels: data.channels || {}, routes: data.routes || [] };
}

// --- instances -------------------------------------------------------------------------------------

/** A config value as text, each `${NAME}` replaced by that environment variable ("" when unset). */
const expand = (value, source) => asText(value).replace(REFERENCE, (_, name) => asText(source[name]));

/** The environment variables a config value reads. */
const references = (value) => [...asText(value).matchAll(REFERENCE)].map((m) => m[1]);

/** Warnings for secret variables written into the file rather than read from the environment. */
function inlineSecrets(config) {
  const warnings = [];
  for (const [name, instance] of Object.entries(config.channels)) {
    const spec = loadChannel(instance.type);
    for (const [variable, value] of Object.entries(instance.env || {})) {
      if (spec.env[variable].secret && asText(value) && !references(value).length) {
        const where = `channels.${name}.env.${variable}`;
        warnings.push(
          `${config.path}:${lineAt(config.lines, where)}: ${where}: a secret written into the file; ` +
            `better "\${${variable}}" and the value in the environment`,
        );
      }
    }
  }
  return warnings;
}

module.exports = {
  CONFIG_VAR,
  FILE_NAME,
  ConfigFileError,
  configPath,
  expand,
  inlineSecrets,
  loadConfig,
  parseConfig,
  readYaml,
  references,
  userConfigDir,
  validTimeZone,
};
