'use strict';
// DingTalk robot signing ("加签"): HMAC-SHA256 keyed by the secret over "timestamp\nsecret".

const crypto = require('node:crypto');

function sign(secret, timestampMs) {
  return crypto.createHmac('sha256', secret).update(`${timestampMs}\n${secret}`, 'utf8').digest('base64');
}

function dingtalk_sign({ env, now }) {
  const secret = env.DD_BOT_SECRET || '';
  if (!secret) return { timestamp: '', sign: '' }; // keyword- or IP-secured robots take unsigned requests
  const timestampMs = Math.round(now * 1000);
  return { timestamp: String(timestampMs), sign: sign(secret, timestampMs) };
}

module.exports = { dingtalk_sign, sign };
