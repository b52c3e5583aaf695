'use strict';
// Turns a channel spec, its env and a message into the exact requests that would go on the wire.

const { ConfigError, invalidConfig, missingConfig } = require('./config');
const { runHook } = require('./hooks');
const { fit } = require('./overflow');
const { bodySize, cardContext, cardLimit, fitCard, takeCard } = require('./cards');
const { withPriority } = require('./priority');
const { REGISTRY, Redactor, envSecrets, proxySecrets, urlUserinfo } = require('./redact');
const crypto = require('node:crypto');
const { loadSettings } = require('./specs');
const { OMIT, render, renderTree } = require('./templates');
const { resolvePath } = require('./paths');
const { transportFor } = require('./transports');
const { appendQuery, encodeBody, normalizeUrl, pct, toJson } = require('./wire');

// Where `{{ token }}` renders in a request whose credential is fetched at send time: a per-process nonce
// of letters, digits and underscores, which no wire encoding changes and no message text can foresee.
const TOKEN_MARK = `__TOKEN_${crypto.randomBytes(16).toString('hex')}__`;

/**
 * One request as it goes on the wire (frozen). `tokenSlots`, set when a fetched token goes into it
 * (withToken): URL characters before `urlSplit` are the template's (normalizeUrl), the rest the appended
 * query (pct); `body` is the body's encoding (json, form, text, none) or `tree` (a body the transport
 * encodes itself: SMTP's mapping).
 */
function plannedRequest(channel, method, url, headers, body, step = 'send', proxy = null, tokenSlots = null) {
  return Object.freeze({ channel, step, method, url, headers: Object.freeze(headers), body, proxy, tokenSlots });
}

const replaceAll = (text, by) => text.split(TOKEN_MARK).join(by);

function fillTree(node, text) {
  if (typeof node === 'string') return replaceAll(node, text);
  if (Array.isArray(node)) return node.map((value) => fillTree(value, text));
  if (node !== null && typeof node === 'object')
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, fillTree(v, text)]));
  return node;
}

// How each body encoding writes the token; a multipart body never holds the mark (the planner refuses it).
const BODY_FORMS = {
  json: (token) => toJson(token).slice(1, -1),
  form: pct,
  text: String,
  tree: String,
  multipart: String,
};

/**
 * The planned request with `token` where the planner left its mark, encoded as each place is: the same
 * bytes as rendering the request with the token in the first place.
 */
function withToken(request, token) {
  const slots = request.tokenSlots;
  if (!slots) return request;
  const head = request.url.slice(0, slots.urlSplit);
  const tail = request.url.slice(slots.urlSplit);
  const headers = Object.fromEntries(
    Object.entries(request.headers).map(([name, value]) => [name, replaceAll(value, token)]),
  );
  const body =
    request.body === null || request.body === undefined
      ? request.body
      : fillTree(request.body, BODY_FORMS[slots.body](token));
  const url = replaceAll(head, normalizeUrl(token)) + replaceAll(tail, pct(token));
  const proxy = request.proxy ? replaceAll(request.proxy, token) : request.proxy;
  return plannedRequest(request.channel, request.method, url, headers, body, request.step, proxy, null);
}

/** The plan entry shape shared with Python's PlannedRequest.to_dict(): a fetched token as the placeholder. */
function requestToDict(request) {
  const shown = request.tokenSlots ? withToken(request, loadSettings().token_placeholder) : request;
  const out = {
    channel: shown.channel,
    step: shown.step,
    method: shown.method,
    url: shown.url,
    headers: { ...shown.headers },
    body: shown.body,
  };
  if (shown.proxy) out.proxy = shown.proxy;
  return out;
}

function renderMap(node, context) {
  if (!node) return {};
  if ('$ref' in node && Object.keys(node).length === 1) {
    const value = resolvePath(context, node.$ref) || {};
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [String(k), String(v)]));
  }
  const out = {};
  for (const [key, child] of Object.entries(node)) {
    const value = renderTree(child, context);
    if (value !== OMIT) out[key] = typeof value === 'string' ? value : String(value);
  }
  return out;
}

const hasHeader = (headers, name) => Object.keys(headers).some((k) => k.toLowerCase() === name.toLowerCase());

