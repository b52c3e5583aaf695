'use strict';
// Chronocat targets from CHRONOCAT_QQ (`user_id=1;group_id=2;...`): users first, then groups.

const { ConfigError } = require('../config');

const PRIVATE = 1;
const GROUP = 2;

function chronocat_targets({ env }) {
  const spec = env.CHRONOCAT_QQ;
  const users = [...spec.matchAll(/user_id=([0-9]+)/g)].map((m) => m[1]);
  const groups = [...spec.matchAll(/group_id=([0-9]+)/g)].map((m) => m[1]);
  if (!users.length && !groups.length)
    throw new ConfigError('CHRONOCAT_QQ names no target: use user_id=<QQ>;group_id=<group>');
  const targets = [
    ...users.map((peer) => ({ chat_type: PRIVATE, peer })),
    ...groups.map((peer) => ({ chat_type: GROUP, peer })),
  ];
  return { targets };
}

module.exports = { chronocat_targets };
