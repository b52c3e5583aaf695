'use strict';
// Named hooks: pure functions computing what a spec cannot say as data (signatures, parsed targets).
// Same names and jobs as python/mcp_push/hooks/. A hook gets {env, title, content, now, params, data}
// and returns values templates read as `hook.*`, plus optional `secrets` to mask (derived from the
// settings alone, kept for the life of the process) and `message_secrets` (this message's own, such as a
// signature over its timestamp, masked in that message's results only).

const REGISTRY = {
  dingtalk_sign: () => require('./dingtalk').dingtalk_sign,
  feishu_sign: () => require('./feishu').feishu_sign,
  serverchan_endpoint: () => require('./serverchan').serverchan_endpoint,
  wxpusher_targets: () => require('./wxpusher').wxpusher_targets,
  wxpusher_spt_targets: () => require('./wxpusher_spt').wxpusher_spt_targets,
  ntfy_auth: () => require('./ntfy').ntfy_auth,
  wecom_app_config: () => require('./wecom_app').wecom_app_config,
  gocqhttp_target: () => require('./gocqhttp').gocqhttp_target,
  chronocat_targets: () => require('./chronocat').chronocat_targets,
  webhook_request: () => require('./webhook').webhook_request,
  smtp_server: () => require('./smtp').smtp_server,
  matrix_txn_id: () => require('./matrix').matrix_txn_id,
  lark_sign: () => require('./lark').lark_sign,
};

function getHook(name) {
  const load = REGISTRY[name];
  if (!load) throw new Error(`no hook named '${name}'`);
  return load();
}

const runHook = (name, input) => getHook(name)(input);

module.exports = { REGISTRY, getHook, runHook };
