'use strict';
// WxPusher targets: `;`-separated topic ids (integers) and uids.

const { ConfigError, stripSpace } = require('../config');

const split = (value) => value.split(';').map(stripSpace).filter(Boolean);

function wxpusher_targets({ env }) {
  const topicIds = [];
  for (const part of split(env.WXPUSHER_TOPIC_IDS || '')) {
    // ASCII digits only, as the Python hook: Number() would accept "1e3" or " 12 ".
    if (!/^[0-9]+$/.test(part)) {
      throw new ConfigError(`WXPUSHER_TOPIC_IDS must be numbers separated by ';', got '${part}'`);
    }
    topicIds.push(Number(part));
  }
  const uids = split(env.WXPUSHER_UIDS || '');
  if (!topicIds.length && !uids.length) {
    throw new ConfigError('WXPUSHER_TOPIC_IDS or WXPUSHER_UIDS must name at least one topic id or uid');
  }
  return { topic_ids: topicIds, uids };
}

module.exports = { wxpusher_targets };
