'use strict';
// WxPusher simple push: one SPT goes as `spt`, two to ten as `sptList`.

const { ConfigError, stripSpace } = require('../config');

const MAX_SPTS = 10;

function wxpusher_spt_targets({ env }) {
  const spts = env.WXPUSHER_SPT_LIST.split(',').map(stripSpace).filter(Boolean);
  if (!spts.length) throw new ConfigError('WXPUSHER_SPT_LIST names no SPT: give one to ten SPTs separated by ,');
  if (spts.length > MAX_SPTS) {
    throw new ConfigError(`WXPUSHER_SPT_LIST has ${spts.length} SPTs; WxPusher accepts at most ${MAX_SPTS}`);
  }
  // Each SPT is a credential on its own; the env value as a whole never appears on the wire.
  if (spts.length === 1) return { spt: spts[0], spt_list: null, secrets: spts };
  return { spt: null, spt_list: spts, secrets: spts };
}

module.exports = { wxpusher_spt_targets };
