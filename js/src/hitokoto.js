'use strict';
// The optional hitokoto quote QingLong appends to every message. Never blocks or fails a send.

const log = require('./log');
const { loadSettings } = require('./specs');
const { sendHttp } = require('./transports/http');

async function fetchQuote() {
  const settings = loadSettings().hitokoto;
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
