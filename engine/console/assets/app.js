// The hub's operators' console. Everything it shows and does goes through the
// hub's /v1 API, signed in with a console session cookie: the page never holds
// an API key after signing in, and it sends the session's CSRF token with every
// change. Pages are built with DOM calls, never from HTML strings, so nothing a
// provider or a tenant wrote can run as script.

const state = { session: null, connectors: null };

// --- API ---------------------------------------------------------------------

class APIError extends Error {
  constructor(message, status, problem) {
    super(message);
    this.status = status;
    this.problem = problem;
  }
}

// problemText turns an RFC 9457 problem into one readable sentence, with the
// offending fields.
function problemText(problem, res) {
  if (!problem || typeof problem !== 'object') return `The hub answered ${res.status} ${res.statusText}.`;
  let text = problem.detail || problem.title || `The hub answered ${res.status}.`;
  if (Array.isArray(problem.errors) && problem.errors.length) {
    text += ' ' + problem.errors.map((e) => `${e.pointer || e.name || ''}: ${e.message || e.reason || ''}`.trim()).join('; ');
  }
  if (problem.request_id) text += ` (request ${problem.request_id})`;
  return text;
}

async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && state.session) headers['X-CSRF-Token'] = state.session.csrf_token;
  const res = await fetch(path, {
    method, headers, credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status === 204) return null;
  const data = await res.json().catch(() => null);
  if (!res.ok) {
    if (res.status === 401 && state.session && !path.startsWith('/v1/console/')) {
      // The session ended under us (expired, signed out elsewhere, key revoked).
      state.session = null;
      showSignIn('Your session has ended; sign in again.');
    }
    throw new APIError(problemText(data, res), res.status, data);
  }
  return data;
}

// --- DOM helpers ----------------------------------------------------------------

// h builds an element: h('a', {href: '#'}, 'text', child, ...). Attributes
// starting with "on" are event listeners; false and null attributes are left out.
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === false || v === null || v === undefined) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const main = () => document.getElementById('main');

// show replaces the page's content, names it in the title and moves focus to
// it, so keyboard and screen-reader users land on the new page.
function show(title, ...content) {
  document.title = `${title} · Hub console`;
  const m = main();
  m.replaceChildren(h('h1', {}, title), ...content.flat().filter((c) => c !== null && c !== undefined && c !== false));
  m.focus();
}

function say(text) {
  document.getElementById('status').textContent = text;
}

function errorBox(err) {
  return h('p', { class: 'error', role: 'alert' }, err instanceof Error ? err.message : String(err));
}

// externalLink links to an http(s) address and shows anything else as text:
// a manifest's URLs are data, and a javascript: one must not become a link.
function externalLink(url) {
  return /^https?:\/\//i.test(url) ? h('a', { href: url, rel: 'noreferrer noopener', target: '_blank' }, url) : h('span', {}, url);
}

// dataTable lays rows out under column headers, scrolling sideways on its own
// when wider than the screen; a caption, when given, names it. body is the
// rows, or a tbody the caller fills later.
function dataTable(caption, columns, body) {
  return h('div', { class: 'table-wrap' }, h('table', {},
    caption ? h('caption', { class: 'muted' }, caption) : null,
    h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col' }, c)))),
    body instanceof Node ? body : h('tbody', {}, body)));
}

// row is a table row of one cell per argument (a cell may be a list of parts).
function row(...cells) {
  return h('tr', {}, cells.map((c) => h('td', {}, c)));
}

function stateText(s) {
  return h('span', { class: `state-${s}` }, s.replace('_', ' '));
}

// --- Sign-in ----------------------------------------------------------------------

function showSignIn(message) {
  document.getElementById('nav').hidden = true;
  document.getElementById('who').hidden = true;
  const input = h('input', { id: 'api-key', name: 'api_key', type: 'password', autocomplete: 'off', required: true, spellcheck: 'false' });
  const problem = h('div', {});
  const button = h('button', { type: 'submit' }, 'Sign in');
  const form = h('form', {
    class: 'stack', 'aria-describedby': 'sign-in-help',
    onsubmit: async (ev) => {
      ev.preventDefault();
      button.disabled = true;
      problem.replaceChildren();
      try {
        state.session = await api('POST', '/v1/console/sessions', { api_key: input.value.trim() });
        input.value = '';
        signedIn();
      } catch (err) {
        problem.replaceChildren(errorBox(err));
        input.focus();
      } finally {
        button.disabled = false;
      }
    },
  },
  h('label', { for: 'api-key' }, 'API key',
    h('span', { class: 'hint' }, "A tenant's key (hub_sk_…) sees that tenant; an operator key (hub_op_…) manages tenants.")),
  input, problem, button);
  show('Sign in', message ? h('p', { class: 'error', role: 'alert' }, message) : null,
    h('p', { id: 'sign-in-help', class: 'muted' }, 'The key is exchanged for a session cookie and not kept by this page.'), form);
  input.focus();
}

