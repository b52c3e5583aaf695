'use strict';
// Reads the raw spec files from disk. The single-file bundle (build.js) replaces this module with one
// that carries the same data inline, so a bundled sendNotify.js needs no spec folder.

const fs = require('node:fs');
const path = require('node:path');
const yaml = require('js-yaml');

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

let cached = null;

function readSpecSource() {
  if (cached) return cached;
  const dir = specDir();
  const channelsDir = path.join(dir, 'channels');
  const channels = {};
  for (const file of fs.readdirSync(channelsDir).filter((f) => f.endsWith('.yaml')).sort()) {
    channels[file] = yaml.load(fs.readFileSync(path.join(channelsDir, file), 'utf8'));
  }
  const source = {
    schema: JSON.parse(fs.readFileSync(path.join(dir, 'channel.schema.json'), 'utf8')),
    settings: yaml.load(fs.readFileSync(path.join(dir, 'settings.yaml'), 'utf8')),
    channels,
    envelopeSchema: JSON.parse(fs.readFileSync(path.join(dir, 'envelope.schema.json'), 'utf8')),
    eventTemplate: yaml.load(fs.readFileSync(path.join(dir, 'templates', 'event.yaml'), 'utf8')),
    validated: false,
  };
  cached = source;
  return source;
}

module.exports = { readSpecSource, specDir };
