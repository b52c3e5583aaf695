'use strict';
// mcp-push for Node: the same channel specs and behaviour as the Python runtime.
//   const { send, plan, sendNotify } = require('mcp-push');

const { plan, dispatch, send } = require('./api');
const { sendEvent, planEvent, validateEnvelope, renderEvent, EnvelopeError } = require('./events');
const { SendResult, STATUS } = require('./result');

/** Routes every request through `dispatcher` (undici MockAgent in tests): undici loads at the first send, not here. */
const useDispatcher = (dispatcher) => require('./transports/http').useDispatcher(dispatcher);

/** QingLong's signature: sendNotify(text, desp, params = {}); resolves to per-channel results. */
function sendNotify(text, desp, params = {}) {
  return send(text, desp, { params });
}

module.exports = {
  send,
  sendNotify,
  sendEvent,
  planEvent,
  validateEnvelope,
  renderEvent,
  EnvelopeError,
  plan,
  dispatch,
  SendResult,
  STATUS,
  useDispatcher,
  version: require('../package.json').version,
};
