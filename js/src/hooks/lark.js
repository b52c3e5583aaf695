'use strict';
// Lark (international Feishu) bot signature: Feishu's scheme, with the secret read from LARK_SECRET.
// The sign depends only on the timestamp and the secret, so anyone holding it can post for the next hour:
// it is returned under `secrets` to be masked like the secret itself. Same values as python/mcp_push/hooks/lark.py.

const { sign } = require('./feishu');

function lark_sign({ env, now }) {
  const secret = env.LARK_SECRET || '';
  if (!secret) return { timestamp: '', sign: '' };
  const timestampS = Math.floor(now);
  const signature = sign(secret, timestampS);
  return { timestamp: String(timestampS), sign: signature, secrets: [signature] };
}

module.exports = { lark_sign };
