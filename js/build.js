'use strict';
// `npm run build`: dist/sendNotify.js, one file with the specs and every dependency inlined, for a
// QingLong scripts folder: `require('./sendNotify')` works there with no node_modules.
// The channel specs are validated here, once, so the bundle needs no js-yaml at run time.

const fs = require('node:fs');
const path = require('node:path');
const esbuild = require('esbuild');
const Ajv2020 = require('ajv/dist/2020');
const { readSpecSource } = require('./src/specSource');

function embeddedSpecs() {
  const source = readSpecSource();
  const validate = new Ajv2020({ strict: false }).compile(source.schema);
  for (const [file, data] of Object.entries(source.channels)) {
    if (!validate(data)) throw new Error(`spec/channels/${file}: ${validate.errors[0].instancePath} ${validate.errors[0].message}`);
  }
  return { ...source, validated: true };
}

// Replaces src/specSource.js (which reads spec/ from disk) with the same data, inline.
const inlineSpecs = (data) => ({
  name: 'inline-specs',
  setup(build) {
    build.onResolve({ filter: /^\.\/specSource$/ }, () => ({ path: 'specSource', namespace: 'inline-specs' }));
    build.onLoad({ filter: /.*/, namespace: 'inline-specs' }, () => ({
      contents: `'use strict';\nconst DATA = ${JSON.stringify(data)};\nmodule.exports = { readSpecSource: () => DATA, specDir: () => '(bundled)' };\n`,
      loader: 'js',
    }));
  },
});

// Replaces src/hookFiles.js (which finds hooks/<name>.js on disk) with a table of every file in hooks/,
// so esbuild sees a plain require for each and the bundle carries them all.
const inlineHooks = () => ({
  name: 'inline-hooks',
  setup(build) {
    const dir = path.join(__dirname, 'src', 'hooks');
    build.onResolve({ filter: /^\.\.\/hookFiles$/ }, () => ({ path: 'hookFiles', namespace: 'inline-hooks' }));
    build.onLoad({ filter: /.*/, namespace: 'inline-hooks' }, () => {
      const names = fs.readdirSync(dir).filter((f) => f.endsWith('.js') && f !== 'index.js').map((f) => f.slice(0, -3)).sort();
      const entries = names.map((name) => `  ${JSON.stringify(name)}: () => require(${JSON.stringify(`./${name}.js`)}),`);
      return {
        contents: `'use strict';\nconst FILES = {\n${entries.join('\n')}\n};\nmodule.exports = { hookModule: (name) => (Object.hasOwn(FILES, name) ? FILES[name]() : null) };\n`,
        resolveDir: dir,
        loader: 'js',
      };
    });
  },
});

async function main() {
  const outfile = path.join(__dirname, 'dist', 'sendNotify.js');
  await esbuild.build({
    entryPoints: [path.join(__dirname, 'sendNotify.js')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    legalComments: 'eof', // one file: licenses at its end
    // Never loaded by a bundle: specs come as data, pre-validated; nunjucks' file watcher is unused.
    // (ajv stays in: event envelopes are validated at run time.)
    external: ['js-yaml', 'chokidar', 'fsevents'],
    plugins: [inlineSpecs(embeddedSpecs()), inlineHooks()],
    logLevel: 'warning',
  });
  process.stdout.write(`built ${path.relative(process.cwd(), outfile)}\n`);
}

main().catch((error) => {
  process.stderr.write(`${error.stack || error}\n`);
  process.exit(1);
});
