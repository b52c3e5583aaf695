'use strict';
// What a send resolves to: one entry per configured channel, never carrying a secret.
// The JSON shape is the same as Python's SendResult.to_dict().

const STATUS = {
  DELIVERED: 'delivered',
  REJECTED: 'rejected', // the vendor answered and said no (HTTP 4xx/5xx, or 200 with an error code)
  NETWORK_ERROR: 'network_error', // no answer: refused, reset, DNS, TLS
  TIMEOUT: 'timeout',
  CONFIG_ERROR: 'config_error', // configured, but the configuration cannot work
  SKIPPED: 'skipped',
  INTERNAL_ERROR: 'internal_error', // a bug on our side; reported, never thrown
};

/**
 * One channel's outcome (spec/README.md, "Results"), keys in Python's ChannelResult order. attempts:
 * requests made for this channel, every try of every part and target summed, token fetches included.
 * parts: parts of the message whose sending started (1 for a message that fit; 0 when nothing was sent).
 * truncated: content was cut to fit the channel's limit (MCP_PUSH_OVERFLOW=truncate, or more than
 * overflow.max_parts parts needed).
 */
function channelResult(
  channel,
  ok,
  status,
  error = null,
  attempts = 0,
  elapsedMs = 0,
  httpStatus = null,
  parts = 0,
  truncated = false,
) {
  return { channel, ok, status, error, attempts, elapsed_ms: elapsedMs, http_status: httpStatus, parts, truncated };
}

class SendResult {
  constructor(channels = [], skipped = null) {
    this.channels = channels;
    this.skipped = skipped; // why nothing was attempted (empty content, SKIP_PUSH_TITLE, no channel)
  }

  /** True when at least one channel delivered. */
  get ok() {
    return this.channels.some((r) => r.ok);
  }

  get failed() {
    return this.channels.filter((r) => !r.ok);
  }

  get(channel) {
    return this.channels.find((r) => r.channel === channel);
  }

  toJSON() {
    return { ok: this.ok, skipped: this.skipped, channels: this.channels.map((r) => ({ ...r })) };
  }
}

module.exports = { STATUS, channelResult, SendResult };
