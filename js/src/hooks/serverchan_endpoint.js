'use strict';
// ServerChan: a Server酱³ key (sctp<uid>t...) has its own host; Turbo keys (SCT...) use sctapi.ftqq.com.

function serverchan_endpoint({ env }) {
  const key = env.PUSH_KEY;
  // Spelled-out cases: /i would also fold non-ASCII letters, differently from Python.
  const match = /^[sS][cC][tT][pP]([0-9]+)[tT]/.exec(key);
  if (match) return { url: `https://${match[1]}.push.ft07.com/send/${key}.send` };
  return { url: `https://sctapi.ftqq.com/${key}.send` };
}

module.exports = { serverchan_endpoint };
