'use strict';
// Reads the raw spec files from disk. The single-file bundle (build.js) replaces this module with one
// that carries the same data inline, so a bundled sendNotify.js needs no spec folder.

const fs = require('node:fs');
const path = require('node:path');
const yaml = require('js-yaml');

function specDir() {
  if (process.env.MCP_PUSH_SPEC_DIR) return process.env.MCP_PUSH_SPEC_DIR;
  for (const candidate of [path.join(__dirname, '..', 'spec'), path.join(__dirname, '..', '..', 'spec')]) {
    if (fs.existsSync(path.join(candidate, 'channel.schema.json'))) return candidate;
  }
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
