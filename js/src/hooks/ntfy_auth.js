'use strict';
// ntfy authorization: an access token (Bearer) wins over username and password (Basic).

function ntfy_auth({ env }) {
  const token = env.NTFY_TOKEN || '';
  if (token) return { authorization: `Bearer ${token}` };
  const user = env.NTFY_USERNAME || '';
  const password = env.NTFY_PASSWORD || '';
  if (user && password) {
    const basic = Buffer.from(`${user}:${password}`, 'utf8').toString('base64');
    return { authorization: `Basic ${basic}`, secrets: [basic] };
  }
  return { authorization: '' };
}

module.exports = { ntfy_auth };
