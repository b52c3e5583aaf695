'use strict';
// Feishu bot signature: unlike DingTalk, "timestamp\nsecret" is the HMAC *key* and the message is empty.

const crypto = require('node:crypto');

const sign = (secret, timestampS) => crypto.createHmac('sha256', `${timestampS}\n${secret}`).update('').digest('base64');

function feishu_sign({ env, now }) {
  const secret = env.FSSECRET || '';
  if (!secret) return { timestamp: '', sign: '' };
  const timestampS = Math.floor(now);
  return { timestamp: String(timestampS), sign: sign(secret, timestampS) };
}

module.exports = { feishu_sign, sign };
