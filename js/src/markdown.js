'use strict';
// Markdown in (`format: markdown`): CommonMark content converted once per channel to the dialect its spec
// names (`markdown:`), from markdown-it's token stream; never by regular expressions. python/mcp_push/markdown.py
// is the same, function for function, and conformance/cases/markdown/ pins that both write the same bytes.
//
// The parser is markdown-it ("commonmark" preset plus ~~strikethrough~~), required only when a message in
// Markdown is planned: a plain send never loads it. Raw HTML in the input is text (the parser's
// `html: false`), escaped as each dialect escapes text, so a message never smuggles in markup.

const FORMATS = ['text', 'markdown'];
// What a spec's `markdown:` may name; a channel without one gets `text` (the Markdown read as plain text).
const DIALECTS = ['text', 'telegram_html', 'slack_mrkdwn', 'markdown', 'html', 'dingtalk_markdown', 'wecom_markdown'];

let PARSER = null;

function parser() {
  if (PARSER === null) {
    const MarkdownIt = require('markdown-it');
    PARSER = new MarkdownIt('commonmark', { html: false }).enable('strikethrough');
  }
  return PARSER;
}

/** The message format a caller asked for: `text` (null too) or `markdown`, else an Error in the one wording. */
function checkFormat(value) {
  if (value === null || value === undefined || value === '') return 'text';
  if (!FORMATS.includes(value)) throw new Error('format: must be text or markdown');
  return value;
}

// --- escaping, per dialect ------------------------------------------------------------------------------

const html = (text) => text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
const attr = (text) => html(text).replaceAll('"', '&quot;');

// Characters a Markdown reader could take as markup, written with a backslash so they read as text.
const MD_SPECIAL = new Set('\\`*_[]<>#~|&');
const md = (text) =>
  Array.from(text)
    .map((ch) => (MD_SPECIAL.has(ch) ? '\\' + ch : ch))
    .join('');
// markdown-it has percent-encoded the destination already, except parentheses, which would end it.
const mdHref = (href) => href.replaceAll('(', '%28').replaceAll(')', '%29').replaceAll(' ', '%20');

function longestRun(text, ch) {
  let longest = 0;
  let run = 0;
  for (const c of text) {
    run = c === ch ? run + 1 : 0;
    longest = Math.max(longest, run);
  }
  return longest;
}

function mdCode(text) {
  const ticks = '`'.repeat(longestRun(text, '`') + 1);
  const pad = text.startsWith('`') || text.endsWith('`') ? ' ' : '';
  return `${ticks}${pad}${text}${pad}${ticks}`;
}

function mdFence(text, info) {
  const ticks = '`'.repeat(Math.max(3, longestRun(text, '`') + 1));
  return `${ticks}${info}\n${text}\n${ticks}`;
}

const prefixLines = (text, prefix) =>
  text
    .split('\n')
    .map((line) => (line ? prefix + line : prefix.trimEnd()))
    .join('\n');

const plainLink = (href, text, auto) => (auto || text === href ? text : `${text} (${href})`);
const plainImage = (src, alt) => (alt ? `${alt} (${src})` : src);
const mdLink = (href, text, auto) => (auto ? `<${href}>` : `[${text}](${mdHref(href)})`);
// DingTalk and WeCom render [text](url) only, not <url>.
const subsetLink = (href, text, auto) => `[${auto ? md(href) : text}](${mdHref(href)})`;
const mdHeading = (level, text) => '#'.repeat(level) + ' ' + text;
const quoteLines = (text) => prefixLines(text, '> ');

// How each target writes each piece: text, marks, code, links, blocks (Python's Dialect).
const dialect = (fields) => ({ hr: '---', bullet: '•', hardbreak: '\n', tags: {}, ...fields });

const TEXT = dialect({
  esc: (text) => text,
  marks: { em: '', strong: '', s: '' },
  code: (text) => text,
  link: plainLink,
  image: plainImage,
  heading: (level, text) => text,
  quote: quoteLines,
  codeBlock: (code) => code,
});