function signedIn() {
  const s = state.session;
  document.getElementById('nav').hidden = false;
  document.getElementById('who').hidden = false;
  // Shipments and webhooks belong to tenants: an operator's session has neither.
  for (const a of document.querySelectorAll('#nav .tenant-only')) a.parentElement.hidden = s.operator;
  const who = document.getElementById('who-name');
  who.textContent = s.operator ? `Operator · ${s.key.name}` : `${s.tenant_id} · ${s.key.name}`;
  if (!s.operator) {
    // The tenant's name reads better than its id; the id stays in the tooltip.
    api('GET', `/v1/tenants/${encodeURIComponent(s.tenant_id)}`).then((t) => {
      who.textContent = `${t.name} · ${s.key.name}`;
      who.title = s.tenant_id;
    }, () => {});
  }
  if (!location.hash || location.hash === '#/' || location.hash === '#/sign-in') location.hash = '#/overview';
  else route();
}

async function signOut() {
  stopOverviewStream();
  try {
    await api('DELETE', '/v1/console/session');
  } catch (err) {
    // Already ended: signing out is done either way.
  }
  state.session = null;
  state.connectors = null;
  say('Signed out.');
  location.hash = '#/sign-in';
  showSignIn();
}

// --- Connectors --------------------------------------------------------------------

async function loadConnectors() {
  if (!state.connectors) state.connectors = await api('GET', '/v1/connectors');
  return state.connectors;
}

function options(values, all) {
  return [h('option', { value: '' }, all), ...[...new Set(values)].filter(Boolean).sort().map((v) => h('option', { value: v }, v))];
}

function select(id, label, values, all, value) {
  const el = h('select', { id }, options(values, all));
  el.value = value || '';
  return [h('label', { for: id }, label), el];
}

async function showConnectors(params) {
  let list;
  try {
    list = await loadConnectors();
  } catch (err) {
    show('Connectors', errorBox(err));
    return;
  }
  const q = h('input', { id: 'q', type: 'search', value: params.get('q') || '', placeholder: 'name, id or description', autocomplete: 'off' });
  const [catLabel, cat] = select('category', 'Category', list.map((c) => c.category), 'All categories', params.get('category'));
  const [regLabel, reg] = select('region', 'Region', list.map((c) => c.region), 'All regions', params.get('region'));
  const [opLabel, op] = select('operation', 'Operation', list.flatMap((c) => c.operations.map((o) => o.name)), 'All operations', params.get('operation'));
  const [protoLabel, proto] = select('protocol', 'Protocol', list.flatMap((c) => c.protocols || []), 'All protocols', params.get('protocol'));
  const count = h('p', { id: 'count', role: 'status', 'aria-live': 'polite' });
  const body = h('tbody');
  const table = dataTable('Connectors matching the filters', ['Connector', 'Category', 'Region', 'Operations', 'Process'], body);
  const render = () => {
    const text = q.value.trim().toLowerCase();
    const rows = list.filter((c) =>
      (!text || [c.id, c.name, c.description || ''].some((s) => s.toLowerCase().includes(text))) &&
      (!cat.value || c.category === cat.value) && (!reg.value || c.region === reg.value) &&
      (!op.value || c.operations.some((o) => o.name === op.value)) &&
      (!proto.value || (c.protocols || []).includes(proto.value)));
    body.replaceChildren(...rows.map((c) => row(
      [h('a', { href: `#/connectors/${encodeURIComponent(c.id)}` }, c.name), h('br'), h('span', { class: 'muted' }, c.id)],
      c.category, c.region || '—', h('ul', { class: 'tags' }, c.operations.map((o) => h('li', {}, o.name))), stateText(c.state))));
    count.textContent = rows.length === 1 ? '1 connector' : `${rows.length} connectors`;
    if (!rows.length) body.append(h('tr', {}, h('td', { colspan: 5 }, 'No connector matches these filters.')));
    // Keep the filters in the address, so a search can be shared and survives a reload.
    const p = new URLSearchParams();
    for (const [k, el] of [['q', q], ['category', cat], ['region', reg], ['operation', op], ['protocol', proto]]) if (el.value) p.set(k, el.value);
    history.replaceState(null, '', `#/connectors${p.toString() ? '?' + p : ''}`);
  };
  for (const el of [q, cat, reg, op, proto]) el.addEventListener('input', render);
  show('Connectors',
    h('form', { class: 'filters', role: 'search', onsubmit: (ev) => ev.preventDefault() },
      h('div', {}, h('label', { for: 'q' }, 'Search'), q),
      h('div', {}, catLabel, cat), h('div', {}, regLabel, reg), h('div', {}, opLabel, op), h('div', {}, protoLabel, proto)),
    count, table);
  render();
}

// policyFacts lists the call policy the manifest declares; what it leaves out
// the engine's defaults (or the hub's configuration) decide.
function policyFacts(p) {
  const rows = Object.entries(p || {}).filter(([, v]) => v !== '' && v !== 0 && v !== null && v !== undefined)
    .flatMap(([k, v]) => [h('dt', {}, k.replaceAll('_', ' ')), h('dd', {}, String(v))]);
  return rows.length ? h('dl', { class: 'facts' }, rows) : h('p', { class: 'muted' }, "The engine's defaults.");
}

