'use strict';
// Lark (international Feishu) bot signature: Feishu's scheme, with the secret read from LARK_SECRET.
// Same values as python/mcp_push/hooks/lark.py.

const { signed } = require('./feishu');

function lark_sign({ env, now }) {
  return signed(env.LARK_SECRET || '', now);
}

module.exports = { lark_sign };
