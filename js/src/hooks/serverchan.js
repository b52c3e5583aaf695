'use strict';
// ServerChan: a Server酱³ key (sctp<uid>t...) has its own host; Turbo keys (SCT...) use sctapi.ftqq.com.

function serverchan_endpoint({ env }) {
  const key = env.PUSH_KEY;
  const match = /^sctp(\d+)t/i.exec(key);
  if (match) return { url: `https://${match[1]}.push.ft07.com/send/${key}.send` };
  return { url: `https://sctapi.ftqq.com/${key}.send` };
}

module.exports = { serverchan_endpoint };
