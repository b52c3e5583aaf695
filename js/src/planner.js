'use strict';
// Turns a channel spec, its env and a message into the exact requests that would go on the wire.

const { ConfigError, invalidConfig, missingConfig } = require('./config');
const { runHook } = require('./hooks');
const { fit } = require('./overflow');
const { REGISTRY, Redactor, envSecrets, proxySecrets, urlUserinfo } = require('./redact');
const { loadSettings } = require('./specs');
const { OMIT, render, renderTree } = require('./templates');
const { resolvePath } = require('./paths');
const { appendQuery, encodeBody, normalizeUrl } = require('./wire');

function plannedRequest(channel, method, url, headers, body, step = 'send', proxy = null) {
  return { channel, step, method, url, headers, body, proxy };
}

/** The plan entry shape shared with Python's PlannedRequest.to_dict(). */
function requestToDict(request) {
  const out = {
    channel: request.channel,
    step: request.step,
    method: request.method,
    url: request.url,
    headers: { ...request.headers },
    body: request.body,
  };
  if (request.proxy) out.proxy = request.proxy;
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
  const items = 'for_each' in request ? [...resolvePath(context, request.for_each)] : [undefined];
  return items.map((item) => {
    const ctx = item === undefined ? context : { ...context, item };
    const method = render(request.method, ctx).toUpperCase();
    let url = normalizeUrl(render(request.url, ctx));
    url = appendQuery(url, renderMap(request.query, ctx));
    const headers = renderMap(request.headers, ctx);
    let bodyTree = 'body' in request ? renderTree(request.body, ctx) : null;
    if (bodyTree === OMIT) bodyTree = null;
    let body;
    if (spec.transport === 'http') {
      const encoding = render(request.encoding || (bodyTree !== null ? 'json' : 'none'), ctx);
      const [text, contentType] = encodeBody(encoding, bodyTree);
      body = text;
      if (contentType && !hasHeader(headers, 'Content-Type')) headers['Content-Type'] = contentType;
    } else {
      body = bodyTree;
    }
    const proxy = request.proxy ? render(request.proxy, ctx) : '';
    return plannedRequest(spec.name, method, url, headers, body, step, proxy || null);
  });
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
  const context = { title, content, env, params: { ...params }, hook: hookValues, token: loadSettings().token_placeholder };
  return [context, derived, perMessage];
}

/**
 * The requests for one channel; a message over the spec's size limit becomes several parts (or one
 * truncated part), each planned alike, in order. With `editRef` (and a spec `edit` block) the message
 * edits the one that ref names instead, cut to one part.
 */
function planChannel(spec, env, title, content, params, now, overflow = 'split', editRef = null) {
  // Settings' secrets are long-lived: the process registry (the logger) holds them too.
  // HTTPS_PROXY's credentials too: the HTTP client reads it, and an error may quote the proxy URL.
  const secrets = [...envSecrets(spec.env, env), ...proxySecrets()];
  REGISTRY.add(secrets);
  const redactor = new Redactor(secrets);
  // attempts: requests made so far, counted as they happen (a hung channel still reports them).
  // context: the first part's (it holds the env, secrets included); partContexts: one per part, in order.
  // requestTemplate, success: an edit's (spec `edit`), else null. replyTexts: bodies of the vendor's
  // successful replies, in order (the first post's names the message to edit). requestParts: the part
  // (index into partContexts) each request carries; partsSent: parts whose requests have started, counted
  // as they happen; truncated: content was cut to fit (overflow.fit).
  const plan = {
    spec, context: {}, partContexts: [], redactor, tokenRequest: null, requests: [], error: null, errorStatus: 'config_error', attempts: 0,
    requestTemplate: null, success: null, replyTexts: [], requestParts: [], partsSent: 0, truncated: false,
  };
  const editing = editRef !== null && editRef !== undefined && spec.edit !== null;
  if (editing) {
    plan.requestTemplate = spec.edit.request;
    plan.success = spec.edit.success || null;
    overflow = 'truncate';
  }
  const missing = missingConfig(spec, env);
  if (missing.length) {
    plan.error = `${spec.name} is missing ${missing.join(', ')}`;
    return plan;
  }
  const invalid = invalidConfig(spec, env);
  if (invalid.length) {
    // A value the spec's type refuses: named here, not as the library error it would become.
    plan.error = invalid.join('; '); // names and rules only, never a value
    return plan;
  }
  try {
    const fitted = fit(title, content, spec.limits.message, overflow);
    plan.truncated = fitted.truncated;
    for (const [index, [partTitle, partContent]] of fitted.parts.entries()) {
      const [context, derived, perMessage] = buildContext(spec, env, partTitle, partContent, params, now);
      if (editing) context.ref = editRef;
      REGISTRY.add(derived);
      // A message's own secrets stay in its redactor: the registry must not grow with every message.
      redactor.add([...derived, ...perMessage]);
      plan.partContexts.push(context);
      const requests = renderRequest(spec, plan.requestTemplate || spec.request, context);
      plan.requests.push(...requests);
      plan.requestParts.push(...requests.map(() => index));
    }
    // A login the templates compose into a URL (SMTP's user:password@, a proxy's) travels as Basic auth
    // or SMTP AUTH PLAIN too: those compositions are secrets made here.
    const composed = plan.requests.flatMap((r) => [...urlUserinfo(r.url), ...urlUserinfo(r.proxy || '')]);
    REGISTRY.add(composed);
    redactor.add(composed);
    plan.context = plan.partContexts[0];
    if (spec.token) plan.tokenRequest = renderRequest(spec, spec.token.request, plan.context, 'token')[0];
  } catch (error) {
    if (error instanceof ConfigError) {
      plan.error = redactor.text(error.message);
    } else {
      // A broken hook or template fails this channel only.
      plan.error = redactor.text(`${error.name}: ${error.message}`);
      plan.errorStatus = 'internal_error';
    }
  }
  return plan;
}

module.exports = { planChannel, renderRequest, buildContext, requestToDict };
