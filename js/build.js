'use strict';
// `npm run build`: dist/sendNotify.js, one file with the specs and every dependency inlined, for a
// QingLong scripts folder: `require('./sendNotify')` works there with no node_modules.
// The channel specs are validated here, once, and embedded parsed, so the bundle needs neither js-yaml nor
// (unless an event envelope is validated) ajv at run time.

const fs = require('node:fs');
const path = require('node:path');
const esbuild = require('esbuild');
const Ajv2020 = require('ajv/dist/2020');
const { readSpecSource } = require('./src/specSource');
const { FILTERS, getEnvironment } = require('./src/templates');
const { parseSimple } = require('./src/simpleTemplates');

function embeddedSpecs() {
  const source = readSpecSource();
  const validate = new Ajv2020({ strict: false }).compile(source.schema);
  for (const [file, data] of Object.entries(source.channels)) {
    if (!validate(data))
      throw new Error(`spec/channels/${file}: ${validate.errors[0].instancePath} ${validate.errors[0].message}`);
  }
  // No channel schema: the embedded specs are validated, so specs.js never asks for it.
  const { settings, channels, eventTemplate, envelopeSchema } = source;
  return { settings, channels, eventTemplate, envelopeSchema, validated: true };
}

// V8 keeps a script's source in memory, two bytes a character as soon as one character is beyond
// Latin-1 (a ’ in a dependency's comment, a fullwidth ； in a regex): about 4 MiB instead of 2. Comments
// go (minifyWhitespace; names and code stay as written) and strings are escaped (charset: ascii); what
// is left beyond Latin-1 fails the build, naming where it is.
// charset: ascii escapes strings but leaves regular expression literals as written (markdown-it's /ẞ/g):
// a \uXXXX escape means the same character there (each half of a pair in a /u literal too).
function escapeRegexLiterals(file) {
  const text = fs.readFileSync(file, 'utf8');
  const escaped = text.replace(/[^\x00-\xff]/gu, (ch) =>
    Array.from(
      { length: ch.length },
      (_, i) => '\\u' + ch.charCodeAt(i).toString(16).toUpperCase().padStart(4, '0'),
    ).join(''),
  );
  if (escaped !== text) fs.writeFileSync(file, escaped);
}

