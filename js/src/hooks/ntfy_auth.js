'use strict';
// ntfy authorization: an access token (Bearer) wins over username and password (Basic); and the
// message's action buttons: its own (`params.actions`, notify_ask's answer buttons), else NTFY_ACTIONS.

function ntfy_auth({ env, params }) {
  const own = params && params.actions;
  const actions = typeof own === 'string' && own ? own : env.NTFY_ACTIONS || '';
  const token = env.NTFY_TOKEN || '';
  if (token) return { actions, authorization: `Bearer ${token}` };
  const user = env.NTFY_USERNAME || '';
  const password = env.NTFY_PASSWORD || '';
  if (user && password) {
    const basic = Buffer.from(`${user}:${password}`, 'utf8').toString('base64');
    return { actions, authorization: `Basic ${basic}`, secrets: [basic] };
  }
  return { actions, authorization: '' };
}

module.exports = { ntfy_auth };
