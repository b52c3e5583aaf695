'use strict';
// Where a hook's code is: js/src/hooks/<name>.js, found by its file name. The single-file bundle
// (build.js) replaces this module with one that requires every file of hooks/, listed at build time,
// so the bundle carries them all.

const fs = require('node:fs');
const path = require('node:path');

const HOOKS = path.join(__dirname, 'hooks');

/** The exports of hooks/<name>.js, or null when there is no such file. */
function hookModule(name) {
  const file = path.join(HOOKS, `${name}.js`);
  return fs.existsSync(file) ? require(file) : null;
}

module.exports = { hookModule };