async function showConnector(id) {
  let c;
  try {
    c = (await loadConnectors()).find((x) => x.id === id);
  } catch (err) {
    show('Connector', errorBox(err));
    return;
  }
  if (!c) {
    show('Connector not found', h('p', {}, `No connector ${id}. `, h('a', { href: '#/connectors' }, 'All connectors')));
    return;
  }
  const healthBox = h('div', { id: 'health', 'aria-live': 'polite' });
  const accountsBox = h('div', {});
  show(c.name,
    h('p', {}, h('a', { href: '#/connectors' }, '← All connectors')),
    c.description ? h('p', {}, c.description) : null,
    h('dl', { class: 'facts' },
      h('dt', {}, 'Id'), h('dd', {}, c.id), h('dt', {}, 'Category'), h('dd', {}, c.category),
      h('dt', {}, 'Region'), h('dd', {}, c.region || '—'), h('dt', {}, 'Protocols'), h('dd', {}, (c.protocols || []).join(', ') || '—'),
      h('dt', {}, 'Version'), h('dd', {}, c.version),
      h('dt', {}, 'Documentation'), h('dd', {}, c.docs ? externalLink(c.docs) : '—'),
      h('dt', {}, 'Process'), h('dd', {}, stateText(c.state), c.restarts ? ` · ${c.restarts} restarts` : '', c.last_error ? ` · last exit: ${c.last_error}` : '')),
    h('h2', {}, 'Operations'),
    dataTable(null, ['Operation', 'Safe to repeat', 'Takes an Idempotency-Key'],
      c.operations.map((o) => row(o.name, o.idempotent ? 'yes' : 'no', o.creates ? 'yes' : 'no'))),
    h('h2', {}, 'Call policy'), policyFacts(c.resilience),
    h('h2', {}, 'Sources'),
    c.sources && c.sources.length
      ? h('details', { class: 'sources' }, h('summary', {}, `${c.sources.length} documents the connector's facts come from`),
        h('ul', {}, c.sources.map((s) => h('li', {}, externalLink(s.url),
          s.covers ? ` — ${s.covers}` : '', s.confidence ? ` (${s.confidence} confidence)` : ''))))
      : h('p', { class: 'muted' }, 'No sources listed.'),
    h('h2', {}, 'Health'), healthBox,
    h('h2', {}, 'Accounts'), accountsBox);
  checkHealth(c, healthBox, '');
  if (state.session.operator) {
    accountsBox.replaceChildren(h('p', { class: 'muted' }, "Accounts belong to tenants: sign in with a tenant's key to see and add them."));
  } else {
    showAccounts(c, accountsBox, healthBox);
  }
}

async function checkHealth(c, box, accountID) {
  box.replaceChildren(h('p', { class: 'muted' }, accountID ? `Checking the connection of account ${accountID}…` : 'Checking the connector…'));
  try {
    const q = accountID ? `?account=${encodeURIComponent(accountID)}` : '';
    const v = await api('GET', `/v1/connectors/${encodeURIComponent(c.id)}/health${q}`);
    const facts = [h('dt', {}, 'Result'), h('dd', {}, h('span', { class: v.healthy ? 'ok' : 'bad' }, v.healthy ? 'healthy' : 'not healthy')),
      h('dt', {}, 'Process'), h('dd', {}, stateText(v.state))];
    if (accountID) facts.push(h('dt', {}, 'Account'), h('dd', {}, accountID));
    if (accountID && !v.check_supported) facts.push(h('dt', {}, 'Connection check'), h('dd', {}, 'this connector has no check of its own; the process answered'));
    if (v.check_error) facts.push(h('dt', {}, 'Problem'), h('dd', {}, v.check_error.detail || v.check_error.title));
    box.replaceChildren(h('dl', { class: 'facts' }, facts));
  } catch (err) {
    box.replaceChildren(errorBox(err));
  }
}

async function showAccounts(c, box, healthBox) {
  let accounts;
  try {
    accounts = await api('GET', `/v1/accounts?connector=${encodeURIComponent(c.id)}`);
  } catch (err) {
    box.replaceChildren(errorBox(err));
    return;
  }
  const list = accounts.length
    ? dataTable(null, ['Name', 'Environment', 'Id', 'Connection'], accounts.map((a) => row(a.name, a.environment, a.id,
      h('button', { type: 'button', class: 'secondary', 'aria-label': `Check connection of ${a.name}`,
        onclick: () => checkHealth(c, healthBox, a.id) }, 'Check connection'))))
    : h('p', { class: 'muted' }, 'No account of this connector yet.');
  box.replaceChildren(list, h('h2', {}, 'Add an account'), accountForm(c, () => showAccounts(c, box, healthBox)));
}

