'use strict';
// Apprise transport: one planned request is one Apprise URL (`url`) and its title, body and format (the
// body tree), sent by the `apprise` command (`pip install apprise`) found on PATH; without it, a
// config_error saying how to enable it. The reply is {"ok": true}, or {"ok": false, "error": <the last
// line Apprise printed>} (the spec's success rule reads it); no reply is retryable, since a failure cannot
// tell whether the service has the message. python/mcp_push/transports/apprise.py uses the library.

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const { TransportError } = require('./index');
const { toJson } = require('../wire');
const { secondsText } = require('../wire');

const MISSING =
  "the apprise channel needs the apprise command on PATH: pip install apprise (or send from Python with pip install 'mcp-push[apprise]')";

/** The `apprise` executable on PATH, or null. */
function findApprise(envPath = process.env.PATH || '') {
  const names = process.platform === 'win32' ? ['apprise.exe', 'apprise.cmd', 'apprise'] : ['apprise'];
  for (const folder of envPath.split(path.delimiter).filter(Boolean)) {
    for (const name of names) {
      const file = path.join(folder, name);
      try {
        fs.accessSync(file, fs.constants.X_OK);
        if (fs.statSync(file).isFile()) return file;
      } catch {
        // not here
      }
    }
  }
  return null;
}

function sendApprise(request, timeout) {
  const command = findApprise();
  if (command === null) return Promise.reject(new TransportError('config_error', MISSING));
  const { title, body, format } = request.body;
  // The message goes on stdin, never in argv (other users may read a process's arguments); so does no
  // secret but the URL, which Apprise needs as an argument.
  const args = ['--input-format', format, ...(title ? ['--title', title] : []), request.url];
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new TransportError('timeout', `no reply within ${secondsText(timeout)} s`));
    }, timeout * 2000); // the service's connect and its reply, each within the timeout
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(new TransportError('config_error', `${MISSING} (${error.code || error.message})`));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) return resolve({ status: 200, text: toJson({ ok: true }), headers: {} });
      const said = output.split('\n').filter((line) => line.trim());
      const last = said.length ? said.at(-1).split(' - ').slice(2).join(' - ') || said.at(-1) : 'not delivered';
      resolve({ status: 200, text: toJson({ ok: false, error: last }), headers: {} });
    });
    child.stdin.end(body);
  });
}

module.exports = { sendApprise, findApprise, MISSING };