/** Renders one request template; `for_each` yields one request per item of a context list. */
function renderRequest(spec, request, context, step = 'send') {
  const transport = transportFor(spec.transport);
  const items = 'for_each' in request ? [...resolvePath(context, request.for_each)] : [undefined];
  return items.map((item) => {
    const ctx = item === undefined ? context : { ...context, item };
    const method = render(request.method, ctx).toUpperCase();
    const base = normalizeUrl(render(request.url, ctx));
    const url = appendQuery(base, renderMap(request.query, ctx));
    const headers = renderMap(request.headers, ctx);
    let bodyTree = 'body' in request ? renderTree(request.body, ctx) : null;
    if (bodyTree === OMIT) bodyTree = null;
    let body;
    let encoding = 'tree';
    if (transport.encodesBody) {
      encoding = render(request.encoding || (bodyTree !== null ? 'json' : 'none'), ctx);
      const [text, contentType] = encodeBody(encoding, bodyTree);
      body = text;
      if (contentType && !hasHeader(headers, 'Content-Type')) headers['Content-Type'] = contentType;
    } else {
      body = bodyTree;
    }
    const proxy = request.proxy ? render(request.proxy, ctx) : '';
    const slots = ctx.token === TOKEN_MARK ? tokenSlots(base.length, encoding, body) : null;
    return plannedRequest(spec.name, method, url, headers, body, step, proxy || null, slots);
  });
}

function tokenSlots(urlSplit, encoding, body) {
  if (encoding === 'multipart' && body.includes(TOKEN_MARK)) {
    // Its boundary is derived from the content: a token put in later would not match it.
    throw new Error('a fetched token cannot go into a multipart body');
  }
  return Object.freeze({ urlSplit, body: encoding });
}

/**
 * The template context, and the secrets the hook derived, masked like the env secrets: `secrets`
 * (derived from the settings alone, the same for every message) and `message_secrets` (this message's
 * own, such as a signature over its timestamp).
 */
function buildContext(spec, env, title, content, params, now) {
  let hookValues = {};
  let derived = [];
  let perMessage = [];
  if (spec.hook) {
    const hookInput = { env, title, content, now, params: { ...params }, data: spec.data };
    hookValues = { ...runHook(spec.hook, hookInput, spec.hook_params) };
    derived = (hookValues.secrets || []).map(String);
    perMessage = (hookValues.message_secrets || []).map(String);
    delete hookValues.secrets;
    delete hookValues.message_secrets;
  }
  // A fetched credential is put in at send time where TOKEN_MARK renders (withToken).
  const token = spec.token ? TOKEN_MARK : loadSettings().token_placeholder;
  // `markup`: the dialect title and content are written in (format=markdown: the spec's `markdown`); `text`:
  // the message as plain text, for a vendor that wants both (Matrix's body and formatted_body).
  const context = {
    title,
    content,
    env,
    params: { ...params },
    hook: hookValues,
    token,
    markup: 'text',
    text: { title, content },
  };
  return [context, derived, perMessage];
}

/**
 * The requests for one channel; a message over the spec's size limit becomes several parts (or one
 * truncated part), each planned alike, in order. With `editRef` (and a spec `edit` block) the message
 * edits the one that ref names instead, cut to one part. With markup 'markdown' each part's content is
 * converted to the spec's `markdown` dialect (markdown.js) after the cut, so a split never falls inside a
 * tag the conversion wrote.
 */
/**
 * `priority` (low, normal, high) changes what the spec's `priority` block says for that level
 * (priority.js); an edit keeps its own. `markup` 'markdown' converts each part (above). `proxies`: the
 * proxy settings' credentials (proxySecrets()), read once per message by a caller planning several
 * channels; null reads them here. Python's plan_channel.
 */