// accountForm is generated from the connector's account schema: credentials
// are password fields the console never shows again, settings plain text.
function accountForm(c, done) {
  const schema = c.account || {};
  const envs = Object.keys(schema.environments || {}).sort();
  const field = (kind, f) => {
    const id = `${kind}-${f.name}`;
    return h('div', {},
      h('label', { for: id }, f.name, f.required ? ' (required)' : '', f.description ? h('span', { class: 'hint' }, f.description) : null),
      h('input', { id, name: `${kind}.${f.name}`, type: kind === 'credentials' ? 'password' : 'text', required: !!f.required,
        autocomplete: kind === 'credentials' ? 'new-password' : 'off', spellcheck: 'false' }));
  };
  const problem = h('div', {});
  const button = h('button', { type: 'submit' }, 'Create account');
  const form = h('form', {
    class: 'stack', 'aria-label': `Add a ${c.name} account`,
    onsubmit: async (ev) => {
      ev.preventDefault();
      const data = new FormData(form);
      const body = { connector_id: c.id, name: String(data.get('name')).trim(), environment: String(data.get('environment')), credentials: {}, settings: {} };
      const base = String(data.get('base_url') || '').trim();
      if (base) body.base_url = base;
      for (const [k, v] of data.entries()) {
        const [kind, name] = k.split('.', 2);
        if ((kind === 'credentials' || kind === 'settings') && String(v) !== '') body[kind][name] = String(v);
      }
      button.disabled = true;
      problem.replaceChildren();
      try {
        const a = await api('POST', '/v1/accounts', body);
        form.reset();
        say(`Account ${a.name} created (${a.id}). Its credentials are stored encrypted and are never shown again.`);
        done();
      } catch (err) {
        problem.replaceChildren(errorBox(err));
      } finally {
        button.disabled = false;
      }
    },
  },
  h('div', {}, h('label', { for: 'account-name' }, 'Name'), h('input', { id: 'account-name', name: 'name', required: true, autocomplete: 'off' })),
  h('div', {}, h('label', { for: 'account-env' }, 'Environment'),
    h('select', { id: 'account-env', name: 'environment', required: true }, envs.map((e) => h('option', { value: e }, `${e} (${schema.environments[e]})`)))),
  h('div', {}, h('label', { for: 'account-base' }, 'Base URL', h('span', { class: 'hint' }, "Optional: overrides the environment's address.")),
    h('input', { id: 'account-base', name: 'base_url', type: 'url', autocomplete: 'off' })),
  (schema.credentials || []).map((f) => field('credentials', f)),
  (schema.settings || []).map((f) => field('settings', f)),
  problem, button);
  return form;
}

// --- Shipments ------------------------------------------------------------------------

function when(t) {
  return t ? new Date(t).toLocaleString() : '—';
}

function whereText(l) {
  if (!l) return '—';
  return [l.facility, l.city, l.state, l.country_code].filter(Boolean).join(', ') || '—';
}

async function showShipments(params) {
  const q = h('input', { id: 'ship-q', name: 'q', required: true, autocomplete: 'off', spellcheck: 'false', value: params.get('q') || '' });
  const results = h('div', { 'aria-live': 'polite' });
  const timeline = h('section', { id: 'timeline', 'aria-live': 'polite' });
  const find = async () => {
    const text = q.value.trim();
    if (!text) return;
    history.replaceState(null, '', `#/shipments?q=${encodeURIComponent(text)}`);
    results.replaceChildren(h('p', { class: 'muted' }, 'Searching…'));
    timeline.replaceChildren();
    try {
      const found = await api('GET', `/v1/shipments?q=${encodeURIComponent(text)}`);
      results.replaceChildren(found.length
        ? dataTable(`${found.length === 1 ? '1 shipment' : found.length + ' shipments'} for ${text}`,
          ['Tracking number', 'Connector', 'Reference', 'Status', 'Last scan', 'Next poll', ''],
          found.map((sh) => row(sh.tracking_number, sh.connector, sh.reference || '—',
            [sh.status, sh.sub_status ? ` (${sh.sub_status})` : ''], when(sh.last_event_at), when(sh.next_poll_at),
            h('button', { type: 'button', 'aria-label': `Track now ${sh.tracking_number}`, onclick: () => track(sh, timeline) }, 'Track now'))))
        : h('p', {}, `No shipment has the tracking number or reference ${text}.`));
    } catch (err) {
      results.replaceChildren(errorBox(err));
    }
  };
  show('Shipments',
    h('form', { class: 'stack', role: 'search', onsubmit: (ev) => { ev.preventDefault(); find(); } },
      h('label', { for: 'ship-q' }, 'Tracking number or reference', h('span', { class: 'hint' }, 'Exactly as the carrier or the shipper wrote it.')),
      q, h('button', { type: 'submit' }, 'Find')),
    results, timeline);
  if (q.value) find();
}

