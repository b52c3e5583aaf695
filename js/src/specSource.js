'use strict';
// Reads the spec files from disk. The single-file bundle (build.js) replaces this module with one that
// carries the same data inline, so a bundled sendNotify.js needs no spec folder.
// spec/validated.json (tools/gen_docs.py writes it, after validating every spec) holds the specs parsed:
// when it was written from exactly the files in the folder (the same digest as python/mcp_push/specs.py
// computes), it is read instead of the YAML, and js-yaml is never loaded; else the YAML files are.

const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const PACKAGE = path.join(__dirname, '..');
const isSpecDir = (dir) => fs.existsSync(path.join(dir, 'channel.schema.json'));

/**
 * The spec folder: MCP_PUSH_SPEC_DIR; in a checkout (this package is the repo's js/), the repo's spec/,
 * the one source of truth while developing; else the package's own spec/, the copy `npm pack` puts
 * into the tarball (tools/pack-spec.js), which is what an installed mcp-push reads.
 */
function specDir() {
  if (process.env.MCP_PUSH_SPEC_DIR) return process.env.MCP_PUSH_SPEC_DIR;
  const repoSpec = path.join(PACKAGE, '..', 'spec');
  if (path.basename(PACKAGE) === 'js' && isSpecDir(repoSpec)) return repoSpec;
  const ownSpec = path.join(PACKAGE, 'spec');
  if (isSpecDir(ownSpec)) return ownSpec;
  throw new Error('spec folder not found: set MCP_PUSH_SPEC_DIR or reinstall mcp-push');
}

const yamlFiles = (dir, sub) => {
  const folder = path.join(dir, sub);
  return fs.existsSync(folder)
    ? fs
        .readdirSync(folder)
        .filter((f) => f.endsWith('.yaml'))
        .sort()
        .map((f) => `${sub}/${f}`)
    : [];
};

/** The files the specs are made of, relative to dir: python/mcp_push/specs.py's source_files. */
function sourceFiles(dir) {
  const fixed = ['channel.schema.json', 'settings.yaml'].filter((f) => fs.existsSync(path.join(dir, f)));
  return [...fixed, ...yamlFiles(dir, 'channels'), ...yamlFiles(dir, 'templates')];
}

/** SHA-256 over each source file's path and bytes: python/mcp_push/specs.py's specs_digest. */
function specsDigest(dir) {
  const hash = crypto.createHash('sha256');
  for (const file of sourceFiles(dir)) {
    hash.update(`${file}\0`, 'utf8');
    hash.update(fs.readFileSync(path.join(dir, file)));
    hash.update('\0', 'utf8');
  }
  return hash.digest('hex');
}

/** spec/validated.json when it was written from exactly these files, else null. */
function readParsed(dir) {
  const file = path.join(dir, 'validated.json');
  if (!fs.existsSync(file)) return null;
  let parsed;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return null; // cut short, or a merge conflict's markers: the YAML is the truth
  }
  return parsed && parsed.digest === specsDigest(dir) ? parsed : null;
}

function readYaml(dir) {
  const yaml = require('js-yaml'); // only for specs edited since tools/gen_docs.py last ran
  const load = (file) => yaml.load(fs.readFileSync(path.join(dir, file), 'utf8'));
  const channels = {};
  for (const file of yamlFiles(dir, 'channels')) channels[file.slice('channels/'.length)] = load(file);
  return { settings: load('settings.yaml'), channels, eventTemplate: load('templates/event.yaml') };
}

let cached = null;

function readSpecSource() {
  if (cached) return cached;
  const dir = specDir();
  const json = (file) => JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
  const parsed = readParsed(dir);
  const source = parsed
    ? {
        settings: parsed.settings,
        channels: Object.fromEntries(Object.entries(parsed.channels).map(([name, data]) => [`${name}.yaml`, data])),
        eventTemplate: parsed.templates.event,
      }
    : readYaml(dir);
  // Validated already when the parsed file is current (specs.js checks a stale one against the schema).
  source.validated = Boolean(parsed);
  // Read when first asked for: the channel schema validates stale specs, the envelope schema events.
  let schema;
  let envelopeSchema;
  Object.defineProperty(source, 'schema', { enumerable: true, get: () => (schema ??= json('channel.schema.json')) });
  Object.defineProperty(source, 'envelopeSchema', {
    enumerable: true,
    get: () => (envelopeSchema ??= json('envelope.schema.json')),
  });
  cached = source;
  return source;
}

module.exports = { readSpecSource, specDir, specsDigest };