const TELEGRAM = dialect({
  esc: html,
  marks: {},
  code: (text) => `<code>${html(text)}</code>`,
  link: (href, text) => `<a href="${attr(href)}">${text}</a>`,
  image: (src, alt) => `<a href="${attr(src)}">${html(alt || src)}</a>`,
  heading: (level, text) => `<b>${text}</b>`,
  quote: (text) => `<blockquote>${text}</blockquote>`,
  codeBlock: (code, info) =>
    info ? `<pre><code class="language-${attr(info)}">${html(code)}</code></pre>` : `<pre>${html(code)}</pre>`,
  tags: { em: ['<i>', '</i>'], strong: ['<b>', '</b>'], s: ['<s>', '</s>'] },
});

const SLACK = dialect({
  esc: html,
  marks: { em: '_', strong: '*', s: '~' },
  code: (text) => `\`${html(text)}\``,
  link: (href, text, auto) => (auto ? `<${html(href)}>` : `<${html(href)}|${text}>`),
  image: (src, alt) => (alt ? `<${html(src)}|${html(alt)}>` : `<${html(src)}>`),
  heading: (level, text) => `*${text}*`,
  quote: quoteLines,
  codeBlock: (code) => '```\n' + html(code) + '\n```',
});

const MARKDOWN = dialect({
  esc: md,
  marks: { em: '*', strong: '**', s: '~~' },
  code: mdCode,
  link: mdLink,
  image: (src, alt) => `![${md(alt)}](${mdHref(src)})`,
  heading: mdHeading,
  quote: quoteLines,
  codeBlock: mdFence,
  bullet: '-',
  hardbreak: '  \n',
});

// DingTalk's robot markdown: headings, bold, italic, links, images, lists and quotes; no code or strikethrough.
const DINGTALK = dialect({
  esc: md,
  marks: { em: '*', strong: '**', s: '' },
  code: md,
  link: subsetLink,
  image: (src, alt) => `![${md(alt)}](${mdHref(src)})`,
  heading: mdHeading,
  quote: quoteLines,
  codeBlock: (code) => md(code),
  bullet: '-',
  hardbreak: '  \n',
});

// WeCom's robot markdown: headings, bold, links, inline code and quotes; no italic, strikethrough or images.
const WECOM = dialect({
  esc: md,
  marks: { em: '', strong: '**', s: '' },
  code: mdCode,
  link: subsetLink,
  image: (src, alt) => `[${md(alt || src)}](${mdHref(src)})`,
  heading: mdHeading,
  quote: quoteLines,
  codeBlock: (code) => md(code),
  bullet: '-',
  hardbreak: '  \n',
});

const LINE_DIALECTS = {
  text: TEXT,
  telegram_html: TELEGRAM,
  slack_mrkdwn: SLACK,
  markdown: MARKDOWN,
  dingtalk_markdown: DINGTALK,
  wecom_markdown: WECOM,
};

// --- the token stream as a tree -------------------------------------------------------------------------

function tree(tokens) {
  const root = { token: null, children: [] };
  const stack = [root];
  for (const token of tokens) {
    if (token.nesting === 1) {
      const node = { token, children: [] };
      stack.at(-1).children.push(node);
      stack.push(node);
    } else if (token.nesting === -1) {
      stack.pop();
    } else {
      stack.at(-1).children.push({ token, children: [] });
    }
  }
  return root;
}

/** An image's alt: the text of its label, marks dropped. */
const plainInline = (children) =>
  (children || [])
    .map((c) =>
      c.type === 'text' || c.type === 'code_inline'
        ? c.content
        : c.type === 'softbreak' || c.type === 'hardbreak'
          ? '\n'
          : '',
    )
    .join('');

const MARK_TOKENS = new Set(['em_open', 'strong_open', 's_open', 'em_close', 'strong_close', 's_close']);