// track asks the carrier now (the hub's track operation, with the shipment's
// account) and shows the canonical timeline with the provider's own codes.
async function track(sh, box) {
  box.replaceChildren(h('p', { class: 'muted' }, `Tracking ${sh.tracking_number} with ${sh.connector}…`));
  try {
    const ans = await api('POST', `/v1/connectors/${encodeURIComponent(sh.connector)}/track?account=${encodeURIComponent(sh.account)}`,
      { tracking_numbers: [sh.tracking_number] });
    const r = (ans.results || []).find((x) => x.tracking_number === sh.tracking_number) || (ans.results || [])[0];
    if (!r) {
      box.replaceChildren(h('p', {}, 'The carrier answered with no result for this number.'));
      return;
    }
    if (r.error) {
      box.replaceChildren(h('h2', {}, `Timeline of ${sh.tracking_number}`), errorBox(r.error.message || r.error.code || 'The carrier refused this number.'));
      return;
    }
    const evs = [...(r.events || [])].sort((a, b) => (a.time < b.time ? 1 : -1));
    box.replaceChildren(
      h('h2', {}, `Timeline of ${sh.tracking_number}`),
      h('dl', { class: 'facts' },
        h('dt', {}, 'Status'), h('dd', {}, r.status, r.sub_status ? ` (${r.sub_status})` : ''),
        h('dt', {}, 'Provider code'), h('dd', {}, h('code', {}, r.raw_code || '—')),
        h('dt', {}, 'Provider text'), h('dd', {}, r.raw_text || '—'),
        h('dt', {}, 'Where'), h('dd', {}, whereText(r.location)),
        r.estimated_delivery ? [h('dt', {}, 'Expected'), h('dd', {}, when(r.estimated_delivery))] : null,
        h('dt', {}, 'Tracked'), h('dd', {}, new Date().toLocaleString())),
      evs.length
        ? dataTable('Scans, newest first', ['Time', 'Status', 'Provider code', 'Provider text', 'Where'],
          evs.map((e) => row(when(e.time), [e.status, e.sub_status ? ` (${e.sub_status})` : ''],
            h('code', {}, e.raw_code || '—'), e.raw_text || '—', whereText(e.location))))
        : h('p', { class: 'muted' }, 'The carrier reports no scans yet.'));
    say(`Tracked ${sh.tracking_number}: ${r.status}.`);
    box.append(exchangesSection(sh.connector, sh.account));
  } catch (err) {
    box.replaceChildren(errorBox(err));
  }
}

// exchangesSection shows the account's latest exchanges with the provider,
// as the connector keeps them, secrets redacted by the connector.
function exchangesSection(connector, account) {
  const list = h('div', { id: 'exchanges', 'aria-live': 'polite' });
  const headers = (hs) => Object.entries(hs || {}).map(([k, v]) => `${k}: ${v}`).join('\n');
  const load = async () => {
    list.replaceChildren(h('p', { class: 'muted' }, 'Loading…'));
    try {
      const xs = await api('GET', `/v1/connectors/${encodeURIComponent(connector)}/exchanges?account=${encodeURIComponent(account)}`);
      list.replaceChildren(xs.length
        ? h('ul', { class: 'exchanges' }, xs.map((x) => h('li', {}, h('details', {},
          h('summary', {}, `${when(x.at)} · ${x.operation || ''} · ${x.method} ${x.url} → ${x.status ? 'HTTP ' + x.status : x.error || 'no answer'} (${x.duration_ms} ms)`),
          h('h3', {}, 'Request'), h('pre', { class: 'excerpt' }, headers(x.request_headers) + (x.request_body ? '\n\n' + x.request_body : '')),
          h('h3', {}, 'Answer'), h('pre', { class: 'excerpt' }, headers(x.response_headers) + (x.response_body ? '\n\n' + x.response_body : '')),
          x.truncated ? h('p', { class: 'muted' }, 'Bodies are cut at 4 KiB.') : null))))
        : h('p', { class: 'muted' }, 'The connector keeps no exchange of this account yet (it keeps them in memory, the latest 20).'));
    } catch (err) {
      list.replaceChildren(errorBox(err));
    }
  };
  return h('section', { 'aria-labelledby': 'exchanges-title' },
    h('h2', { id: 'exchanges-title' }, 'Recent exchanges with the provider'),
    h('p', { class: 'muted' }, 'What the connector sent and what came back, with credentials, tokens and signatures redacted before they leave it.'),
    h('button', { type: 'button', class: 'secondary', onclick: load }, 'Show exchanges'), list);
}

// --- Webhooks -------------------------------------------------------------------------

function secretNotice(what, secret) {
  return h('div', { class: 'status', role: 'alert' },
    h('p', {}, `${what} Copy the signing secret now: it is not shown again.`),
    h('p', {}, h('code', { id: 'new-secret' }, secret)));
}

function endpointHealth(e) {
  if (!e.enabled) return h('span', { class: 'bad' }, `disabled${e.disabled_reason ? ': ' + e.disabled_reason : ''}`);
  if (e.failing_since) return h('span', { class: 'bad' }, `failing since ${when(e.failing_since)}`);
  return h('span', { class: 'ok' }, 'delivering');
}

