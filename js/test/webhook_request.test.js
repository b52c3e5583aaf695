'use strict';
// hooks/webhook_request.js: a WEBHOOK_BODY that is a JSON document stays JSON whatever the title and content
// hold, for any WEBHOOK_CONTENT_TYPE that sends the template as text (python/tests/test_webhook_request.py's
// twin).

const assert = require('node:assert/strict');
const { test } = require('node:test');

const { plan } = require('../src');
const { isJsonDocument } = require('../src/hooks/webhook_request');

const TRICKY = [
  'line1\nline2', // hitokoto appends a newline and a quote to almost every message
  'say "hi"',
  'C:\\path\\to\\',
  'tab\there\r\nCRLF \u0001 \u001f',
  '\u2028 \u2029 中文 😀',
  '$title and $content are text here',
  '"}], "injected": true, "x": [{"',
];

for (const contentType of ['text/plain', 'text/plain; charset=utf-8', 'application/octet-stream', '']) {
  test(`a JSON document body parses and carries the message exactly (${contentType || 'no content type'})`, () => {
    for (const content of TRICKY) {
      const env = {
        HITOKOTO: 'false',
        WEBHOOK_URL: 'http://127.0.0.1:9/hook',
        WEBHOOK_BODY: '[{"msgtype": "text", "text": {"content": "$title\\n$content"}}]',
      };
      if (contentType) env.WEBHOOK_CONTENT_TYPE = contentType;
      const [request] = plan('Backup "nightly"\\', content, { env, redact: false });
      assert.deepEqual(JSON.parse(request.body), [
        { msgtype: 'text', text: { content: `Backup "nightly"\\\n${content}` } },
      ]);
    }
  });
}

test('what counts as a JSON document: the template with every placeholder read as x parses as JSON', () => {
  const cases = [
    ['{"a": "$title"}', true],
    ['["$title $content", 1, null]', true],
    ['"$content"', true],
    ['{"$title": "v"}', true],
    ['{"n": $content}', false],
    ['[$content]', false],
    ['Alert: $title\n$content', false],
    ['{"a": "\\$title"}', false],
    ['{"a": NaN, "b": "$title"}', false],
  ];
  assert.deepEqual(
    cases.map(([template]) => isJsonDocument(template)),
    cases.map(([, expected]) => expected),
  );
});
