'use strict';
// go-cqhttp / OneBot v11 target: GOBOT_QQ is `user_id=N` (private) or `group_id=N` (group).

const { ConfigError } = require('../config');

function gocqhttp_target({ env }) {
  const match = /^\s*(user_id|group_id)\s*=\s*([0-9]+)\s*$/.exec(env.GOBOT_QQ);
  if (!match) throw new ConfigError('GOBOT_QQ must be user_id=<QQ number> or group_id=<group number>');
  return { target: { [match[1]]: Number(match[2]) } };
}

module.exports = { gocqhttp_target };
