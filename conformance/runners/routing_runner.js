"use strict";
// The Node routing replayer (routing_cases.py): stdin [{id, file, raw, config, state, steps}], stdout
// {id: [{decisions, state}, ...]}: each step through js/src/routing.js's decide, the config checked first.

const path = require("node:path");
const src = path.join(__dirname, "..", "..", "js", "src");
const { decide } = require(path.join(src, "routing"));
const { parseConfig } = require(path.join(src, "configFile"));

async function main() {
  let input = "";
  for await (const chunk of process.stdin) input += chunk;
  const out = {};
  for (const testCase of JSON.parse(input)) {
    parseConfig(JSON.stringify(testCase.raw), testCase.file);
    let { state } = testCase;
    out[testCase.id] = testCase.steps.map((step) => {
      const result = decide(testCase.config, step.message, state, step.now);
      state = result.state;
      return result;
    });
  }
  process.stdout.write(JSON.stringify(out));
}

main().catch((error) => {
  process.stderr.write(`${error.stack}\n`);
  process.exit(1);
});