async function showWebhooks() {
  let list;
  try {
    list = await api('GET', '/v1/webhooks/endpoints');
  } catch (err) {
    show('Webhooks', errorBox(err));
    return;
  }
  const notice = h('div', {});
  const problem = h('div', {});
  const form = h('form', {
    class: 'stack', 'aria-label': 'Add a webhook endpoint',
    onsubmit: async (ev) => {
      ev.preventDefault();
      const data = new FormData(form);
      const body = { url: String(data.get('url')).trim() };
      const types = String(data.get('event_types') || '').split(',').map((x) => x.trim()).filter(Boolean);
      if (types.length) body.event_types = types;
      const desc = String(data.get('description') || '').trim();
      if (desc) body.description = desc;
      problem.replaceChildren();
      try {
        const created = await api('POST', '/v1/webhooks/endpoints', body);
        await showWebhooks();
        main().prepend(secretNotice(`Endpoint ${created.url} added.`, created.secret));
      } catch (err) {
        problem.replaceChildren(errorBox(err));
      }
    },
  },
  h('div', {}, h('label', { for: 'hook-url' }, 'URL', h('span', { class: 'hint' }, 'Where the hub POSTs signed events (Standard Webhooks).')),
    h('input', { id: 'hook-url', name: 'url', type: 'url', required: true, autocomplete: 'off' })),
  h('div', {}, h('label', { for: 'hook-types' }, 'Event types', h('span', { class: 'hint' }, 'Comma-separated, such as shipment.* or eway_bill.expiring; empty for all.')),
    h('input', { id: 'hook-types', name: 'event_types', autocomplete: 'off' })),
  h('div', {}, h('label', { for: 'hook-desc' }, 'Description'), h('input', { id: 'hook-desc', name: 'description', autocomplete: 'off' })),
  problem, h('button', { type: 'submit' }, 'Add endpoint'));
  show('Webhooks', notice,
    list.length
      ? dataTable('Endpoints', ['Endpoint', 'Health', 'Events'], list.map((e) => row(
        [h('a', { href: `#/webhooks/${encodeURIComponent(e.id)}` }, e.url), e.description ? [h('br'), h('span', { class: 'muted' }, e.description)] : null],
        endpointHealth(e), (e.event_types || []).join(', ') || 'all')))
      : h('p', {}, 'No webhook endpoint yet: events are kept in the outbox until one is added.'),
    h('h2', {}, 'Add an endpoint'), form);
}

async function showEndpoint(id) {
  const path = `/v1/webhooks/endpoints/${encodeURIComponent(id)}`;
  let e;
  try {
    e = await api('GET', path);
  } catch (err) {
    show('Webhook endpoint', h('p', {}, h('a', { href: '#/webhooks' }, '← All endpoints')), errorBox(err));
    return;
  }
  const notice = h('div', {});
  const attempts = h('div', { id: 'attempts', 'aria-live': 'polite' });
  const loadAttempts = async () => {
    try {
      const list = await api('GET', `${path}/attempts?limit=50`);
      attempts.replaceChildren(list.length
        ? dataTable('Delivery attempts, newest first', ['When', 'Event', 'Attempt', 'Answer', 'Took', 'Error or answer excerpt', 'Sent'],
          list.map((a) => row(when(a.at), a.event_id, a.attempt,
            h('span', { class: a.status >= 200 && a.status < 300 ? 'ok' : 'bad' }, a.status ? `HTTP ${a.status}` : 'no answer'),
            `${a.duration_ms} ms`, a.error || a.response || '—',
            a.request ? h('details', {}, h('summary', {}, 'Request'), h('pre', { class: 'excerpt' }, a.request)) : '—')))
        : h('p', { class: 'muted' }, 'No delivery attempt yet.'));
    } catch (err) {
      attempts.replaceChildren(errorBox(err));
    }
  };
  const toggle = h('button', { type: 'button', class: 'secondary', onclick: async () => {
    try {
      await api('PATCH', path, { enabled: !e.enabled });
      say(e.enabled ? 'Endpoint disabled: its deliveries wait.' : 'Endpoint enabled: its pending deliveries resume.');
      showEndpoint(id);
    } catch (err) {
      notice.replaceChildren(errorBox(err));
    }
  } }, e.enabled ? 'Disable' : 'Enable');
  const rotate = h('button', { type: 'button', class: 'secondary', onclick: async () => {
    try {
      const r = await api('POST', `${path}/rotate-secret`, {});
      notice.replaceChildren(secretNotice('Secret rotated; the old one keeps signing beside it for a day.', r.secret));
    } catch (err) {
      notice.replaceChildren(errorBox(err));
    }
  } }, 'Rotate secret');
  const test = h('button', { type: 'button', class: 'secondary', onclick: async () => {
    try {
      const q = await api('POST', `${path}/test`);
      notice.replaceChildren(h('p', { class: 'status', role: 'status', id: 'test-queued' },
        `Test event ${q.event_id} queued; its attempt shows below once sent.`));
      setTimeout(loadAttempts, 1000);
    } catch (err) {
      notice.replaceChildren(errorBox(err));
    }
  } }, 'Send a test event');
  const remove = h('button', { type: 'button', class: 'secondary', onclick: async () => {
    if (!window.confirm(`Delete ${e.url} with its deliveries and attempt log?`)) return;
    try {
      await api('DELETE', path);
      say(`Endpoint ${e.url} deleted.`);
      location.hash = '#/webhooks';
    } catch (err) {
      notice.replaceChildren(errorBox(err));
    }
  } }, 'Delete');
  show(e.url,
    h('p', {}, h('a', { href: '#/webhooks' }, '← All endpoints')), notice,
    h('dl', { class: 'facts' },
      h('dt', {}, 'Health'), h('dd', {}, endpointHealth(e)),
      h('dt', {}, 'Events'), h('dd', {}, (e.event_types || []).join(', ') || 'all'),
      h('dt', {}, 'Ordered'), h('dd', {}, e.ordered ? 'yes, per subject' : 'no'),
      h('dt', {}, 'Rate limit'), h('dd', {}, e.rate_limit ? `${e.rate_limit} per second` : 'none'),
      e.previous_secret_expires_at ? [h('dt', {}, 'Previous secret'), h('dd', {}, `signs until ${when(e.previous_secret_expires_at)}`)] : null,
      h('dt', {}, 'Id'), h('dd', {}, e.id)),
    h('div', { class: 'actions' }, test, toggle, rotate, remove),
    h('h2', {}, 'Attempts'), h('button', { type: 'button', class: 'secondary', onclick: loadAttempts }, 'Refresh attempts'), attempts,
    h('h2', {}, 'Replay'), replayForm(path, loadAttempts));
  loadAttempts();
}

