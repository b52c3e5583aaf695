'use strict';
// Discord's webhook URL cut in two, for editing a message it posted: the edit goes to
// `<webhook>/messages/<id>` and keeps a `?thread_id=…` the URL carries after that path.

function discord_webhook({ env }) {
  const url = env.DISCORD_WEBHOOK_URL || '';
  const cut = url.indexOf('?');
  let [base, query] = cut < 0 ? [url, ''] : [url.slice(0, cut), url.slice(cut)];
  while (base.endsWith('/')) base = base.slice(0, -1);
  return { base, query };
}

module.exports = { discord_webhook };
