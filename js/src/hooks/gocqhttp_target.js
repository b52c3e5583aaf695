'use strict';
// go-cqhttp / OneBot v11 target: GOBOT_QQ is `user_id=N` (private) or `group_id=N` (group).

const { ConfigError } = require('../config');

function gocqhttp_target({ env }) {
  // ASCII digits and white space only, exactly as the Python hook reads it (JS's \s is wider).
  const match = /^[ \t\n\r\f\v]*(user_id|group_id)[ \t\n\r\f\v]*=[ \t\n\r\f\v]*([0-9]+)[ \t\n\r\f\v]*$/.exec(
    env.GOBOT_QQ,
  );
  if (!match) throw new ConfigError('GOBOT_QQ must be user_id=<QQ number> or group_id=<group number>');
  return { target: { [match[1]]: Number(match[2]) } };
}

module.exports = { gocqhttp_target };
