'use strict';
// cards.js, the twin of cards.py: fitting a card to its limit, the card riding in the params past hooks
// and templates, and eventMessage's card (off with MCP_PUSH_FORMAT=text). The cards themselves are
// pinned per channel by conformance/cases/cards/.

const assert = require('node:assert/strict');
const { test } = require('node:test');
const { CARD_PARAM, fitCard, takeCard } = require('../src/cards');
const { RunLog, eventMessage, planEvent, validateEnvelope } = require('../src/events');
const { size } = require('../src/overflow');
const { loadSettings } = require('../src/specs');

const cardOf = (message, details = '') => ({ kind: 'update', title: '⏳ r 1%', message, details, run_id: 'r' });
// A stand-in card: its message and details as a JSON document (so newlines and quotes grow).
const measureAsJson = (card) => size(JSON.stringify({ t: card.title, m: card.message, d: card.details }), 'bytes');

test('a card within its limit or without one is sent whole', () => {
  const card = cardOf('short');
  assert.deepEqual(fitCard(card, null, 'split', measureAsJson), [[card], false]);
  assert.deepEqual(fitCard(card, { max: 1000, unit: 'bytes' }, 'split', measureAsJson), [[card], false]);
});

test('a split card keeps every character and each part fits', () => {
  const message = Array.from({ length: 200 }, (_, i) => `line ${i} "quoted"`).join('\n');
  const { reserve, max_parts: maxParts } = loadSettings().overflow;
  const [parts, truncated] = fitCard(cardOf(message, 'k: v'), { max: 1200, unit: 'bytes' }, 'split', measureAsJson);
  assert.equal(truncated, false);
  assert.ok(parts.length >= 2 && parts.length <= maxParts);
  assert.ok(parts.every((part) => measureAsJson(part) <= 1200 - reserve));
  assert.equal(parts.map((part) => part.message).join('\n'), message);
  assert.deepEqual(
    parts.map((part) => part.title),
    parts.map((_, i) => `⏳ r 1% (${i + 1}/${parts.length})`),
  );
  assert.deepEqual(
    parts.map((part) => part.details),
    [...parts.slice(1).map(() => ''), 'k: v'],
  );
});

test('a truncated card is cut to fit, counting text as rendered, and marked', () => {
  const { reserve, truncated_mark: mark } = loadSettings().overflow;
  const [[part], truncated] = fitCard(cardOf('"'.repeat(3000)), { max: 500, unit: 'bytes' }, 'truncate', measureAsJson);
  assert.equal(truncated, true);
  assert.ok(part.message.endsWith(mark));
  assert.ok(measureAsJson(part) <= 500 - reserve);
  assert.ok(part.message.split('"').length - 1 > 200);
});

test('the card param is taken out before hooks and templates see the params', () => {
  const [card, rest] = takeCard({ [CARD_PARAM]: cardOf('m'), date: '2026-01-01' });
  assert.equal(card.message, 'm');
  assert.deepEqual(rest, { date: '2026-01-01' });
  assert.deepEqual(takeCard({ date: 'x' }), [null, { date: 'x' }]);
  const [request] = planEvent(
    { run_id: 'r', event: 'start', message: 'm', timestamp: '2026-01-01T00:00:00Z' },
    { env: { BARK_PUSH: 'k', HITOKOTO: 'false' }, now: 1767225600, redact: false },
  );
  assert.ok(!request.body.includes('$event'));
  assert.equal(JSON.parse(request.body).group, 'r');
});

test('eventMessage carries the card unless MCP_PUSH_FORMAT=text', () => {
  const envelope = validateEnvelope({ run_id: 'r', event: 'update', message: 'm', data: { progress: 0.5 } }, 0);
  const [title, content, params] = eventMessage(envelope, {}, new RunLog());
  assert.deepEqual([title, content], ['⏳ r 50%', 'm\nProgress: █████░░░░░ 50%']);
  assert.deepEqual(
    { ...params[CARD_PARAM], timestamp: '' },
    {
      kind: 'update',
      title: '⏳ r 50%',
      mark: '⏳',
      run_id: 'r',
      message: 'm',
      timestamp: '',
      step: '',
      artifact_url: '',
      error_code: '',
      percent: '50',
      bar: '█████░░░░░',
      details: '',
      elapsed: '',
      progress: 0.5,
    },
  );
  assert.deepEqual(eventMessage(envelope, { MCP_PUSH_FORMAT: 'text' }, new RunLog())[2], {});
});