function checkLatin1(file) {
  const text = fs.readFileSync(file, 'utf8');
  const at = text.search(/[^\x00-\xff]/u);
  if (at >= 0) {
    const line = text.slice(0, at).split('\n').length;
    throw new Error(
      `${file}:${line}: ${JSON.stringify(text.slice(Math.max(0, at - 40), at + 10))} is beyond Latin-1: write it as an escape`,
    );
  }
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

// Every string in the embedded specs that may be a template: what templates.render compiles.
function templateSources(data) {
  const found = new Set();
  const walk = (node) => {
    if (typeof node === 'string') {
      if (node.includes('{')) found.add(node);
    } else if (node && typeof node === 'object') {
      for (const value of Object.values(node)) walk(value);
    }
  };
  walk([data.channels, data.eventTemplate]);
  return [...found].sort();
}

// Replaces src/precompiled.js (none) with the nunjucks code of every template in the specs, compiled
// here exactly as nunjucks.Template compiles a source at its first render (same compiler, environment
// and options): a bundled script then never runs nunjucks' lexer, parser and compiler (the lexer alone
// was hot enough for V8 to optimise it during one send: 4 MiB of peak memory). A string nunjucks
// cannot compile is left out: rendering it compiles it, and fails, as in a checkout.
const precompiledTemplates = (data) => ({
  name: 'precompiled-templates',
  setup(build) {
    const compiler = require('nunjucks/src/compiler');
    const env = getEnvironment();
    const entries = [];
    for (const source of templateSources(data)) {
      let code;
      try {
        code = compiler.compile(source, env.asyncFilters, env.extensionsList, undefined, env.opts);
      } catch {
        continue;
      }
      entries.push(`  ${JSON.stringify(source)}: function () {\n${code}\n},`);
    }
    build.onResolve({ filter: /^\.\/precompiled$/ }, () => ({
      path: 'precompiled',
      namespace: 'precompiled-templates',
    }));
    // And each template's simpleTemplates parse (plain data; null when nunjucks renders it): a bundled
    // script's first send does not tokenize its templates either.
    const simple = {};
    for (const source of templateSources(data)) simple[source] = parseSimple(source, FILTERS);
    build.onLoad({ filter: /.*/, namespace: 'precompiled-templates' }, () => ({
      contents: `'use strict';\nconst CODE = {\n${entries.join('\n')}\n};\nconst SIMPLE = ${JSON.stringify(simple)};\nmodule.exports = {\n  precompiled: (source) => (Object.hasOwn(CODE, source) ? CODE[source]() : undefined),\n  precompiledSimple: (source) => (Object.hasOwn(SIMPLE, source) ? SIMPLE[source] : undefined),\n};\n`,
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
      const names = fs
        .readdirSync(dir)
        .filter((f) => f.endsWith('.js') && f !== 'index.js')
        .map((f) => f.slice(0, -3))
        .sort();
      const entries = names.map(
        (name) => `  ${JSON.stringify(name)}: () => require(${JSON.stringify(`./${name}.js`)}),`,
      );
      return {
        contents: `'use strict';\nconst FILES = {\n${entries.join('\n')}\n};\nmodule.exports = { hookModule: (name) => (Object.hasOwn(FILES, name) ? FILES[name]() : null) };\n`,
        resolveDir: dir,
        loader: 'js',
      };
    });
  },
});

// Packages a send to HTTP channels without a proxy never runs: undici (proxies, MockAgent), nodemailer
// (SMTP), ajv (event envelopes, config files), yaml (config files), markdown-it (Markdown to HTML).
// Each is bundled on its own and carried as a string, compiled the first time it is required: V8
// parses every function of a script it compiles (a pre-parse, to find where each ends) and keeps what
// it learns, but only scans a string. They were 1.3 MiB of the 2 MiB the one-shot script compiled.
const LAZY_PACKAGES = ['undici', 'nodemailer', 'ajv/dist/2020', 'yaml', 'markdown-it'];

async function lazyBundle(name) {
  const built = await esbuild.build({
    stdin: { contents: `module.exports = require(${JSON.stringify(name)});`, resolveDir: __dirname, loader: 'js' },
    outfile: path.join(__dirname, 'dist', 'lazy.js'),
    write: false,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    legalComments: 'external',
    minifyWhitespace: true,
    charset: 'ascii',
    logLevel: 'warning',
  });
  const text = (suffix) => (built.outputFiles.find((f) => f.path.endsWith(suffix)) || { text: '' }).text;
  return { code: text('lazy.js'), legal: text('.LEGAL.txt') };
}

// The module that stands for a lazy package in the bundle: its code as a string, run as a CommonJS
// module (the bundle's own require, __filename and __dirname) when the bundle first requires it.
function lazyModule(name, code) {
  return `'use strict';
const SOURCE = ${JSON.stringify(code)};
const run = require('node:vm').compileFunction(SOURCE, ['exports', 'require', 'module', '__filename', '__dirname'], {
  filename: ${JSON.stringify(`sendNotify.js (bundled ${name})`)},
});
const lazy = { exports: {} };
run.call(lazy.exports, lazy.exports, require, lazy, __filename, __dirname);
module.exports = lazy.exports;
`;
}

const lazyPackages = (bundles) => ({
  name: 'lazy-packages',
  setup(build) {
    const filter = new RegExp(`^(${LAZY_PACKAGES.map((n) => n.replace(/[/.]/g, '\\$&')).join('|')})$`);
    build.onResolve({ filter }, (args) => ({ path: args.path, namespace: 'lazy-packages' }));
    build.onLoad({ filter: /.*/, namespace: 'lazy-packages' }, (args) => ({
      contents: lazyModule(args.path, bundles.get(args.path).code),
      loader: 'js',
    }));
  },
});

// The licenses of the lazy packages, after the bundle's own (legalComments: 'eof'), as line comments.
function appendLegal(file, bundles) {
  const legal = [...bundles.values()].map((b) => b.legal.trim()).filter(Boolean);
  if (!legal.length) return;
  const lines = legal
    .join('\n\n')
    .split('\n')
    .map((line) => `// ${line}`.trimEnd());
  fs.appendFileSync(file, `\n${lines.join('\n')}\n`);
}

async function main() {
  const outfile = path.join(__dirname, 'dist', 'sendNotify.js');
  const specs = embeddedSpecs();
  const bundles = new Map();
  for (const name of LAZY_PACKAGES) bundles.set(name, await lazyBundle(name));
  await esbuild.build({
    entryPoints: [path.join(__dirname, 'sendNotify.js')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    legalComments: 'eof', // one file: licenses at its end
    minifyWhitespace: true,
    charset: 'ascii',
    // Never loaded by a bundle: specs come as data, pre-validated; nunjucks' file watcher is unused.
    // (ajv stays in, loaded only when an event envelope is validated.)
    external: ['js-yaml', 'chokidar', 'fsevents'],
    plugins: [inlineSpecs(specs), precompiledTemplates(specs), inlineHooks(), lazyPackages(bundles)],
    logLevel: 'warning',
  });
  appendLegal(outfile, bundles);
  escapeRegexLiterals(outfile);
  checkLatin1(outfile);
  process.stdout.write(`built ${path.relative(process.cwd(), outfile)}\n`);
}

main().catch((error) => {
  process.stderr.write(`${error.stack || error}\n`);
  process.exit(1);
});
