'use strict';
// npm's prepack/postpack: the package's files must sit inside js/, but the specs live in the repo's spec/
// (shared with the Python runtime). `copy` puts a copy of spec/ (and the repo's LICENSE) into js/ for the
// tarball; `clean` removes it again, so a checkout never carries a second, stale spec folder.
// src/specSource.js reads the repo's spec/ in a checkout and the package's own copy once installed.

const fs = require('node:fs');
const path = require('node:path');

const JS = path.join(__dirname, '..');
const REPO = path.join(JS, '..');
// [from the repo, into js/]
const COPIES = [
  [path.join(REPO, 'spec'), path.join(JS, 'spec')],
  [path.join(REPO, 'LICENSE'), path.join(JS, 'LICENSE')],
];

function clean() {
  for (const [, to] of COPIES) fs.rmSync(to, { recursive: true, force: true });
}

function copy() {
  clean();
  for (const [from, to] of COPIES) {
    if (!fs.existsSync(from)) throw new Error(`${path.relative(REPO, from)} not found: pack mcp-push from a checkout`);
    // The Python side's stamp of the spec files (python/mcp_push/spec_stamp.py) describes this checkout's
    // files, not the package's.
    fs.cpSync(from, to, { recursive: true, filter: (source) => path.basename(source) !== '.validated.stat' });
  }
}

const command = process.argv[2];
if (command === 'copy') copy();
else if (command === 'clean') clean();
else {
  process.stderr.write('usage: node tools/pack-spec.js copy|clean\n');
  process.exit(2);
}
