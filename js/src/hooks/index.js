'use strict';
// Hooks: pure functions computing what a spec cannot say as data (signatures, parsed targets).
// A hook is found by its file name: `hook: feishu_sign` runs the function `feishu_sign` exported by
// hooks/feishu_sign.js; there is no list of hooks to keep. It gets {env, title, content, now, params, data}
// and, as a second argument, the parameters the spec gives it (`hook: {use: feishu_sign, secret_var:
// LARK_SECRET}`), and returns values templates read as `hook.*`, plus optional `secrets` to mask (derived
// from the settings alone, kept for the life of the process) and `message_secrets` (this message's own,
// such as a signature over its timestamp, masked in that message's results only).
// Same file and function names as python/mcp_push/hooks/.

const { hookModule } = require('../hookFiles');

// A hook's name is a file name in this folder, never a path (the spec schema says the same).
const NAME = /^[a-z][a-z0-9_]*$/;

/** A spec names a hook that has no file, or whose file lacks its function (the same words in Python). */
class HookError extends Error {
  get name() {
    return 'HookError';
  }
}

// name -> function, for the hooks found: looking a file up on disk (and require's own resolution) cost
// more than most hooks themselves, once per channel per message. At most one entry per file in hooks/;
// a name with no hook is not kept, and fails each time it is asked for.
const found = new Map();

function getHook(name) {
  const known = found.get(name);
  if (known) return known;
  const exports = NAME.test(name) && name !== 'index' ? hookModule(name) : null;
  if (!exports) throw new HookError(`no hook named '${name}'`);
  const hook = exports[name];
  if (typeof hook !== 'function') throw new HookError(`hooks/${name}.js defines no function ${name}`);
  found.set(name, hook);
  return hook;
}

/** Runs the hook with the spec's parameters for it (`hook: {use: name, ...params}`). */
const runHook = (name, input, params = {}) => getHook(name)(input, { ...params });

module.exports = { HookError, getHook, runHook };
