'use strict';
// Feishu bot signature: unlike DingTalk, "timestamp\nsecret" is the HMAC *key* and the message is empty.
// Lark (international Feishu) signs the same way with its own secret:
// `hook: {use: feishu_sign, secret_var: LARK_SECRET}`.

const crypto = require('node:crypto');

const sign = (secret, timestampS) =>
  crypto.createHmac('sha256', `${timestampS}\n${secret}`).update('').digest('base64');

function feishu_sign({ env, now }, { secret_var }) {
  const secret = env[secret_var] || '';
  if (!secret) return { timestamp: '', sign: '' };
  const timestampS = Math.floor(now);
  const signature = sign(secret, timestampS);
  // The sign depends only on the time and the secret: whoever holds it can post for an hour. Masked,
  // as this message's own secret: it changes every second, so the process registry never holds it.
  return { timestamp: String(timestampS), sign: signature, message_secrets: [signature] };
}

module.exports = { feishu_sign, sign };
