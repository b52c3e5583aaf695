'use strict';
// The optional hitokoto quote QingLong appends to every message. Never blocks or fails a send.

const log = require('./log');
const { loadSettings } = require('./specs');
const { sendHttp } = require('./transports/http');

/** The quote, or null when it is not had within the configured timeout (a hard deadline). */
async function fetchQuote() {
  const settings = loadSettings().hitokoto;
  let timer;
  const deadline = new Promise((resolve) => {
    timer = setTimeout(() => resolve(null), settings.timeout * 1000);
    timer.unref();
  });
  return Promise.race([fetchOnce(settings), deadline]).finally(() => clearTimeout(timer));
}

async function fetchOnce(settings) {
  try {
    const reply = await sendHttp({ method: 'GET', url: settings.url, headers: {}, body: null }, settings.timeout);
    const data = JSON.parse(reply.text);
    return `${data.hitokoto}${settings.separator}${data.from}`;
  } catch (error) {
    log.debug(`hitokoto unavailable: ${error.name}`);
    return null;
  }
}

module.exports = { fetchQuote };
