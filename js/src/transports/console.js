'use strict';
// Console transport: writes the message to stderr (stdout belongs to the MCP stdio protocol).

async function sendConsole(planned) {
  process.stderr.write(`${planned.body}\n`);
  return { status: 200, text: '' };
}

module.exports = { sendConsole };
