'use strict';
// Templates compiled ahead of time. In a checkout there are none: each template is compiled the first
// time it is rendered. The single-file bundle (build.js) replaces this module with the nunjucks code of
// every template in the specs, so a bundled script never runs nunjucks' lexer, parser or compiler, and
// with each one's simpleTemplates parse.

/** The compiled form (nunjucks' `{ root }`) of a template source, or undefined. */
const precompiled = () => undefined;

/** The parsed form (simpleTemplates.parseSimple, null for none) of a template source, or undefined. */
const precompiledSimple = () => undefined;

module.exports = { precompiled, precompiledSimple };
