'use strict';
// ESLint for the Node runtime, its tests and tools (`npm run lint`, run by `nox -s lint`). Formatting is
// Prettier's job (.prettierrc.json); these rules catch bugs: unused names, undefined globals, shadowed
// bindings that hide a mistake.
const js = require('@eslint/js');
const globals = require('globals');

module.exports = [
  { ignores: ['node_modules/', 'dist/', 'spec/'] },
  js.configs.recommended,
  {
    files: ['**/*.js'],
    languageOptions: { ecmaVersion: 2023, sourceType: 'commonjs', globals: { ...globals.node } },
    rules: {
      'no-unused-vars': ['error', { args: 'none', caughtErrors: 'none' }],
      'no-control-regex': 'off', // wire and template code matches control characters on purpose
    },
  },
];