// replayForm re-queues the endpoint's deliveries of events in a time range,
// a page at a time, showing the progress.
function replayForm(path, done) {
  const since = h('input', { id: 'replay-since', name: 'since', type: 'datetime-local', step: '1', required: true });
  const until = h('input', { id: 'replay-until', name: 'until', type: 'datetime-local', step: '1' });
  const bar = h('progress', { id: 'replay-progress', max: '1', value: '0', 'aria-label': 'Replay progress', hidden: true });
  const out = h('p', { id: 'replay-result', role: 'status', 'aria-live': 'polite' });
  const button = h('button', { type: 'submit' }, 'Replay');
  const form = h('form', {
    class: 'stack', 'aria-label': 'Replay a time range',
    onsubmit: async (ev) => {
      ev.preventDefault();
      const body = { since: new Date(since.value).toISOString(), limit: 100 };
      if (until.value) body.until = new Date(until.value).toISOString();
      button.disabled = true;
      bar.hidden = false;
      let queued = 0;
      try {
        for (;;) {
          const page = await api('POST', `${path}/replay`, body);
          queued += page.queued;
          const total = queued + (page.remaining || 0);
          bar.max = String(Math.max(total, 1));
          bar.value = String(queued);
          out.textContent = `Queued ${queued} of ${total} deliveries…`;
          if (!page.next) break;
          body.after = page.next;
        }
        out.textContent = `Replay queued ${queued} ${queued === 1 ? 'delivery' : 'deliveries'}.`;
        done();
      } catch (err) {
        out.textContent = err.message;
      } finally {
        button.disabled = false;
      }
    },
  },
  h('div', {}, h('label', { for: 'replay-since' }, 'From', h('span', { class: 'hint' }, 'Events at or after this time (your local time).')), since),
  h('div', {}, h('label', { for: 'replay-until' }, 'Until', h('span', { class: 'hint' }, 'Optional: events before this time.')), until),
  button, bar, out);
  return form;
}

// --- Overview -----------------------------------------------------------------------

// overviewStream is the live overview's server-sent event stream, open only
// while the overview is on screen.
let overviewStream = null;

function stopOverviewStream() {
  if (overviewStream) {
    overviewStream.close();
    overviewStream = null;
  }
}

function card(id, title, big, note, bad) {
  return h('section', { class: 'card', 'aria-labelledby': id }, h('h2', { id }, title),
    h('p', { class: `big${bad ? ' bad' : ''}` }, big), note ? h('p', { class: 'muted' }, note) : null);
}

function percent(x) {
  return `${(100 * x).toFixed(x > 0 && x < 0.01 ? 2 : 1)} %`;
}

function age(seconds) {
  if (!seconds) return 'none waiting';
  if (seconds < 120) return `oldest ${Math.round(seconds)} s`;
  if (seconds < 7200) return `oldest ${Math.round(seconds / 60)} min`;
  return `oldest ${(seconds / 3600).toFixed(1)} h`;
}