function planChannel(
  spec,
  env,
  title,
  content,
  params,
  now,
  overflow = 'split',
  editRef = null,
  priority = null,
  markup = 'text',
  proxies = null,
) {
  const editing = editRef !== null && editRef !== undefined && spec.edit !== null;
  const level = editing ? null : priority;
  const cardPost = spec.event ? withPriority(spec, env, spec.event.request, level)[1] : null;
  let post;
  [env, post] = withPriority(spec, env, spec.request, level);
  // Settings' secrets are long-lived: the process registry (the logger) holds them too.
  // HTTPS_PROXY's credentials too: the HTTP client reads it, and an error may quote the proxy URL.
  const secrets = [...envSecrets(spec.env, env), ...(proxies === null ? proxySecrets() : proxies)];
  REGISTRY.add(secrets);
  const redactor = new Redactor(secrets);
  const base = {
    spec,
    transport: transportFor(spec.transport),
    redactor,
    env,
    edits: editing,
    success: (editing && spec.edit.success) || spec.success,
    requests: [],
    requestParts: [],
    parts: 0,
    truncated: false,
    tokenRequest: null,
    tokenKey: null,
    error: null,
    errorStatus: 'config_error',
  };
  const made = (fields) => Object.freeze({ ...base, ...fields });
  if (editing) overflow = 'truncate';
  const missing = missingConfig(spec, env);
  if (missing.length) return made({ error: `${spec.name} is missing ${missing.join(', ')}` });
  const invalid = invalidConfig(spec, env);
  // A value the spec's type refuses: named here, not as the library error it would become.
  if (invalid.length) return made({ error: invalid.join('; ') }); // names and rules only, never a value
  let truncated = false;
  const [card, rest] = takeCard(params);
  params = rest;
  const carded = card !== null && spec.event !== null && spec.event !== undefined;
  try {
    const requests = [];
    const requestParts = [];
    let first = null;
    const renderPart = (partTitle, partContent, cardPart = null) => {
      let [shownTitle, shownContent] = [partTitle, partContent];
      const converting = markup === 'markdown' && cardPart === null; // a card escapes its own text
      const { render, renderTitle } = converting ? require('./markdown') : {};
      if (converting)
        [shownTitle, shownContent] = [renderTitle(partTitle, spec.markdown), render(partContent, spec.markdown)];
      const [context, derived, perMessage] = buildContext(spec, env, shownTitle, shownContent, params, now);
      if (converting) {
        context.markup = spec.markdown;
        context.text = { title: partTitle, content: render(partContent, 'text') };
      }
      if (editing) context.ref = editRef;
      let template;
      if (cardPart === null) {
        template = editing ? spec.edit.request : post;
      } else {
        Object.assign(context, cardContext(spec, cardPart));
        template = editing ? spec.event.edit_request : cardPost;
      }
      return [renderRequest(spec, template, context), context, derived, perMessage];
    };
    let parts;
    if (carded) {
      // The card's text for a hook (a signature, Matrix's transaction id): its title and message.
      const renderedCard = (one) => renderPart(one.title, one.message, one);
      const limit = cardLimit(spec);
      const unit = limit ? limit.unit : 'bytes';
      const template = editing ? spec.event.edit_request : cardPost;
      // The card's body before its encoding: form fields percent-encoded say nothing of its size.
      const cardSize = (one) => {
        const [context] = buildContext(spec, env, one.title, one.message, params, now);
        Object.assign(context, cardContext(spec, one), editing ? { ref: editRef } : {});
        const body = 'body' in template ? renderTree(template.body, context) : null;
        return bodySize(body === OMIT ? null : body, unit);
      };
      const [cards, cut] = fitCard(card, limit, overflow, cardSize);
      truncated = cut;
      parts = cards.map(renderedCard);
    } else {
      const fitted = fit(title, content, spec.limits.message, overflow);
      truncated = fitted.truncated;
      parts = fitted.parts.map(([partTitle, partContent]) => renderPart(partTitle, partContent));
    }
    for (const [index, [rendered, context, derived, perMessage]] of parts.entries()) {
      first = first || context;
      REGISTRY.add(derived);
      // A message's own secrets stay in its redactor: the registry must not grow with every message.
      redactor.add([...derived, ...perMessage]);
      requests.push(...rendered);
      requestParts.push(...rendered.map(() => index));
    }
    // A login the templates compose into a URL (SMTP's user:password@, a proxy's) travels as Basic auth
    // or SMTP AUTH PLAIN too: those compositions are secrets made here.
    const composed = requests.flatMap((r) => [...urlUserinfo(r.url), ...urlUserinfo(r.proxy || '')]);
    REGISTRY.add(composed);
    redactor.add(composed);
    let tokenRequest = null;
    let tokenKey = null;
    if (spec.token) {
      tokenRequest = renderRequest(
        spec,
        spec.token.request,
        { ...first, token: loadSettings().token_placeholder },
        'token',
      )[0];
      tokenKey = render(spec.token.cache_key, first);
    }
    return made({
      requests: Object.freeze(requests),
      requestParts: Object.freeze(requestParts),
      parts: parts.length,
      truncated,
      tokenRequest,
      tokenKey,
    });
  } catch (error) {
    // A broken hook or template fails this channel only.
    if (error instanceof ConfigError) return made({ truncated, error: redactor.text(error.message) });
    return made({ truncated, error: redactor.text(`${error.name}: ${error.message}`), errorStatus: 'internal_error' });
  }
}

module.exports = { planChannel, renderRequest, buildContext, requestToDict, withToken, TOKEN_MARK };
