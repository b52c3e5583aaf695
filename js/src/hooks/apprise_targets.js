'use strict';
// Apprise targets from APPRISE_URLS: one or more Apprise URLs, separated by white space or commas.

const { ConfigError } = require('../config');

function apprise_targets({ env }) {
  const urls = (env.APPRISE_URLS || '').split(/[ \t\n\r\f\v,]+/).filter(Boolean);
  if (!urls.length)
    throw new ConfigError('APPRISE_URLS names no URL: give one or more Apprise URLs (json://host/path, tgram://…)');
  return { targets: urls.map((url) => ({ url })) };
}

module.exports = { apprise_targets };
