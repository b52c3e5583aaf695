'use strict';
// Drop-in for QingLong's sendNotify.js: `const { sendNotify } = require('./sendNotify')`.
// Same env vars and signature; it also resolves to per-channel results (QingLong's resolves undefined).

const log = require('./src/log');
const { sendNotify, sendEvent, plan } = require('./src/index');

log.setLevel('info'); // scripts see each channel's outcome on stderr, as with QingLong

module.exports = { sendNotify, sendEvent, plan };
