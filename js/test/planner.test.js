'use strict';
// The plan does not change after planning (spec/README.md, "Tokens"): a fetched token is put into the
// planned requests at send time (planner.withToken), giving the same bytes as rendering the requests with
// it, and sending a plan reports what happened in an Outcome instead of writing into the plan.
// python/tests/test_planner.py checks the same in Python.

const assert = require('node:assert/strict');
const { after, before, test } = require('node:test');

const { channelEnv } = require('../src/config');
const { sendPlan } = require('../src/deliver');
const { TOKEN_MARK, planChannel, renderRequest, requestToDict, withToken } = require('../src/planner');
const { loadChannels } = require('../src/specs');
const { TOKENS } = require('../src/tokens');
const { json, startVendor } = require('../test-helpers');

const TOKENS_TO_TRY = ['plain_Token-1.2~x', 'a/b+c=d&e%41 f?g#h', 'q"u\\o\nte', '中文😀', '__TOKEN__'];

// {{ token }} in each place a request can carry it, and the wire encoding of that place.
const PLACES = {
  'url path (normalized)': { method: 'POST', url: 'https://h.example/bot{{ token }}/send', body: { a: 'b' } },
  "url's own query": { method: 'GET', url: 'https://h.example/send?t={{ token }}&x=1' },
  'appended query (pct)': { method: 'GET', url: 'https://h.example/send', query: { access_token: '{{ token }}' } },
  header: { method: 'GET', url: 'https://h.example/', headers: { Authorization: 'Bearer {{ token }}' } },
  'json body': { method: 'POST', url: 'https://h.example/', body: { token: '{{ token }}', n: 1 } },
  'form body': { method: 'POST', url: 'https://h.example/', encoding: 'form', body: { token: '{{ token }}' } },
  'text body': { method: 'POST', url: 'https://h.example/', encoding: 'text', body: 't={{ token }};' },
  'query of a multipart request': {
    method: 'POST',
    url: 'https://h.example/',
    query: { t: '{{ token }}' },
    encoding: 'multipart',
    body: { a: 'b' },
  },
};
const CONTEXT = { title: 't', content: 'c', env: {}, params: {}, hook: {} };

test('a token put in at send time is byte for byte the token rendered, in every place', () => {
  const spec = loadChannels().wecom_app;
  for (const [place, request] of Object.entries(PLACES)) {
    for (const token of TOKENS_TO_TRY) {
      const [marked] = renderRequest(spec, request, { ...CONTEXT, token: TOKEN_MARK });
      const [rendered] = renderRequest(spec, request, { ...CONTEXT, token });
      assert.deepEqual(requestToDict(withToken(marked, token)), requestToDict(rendered), `${place}: ${token}`);
    }
  }
});

test('a tree body gets the token raw and a multipart body refuses it', () => {
  const smtp = { ...loadChannels().wecom_app, transport: 'smtp' };
  const tree = { method: 'POST', url: 'smtp://h.example', body: { to: ['{{ token }}'], subject: 's' } };
  const [marked] = renderRequest(smtp, tree, { ...CONTEXT, token: TOKEN_MARK });
  assert.deepEqual(withToken(marked, 'a"b&c').body, { to: ['a"b&c'], subject: 's' });
  const multipart = { method: 'POST', url: 'https://h.example/', encoding: 'multipart', body: { t: '{{ token }}' } };
  assert.throws(
    () => renderRequest(loadChannels().wecom_app, multipart, { ...CONTEXT, token: TOKEN_MARK }),
    /multipart/,
  );
});

let wecom;
before(async () => {
  wecom = await startVendor();
  wecom.route('/cgi-bin/gettoken', json(200, { errcode: 0, access_token: 'wa_tok_planner_1', expires_in: 7200 }));
  wecom.route('/cgi-bin/message/send', json(200, { errcode: 0, msgid: 'm1' }));
});
after(() => wecom.close());

test('sending a plan leaves it as planned and reports in an Outcome', async () => {
  TOKENS.clear();
  const spec = loadChannels().wecom_app;
  const env = channelEnv(spec, { QYWX_AM: 'ww_corp_pl,sec_wa_pl_91c4,UserA,1000002', QYWX_ORIGIN: wecom.url });
  const plan = planChannel(spec, env, 't', 'c', {}, 1700000000);
  const before = plan.requests.map(requestToDict);
  const first = await sendPlan(plan, 5);
  const second = await sendPlan(plan, 5); // the same plan again: the cached token, the same wire
  assert.deepEqual(plan.requests.map(requestToDict), before); // still __TOKEN__, as planned
  assert.deepEqual([first.result.ok, first.attempts, first.replies], [true, 2, ['{"errcode":0,"msgid":"m1"}']]);
  assert.deepEqual([second.result.ok, second.attempts, second.replies], [true, 1, ['{"errcode":0,"msgid":"m1"}']]);
  const sent = wecom.received.filter((r) => r.path.startsWith('/cgi-bin/message/send')).map((r) => r.path);
  assert.deepEqual(sent, [
    '/cgi-bin/message/send?access_token=wa_tok_planner_1',
    '/cgi-bin/message/send?access_token=wa_tok_planner_1',
  ]);
  assert.ok(Object.isFrozen(plan) && Object.isFrozen(plan.requests) && Object.isFrozen(plan.requests[0]));
  TOKENS.clear();
});
