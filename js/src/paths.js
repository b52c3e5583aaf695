'use strict';
// The one path syntax of the specs (python/mcp_push/paths.py mirrors it). A path is dotted steps
// (`result.message_id`); a step of ASCII digits on a list is an index (`result.0.message_id`). The same
// resolver reads success rules, `error_paths`, `$ref`, `$merge`, `$when`, `for_each`, `edit.ref`,
// `token.value`, `token.expires_in` and `retry.after_json` (spec/README.md, "Paths").

class PathError extends Error {}

const RAISE = Symbol('raise');
const isMapping = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

/** The value at `path` in `data`; `fallback` when a step names nothing, or a PathError without one. */
function resolvePath(data, path, fallback = RAISE) {
  let value = data;
  for (const step of path.split('.')) {
    if (isMapping(value) && Object.prototype.hasOwnProperty.call(value, step)) value = value[step];
    else if (Array.isArray(value) && /^[0-9]+$/.test(step) && Number(step) < value.length) value = value[Number(step)];
    else if (fallback === RAISE) throw new PathError(`context has no '${path}'`);
    else return fallback;
  }
  return value;
}

module.exports = { PathError, resolvePath };
