'use strict';
// Logging for mcp-push: stderr only (stdout belongs to the MCP stdio protocol), every line redacted.

const { processRedactor } = require('./redact');

const LEVELS = { debug: 10, info: 20, warning: 30, error: 40 };
let threshold = LEVELS.warning; // a library stays quiet; the sendNotify drop-in shows outcomes (info)

function setLevel(level) {
  threshold = LEVELS[level] ?? threshold;
}

function write(level, message) {
  if (LEVELS[level] < threshold) return;
  const time = new Date().toISOString().slice(11, 19);
  process.stderr.write(`${time} mcp-push ${level.toUpperCase()} ${processRedactor().text(message)}\n`);
}

module.exports = {
  setLevel,
  debug: (m) => write('debug', m),
  info: (m) => write('info', m),
  warning: (m) => write('warning', m),
};
