'use strict';
// WeCom app: QYWX_AM = corpid,corpsecret,touser,agentid[,media]; the 5th field picks the message type.

const { ConfigError, stripSpace } = require('../config');

function wecom_app_config({ env }) {
  const fields = env.QYWX_AM.split(',').map(stripSpace);
  if (fields.length < 4 || fields.length > 5) {
    throw new ConfigError(
      `QYWX_AM must be corpid,corpsecret,touser,agentid[,media_id]; it has ${fields.length} fields`,
    );
  }
  const [corpid, corpsecret, touser, agentid] = fields;
  const media = fields.length === 5 ? fields[4] : '';
  if (!corpid || !corpsecret || !agentid) throw new ConfigError('QYWX_AM has an empty corpid, corpsecret or agentid');
  // Empty or "1" is text, "0" a text card, anything else an mpnews article with that thumb media id.
  const msgtype = media === '' || media === '1' ? 'text' : media === '0' ? 'textcard' : 'mpnews';
  return {
    corpid,
    corpsecret,
    touser: touser || '@all',
    agentid: /^[0-9]+$/.test(agentid) ? Number(agentid) : agentid,
    msgtype,
    media_id: msgtype === 'mpnews' ? media : '',
    secrets: [corpsecret],
  };
}

module.exports = { wecom_app_config };