function inline(children, d) {
  const out = [''];
  const links = [];
  for (const child of children) {
    const kind = child.type;
    if (kind === 'text') out[out.length - 1] += d.esc(child.content);
    else if (kind === 'softbreak') out[out.length - 1] += '\n';
    else if (kind === 'hardbreak') out[out.length - 1] += d.hardbreak;
    else if (kind === 'code_inline') out[out.length - 1] += d.code(child.content);
    else if (MARK_TOKENS.has(kind)) {
      const cut = kind.lastIndexOf('_');
      const mark = kind.slice(0, cut);
      const opening = kind.slice(cut + 1) === 'open';
      out[out.length - 1] += Object.hasOwn(d.tags, mark) ? d.tags[mark][opening ? 0 : 1] : d.marks[mark];
    } else if (kind === 'link_open') {
      links.push([child.attrGet('href') || '', child.markup === 'autolink']);
      out.push('');
    } else if (kind === 'link_close') {
      const text = out.pop();
      const [href, auto] = links.pop();
      out[out.length - 1] += d.link(href, text, auto);
    } else if (kind === 'image') {
      out[out.length - 1] += d.image(child.attrGet('src') || '', plainInline(child.children));
    }
  }
  return out[0];
}

const blocks = (nodes, d, tight = false) => nodes.map((node) => block(node, d)).join(tight ? '\n' : '\n\n');

function block(node, d) {
  const { token } = node;
  const kind = token.type;
  if (kind === 'paragraph_open') return inline(node.children[0].token.children, d);
  if (kind === 'heading_open') return d.heading(Number(token.tag.slice(1)), inline(node.children[0].token.children, d));
  if (kind === 'bullet_list_open' || kind === 'ordered_list_open') return list(node, d);
  if (kind === 'blockquote_open') return d.quote(blocks(node.children, d));
  if (kind === 'fence' || kind === 'code_block') {
    const code = token.content.endsWith('\n') ? token.content.slice(0, -1) : token.content;
    return d.codeBlock(code, token.info.trim());
  }
  if (kind === 'hr') return d.hr;
  return ''; // a token the commonmark preset does not make
}

function list(node, d) {
  const ordered = node.token.type === 'ordered_list_open';
  const start = ordered ? Number(node.token.attrGet('start') || 1) : 1;
  // A tight list's paragraphs are hidden: its items stand on consecutive lines.
  const tight = node.children.some((item) =>
    item.children.some((c) => c.token.type === 'paragraph_open' && c.token.hidden),
  );
  const items = node.children.map((item, index) => {
    const marker = ordered ? `${start + index}.` : d.bullet;
    const body = blocks(item.children, d, tight);
    const indent = ' '.repeat(Array.from(marker).length + 1);
    const [first, ...rest] = body.split('\n');
    return [`${marker} ${first}`, ...rest.map((line) => (line ? indent + line : ''))].join('\n');
  });
  return items.join(tight ? '\n' : '\n\n');
}

// The token stream of the last source, parsed once for the dialect and the plain text a plan asks for
// (renderers only read it).
let last = null;

function tokensOf(source) {
  if (last === null || last.source !== source) last = { source, tokens: parser().parse(source, {}) };
  return last.tokens;
}

/** The Markdown `source` written in `dialect` (one of DIALECTS). */
function render(source, dialectName) {
  const md_ = parser();
  const tokens = tokensOf(source);
  if (dialectName === 'html') {
    const out = md_.renderer.render(tokens, md_.options, {});
    return out.endsWith('\n') ? out.slice(0, -1) : out;
  }
  return blocks(tree(tokens).children, LINE_DIALECTS[dialectName]);
}

/** A title (plain text, never Markdown) escaped so it reads as text in `dialect`. */
function renderTitle(title, dialectName) {
  if (dialectName === 'telegram_html' || dialectName === 'slack_mrkdwn' || dialectName === 'html') return html(title);
  if (dialectName === 'text') return title;
  return md(title);
}

module.exports = { FORMATS, DIALECTS, checkFormat, render, renderTitle };