function overviewContent(v) {
  const conns = v.connectors || [];
  const troubled = conns.filter((c) => c.state === 'crashed' || c.state === 'gave_up' || c.restarts > 0);
  const active = conns.filter((c) => c.calls);
  const sum = (f) => active.reduce((n, c) => n + f(c.calls), 0);
  const requests = sum((c) => c.requests);
  const failures = sum((c) => c.failures);
  const breakers = sum((c) => c.breakers_open);
  const cards = [
    card('card-conn', 'Connectors', conns.length, `${conns.filter((c) => c.state === 'running').length} running, ${conns.filter((c) => c.state === 'idle').length} idle`),
    card('card-trouble', 'Processes in trouble', troubled.length, 'crashed, given up, or restarted', troubled.length > 0),
    card('card-breakers', 'Open breakers', breakers, 'accounts failing fast', breakers > 0),
    card('card-errors', 'Provider error rate', requests ? percent(failures / requests) : '—', requests ? `${failures} of ${requests} recent attempts` : 'no recent calls', requests > 0 && failures / requests > 0.05),
  ];
  if (v.outbox) {
    for (const o of v.outbox) cards.push(card(`card-outbox-${o.sink}`, `Outbox to ${o.sink}`, o.depth, age(o.oldest_age_seconds), o.oldest_age_seconds > 60));
  }
  if (v.deliveries) {
    cards.push(card('card-deliveries', 'Webhook deliveries waiting', v.deliveries.pending,
      v.deliveries.overdue_seconds ? `${Math.round(v.deliveries.overdue_seconds)} s overdue` : `${v.deliveries.endpoints_enabled} endpoints on, ${v.deliveries.endpoints_disabled} off`,
      v.deliveries.overdue_seconds > 60));
  }
  if (v.endpoints) {
    cards.push(card('card-endpoints', 'Webhook endpoints in trouble', v.endpoints.failing + v.endpoints.disabled,
      `${v.endpoints.failing} failing, ${v.endpoints.disabled} disabled, of ${v.endpoints.total}`, v.endpoints.failing + v.endpoints.disabled > 0));
  }
  // A tenant's overview has a list of expiring bills, empty ones left out of the JSON.
  const bills = v.eway_bills_expiring || (v.endpoints ? [] : null);
  if (bills) cards.push(card('card-ewb', 'E-way bills expiring within 8 h', bills.length, 'extend them before they lapse', bills.length > 0));
  const out = [h('div', { class: 'cards' }, cards)];
  const shown = conns.filter((c) => c.calls || troubled.includes(c));
  out.push(h('h2', {}, 'Connectors at work'));
  out.push(shown.length
    ? dataTable(null, ['Connector', 'Process', 'Restarts', 'Open breakers', 'Error rate', 'P95', 'In flight', 'Last exit'],
      shown.map((c) => row(h('a', { href: `#/connectors/${encodeURIComponent(c.id)}` }, c.id), stateText(c.state), c.restarts,
        c.calls ? c.calls.breakers_open : 0, c.calls && c.calls.requests ? percent(c.calls.error_rate) : '—',
        c.calls && c.calls.latency_samples ? `${c.calls.p95_ms.toFixed(1)} ms` : '—',
        c.calls ? c.calls.in_flight : 0, c.last_error || '—')))
    : h('p', {}, 'No connector has been called recently, and every process is running or idle with no restarts.'));
  if (bills && bills.length) {
    out.push(h('h2', {}, 'E-way bills expiring soon'), dataTable(null, ['Number', 'Valid until', 'Vehicle', 'Connector'],
      bills.map((b) => row(b.number, when(b.valid_until), b.vehicle || '—', b.connector))));
  }
  return out;
}

async function showOverview() {
  const body = h('div', { id: 'overview' });
  const updated = h('p', { class: 'muted', id: 'overview-updated' }, 'Loading…');
  show('Overview', updated, body);
  const render = (v) => {
    body.replaceChildren(...overviewContent(v));
    updated.textContent = `Live: updated at ${new Date(v.at).toLocaleTimeString()}.`;
  };
  try {
    render(await api('GET', '/v1/overview'));
  } catch (err) {
    body.replaceChildren(errorBox(err));
    return;
  }
  stopOverviewStream();
  const stream = new EventSource('/v1/overview/stream');
  overviewStream = stream;
  stream.addEventListener('overview', (ev) => {
    const v = JSON.parse(ev.data);
    if (v.error) updated.textContent = v.error;
    else render(v);
  });
  stream.onerror = () => {
    if (overviewStream === stream) updated.textContent = 'Live updates paused; reconnecting…';
  };
}

// --- Routing --------------------------------------------------------------------------

function markNav(path) {
  for (const a of document.querySelectorAll('#nav a')) {
    if (path.startsWith(a.getAttribute('href').slice(1))) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

function route() {
  if (!state.session) {
    showSignIn();
    return;
  }
  say('');
  stopOverviewStream();
  const [path, query] = location.hash.slice(1).split('?', 2);
  const params = new URLSearchParams(query || '');
  markNav(path);
  const parts = path.split('/').filter(Boolean);
  if (parts[0] === 'connectors' && parts[1]) showConnector(decodeURIComponent(parts[1]));
  else if (parts[0] === 'connectors') showConnectors(params);
  else if (parts[0] === 'shipments' && !state.session.operator) showShipments(params);
  else if (parts[0] === 'webhooks' && parts[1] && !state.session.operator) showEndpoint(decodeURIComponent(parts[1]));
  else if (parts[0] === 'webhooks' && !state.session.operator) showWebhooks();
  else showOverview();
}

async function start() {
  document.getElementById('sign-out').addEventListener('click', signOut);
  window.addEventListener('hashchange', route);
  try {
    state.session = await api('GET', '/v1/console/session');
    signedIn();
  } catch (err) {
    showSignIn();
  }
}

start();
