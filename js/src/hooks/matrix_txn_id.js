'use strict';
// Matrix transaction id: unique per message, the same on every retry of that message.
// The homeserver treats a repeated txnId on the same path as a retransmission and answers with the first
// event's id instead of posting again, so the id is derived from the message itself: the time of the send
// in milliseconds and a SHA-256 of the body text. Same values as python/mcp_push/hooks/matrix_txn_id.py.

const crypto = require('node:crypto');

function txnId(title, content, now) {
  const timestampMs = Math.floor(now * 1000 + 0.5); // ties up, as Python's math.floor(x + 0.5)
  const digest = crypto.createHash('sha256').update(`${title}\n\n${content}`, 'utf8').digest('hex');
  return `mcp-push-${timestampMs}-${digest.slice(0, 16)}`;
}

function matrix_txn_id({ title, content, now }) {
  return { txn_id: txnId(title, content, now) };
}

module.exports = { matrix_txn_id, txnId };
