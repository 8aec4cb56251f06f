// SPDX-License-Identifier: Apache-2.0
// The operator's console (issue 18): sign-in, then one view per hash route — overview, device
// search, device detail with revoke, audit log with export, policy. Every value from the server
// goes into the page as text (textContent, attribute values): never as markup.
'use strict';

const API = '/console/api/';
let session = null; // {operator, csrf, expires_at}

// ---- small helpers ----

// An element with attributes and children (strings become text nodes, never markup).
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const k of kids.flat()) {
    if (k === null || k === undefined) continue;
    e.appendChild(typeof k === 'string' || typeof k === 'number' ? document.createTextNode(String(k)) : k);
  }
  return e;
}

function say(text) {
  const s = document.getElementById('status');
  s.textContent = text;
  clearTimeout(say.t);
  say.t = setTimeout(() => { s.textContent = ''; }, 4000);
}

class ApiError extends Error {
  constructor(status, code, detail) { super(detail || code); this.status = status; this.code = code; }
}

async function api(method, path, body) {
  const headers = {};
  if (method !== 'GET') {
    headers['Content-Type'] = 'application/json';
    if (session) headers['X-CSRF-Token'] = session.csrf;
  }
  const r = await fetch(API + path, {
    method, headers, credentials: 'same-origin', cache: 'no-store',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const type = r.headers.get('Content-Type') || '';
  const data = type.startsWith('application/json') ? await r.json() : await r.text();
  if (!r.ok) {
    if (r.status === 401 && path !== 'session') { session = null; showLogin('Your session is over: sign in again.'); }
    throw new ApiError(r.status, data && data.error, data && data.detail);
  }
  return data;
}

function main() { return document.getElementById('main'); }

function show(title, ...content) {
  const m = main();
  m.replaceChildren(el('h1', {}, title), ...content);
  document.title = title + ' — selfcert console';
  m.focus({ preventScroll: true });
  window.scrollTo(0, 0);
}

function failure(e) {
  if (e instanceof ApiError && e.status === 401) return;
  show('Error', el('p', { class: 'error' }, e.code ? e.code + ': ' : '', e.message));
}

function fmtTime(s) { return s ? s.replace('T', ' ').replace('Z', ' UTC') : ''; }

function table(cols, rows, id) {
  return el('div', { class: 'scroll' }, el('table', { id },
    el('thead', {}, el('tr', {}, cols.map((c) => el('th', { scope: 'col' }, c)))),
    el('tbody', {}, rows.length ? rows : el('tr', {}, el('td', { colspan: cols.length, class: 'muted' }, 'nothing')))));
}

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== '' && v !== null && v !== undefined) q.set(k, v);
  const s = q.toString();
  return s ? '?' + s : '';
}

// A bar chart of hourly counts as SVG (no library: one rect per hour, labelled axes).
function barChart(label, values, startIso, cls) {
  const W = 720, H = 160, L = 36, B = 20, T = 8;
  const max = Math.max(1, ...values);
  const bw = (W - L - 4) / values.length;
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  svg.setAttribute('class', 'chart');
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', `${label}: ${values.reduce((a, b) => a + b, 0)} in ${values.length} hours, at most ${max} in one hour`);
  const add = (tag, attrs, text) => {
    const e = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    svg.appendChild(e);
    return e;
  };
  values.forEach((v, i) => {
    const h = (H - B - T) * v / max;
    const r = add('rect', { x: L + i * bw, y: H - B - h, width: Math.max(1, bw - 1), height: h, class: cls });
    const t = document.createElementNS(ns, 'title');
    t.textContent = `${v}`;
    r.appendChild(t);
  });
  add('text', { x: 2, y: T + 8 }, String(max));
  add('text', { x: 2, y: H - B }, '0');
  add('text', { x: L, y: H - 4 }, fmtTime(startIso));
  add('text', { x: W - 4, y: H - 4, 'text-anchor': 'end' }, 'now');
  return svg;
}

// ---- sign-in and sign-out ----

function showLogin(msg) {
  document.getElementById('nav').hidden = true;
  document.getElementById('signout').hidden = true;
  document.getElementById('who').textContent = '';
  const token = el('input', { type: 'password', id: 'token', autocomplete: 'off', required: true, 'aria-describedby': 'login-msg' });
  const form = el('form', { class: 'login', id: 'login' },
    el('label', {}, 'Operator token (selfcert net operator add)', token),
    el('p', { id: 'login-msg', class: msg ? 'error' : 'muted' }, msg || 'The session lasts 30 minutes.'),
    el('button', { type: 'submit', class: 'primary' }, 'Sign in'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      session = await api('POST', 'session', { token: token.value });
      token.value = '';
      started();
    } catch (e) {
      document.getElementById('login-msg').textContent = (e.code || 'error') + ': ' + e.message;
      document.getElementById('login-msg').className = 'error';
    }
  });
  show('Sign in', form);
  token.focus();
}

function started() {
  document.getElementById('nav').hidden = false;
  document.getElementById('signout').hidden = false;
  document.getElementById('who').textContent = 'operator ' + session.operator;
  if (!location.hash || location.hash === '#/') location.hash = '#/overview';
  else route();
}

async function signOut() {
  try { await api('POST', 'session/end'); } catch (e) { /* over already */ }
  session = null;
  history.replaceState(null, '', '#/');
  showLogin();
  say('Signed out.');
}

// ---- the views ----

async function viewOverview() {
  const o = await api('GET', 'overview');
  const card = (n, l, id) => el('div', { class: 'card', id }, el('div', { class: 'n' }, String(n)), el('div', { class: 'l' }, l));
  const ref = o.refusals.map((r) => el('tr', {}, el('td', {}, r.error), el('td', {}, String(r.last_hour)),
    el('td', {}, String(r.last_24h)), el('td', {}, String(r.total))));
  show('Fleet overview',
    el('div', { class: 'cards', id: 'counts' },
      card(o.devices.active, 'active devices', 'c-active'),
      card(o.devices.revoked, 'revoked', 'c-revoked'),
      card(o.devices.never_enrolled, 'active, never enrolled', 'c-never'),
      card(o.certificates.expiring_24h, 'certificates expiring within 24 h', 'c-24h'),
      card(o.certificates.expiring_7d, 'certificates expiring within 7 days', 'c-7d'),
      card(o.certificates.expired, 'newest certificate expired', 'c-expired')),
    el('h2', {}, `Profiles signed per hour (last ${o.hourly.hours} h)`),
    barChart('profiles per hour', o.hourly.profiles, o.hourly.start, 'bar'),
    el('h2', {}, `Certificates registered per hour (last ${o.hourly.hours} h)`),
    barChart('certificates per hour', o.hourly.certificates, o.hourly.start, 'bar2'),
    el('h2', {}, 'Refusals by error code (this server since its start)'),
    table(['error', 'last hour', 'last 24 h', 'since start'], ref, 'refusals'),
    el('p', { class: 'muted' }, 'As of ' + fmtTime(o.now) + '.'));
}

// Device search: prefix, status, expiry; keyset pages (the server's "next" cursor).
async function viewDevices(params) {
  const p = Object.fromEntries(params);
  const prefix = el('input', { id: 'q-prefix', name: 'prefix', value: p.prefix || '', placeholder: 'dev-00', maxlength: 64 });
  const status = el('select', { id: 'q-status', name: 'status' },
    ['', 'active', 'revoked'].map((s) => el('option', { value: s, selected: (p.status || '') === s }, s || 'any')));
  const expiry = el('select', { id: 'q-expiry', name: 'expiry' },
    [['', 'any'], ['24h', 'within 24 h'], ['7d', 'within 7 days']].map(([v, l]) => el('option', { value: v, selected: (p.expiry || '') === v }, l)));
  const form = el('form', { class: 'filters', id: 'search', role: 'search' },
    el('label', {}, 'Device ID begins with', prefix), el('label', {}, 'Status', status),
    el('label', {}, 'Newest certificate expires', expiry),
    el('button', { type: 'submit', class: 'primary', id: 'q-go' }, 'Search'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    location.hash = '#/devices' + query({ prefix: prefix.value.trim(), status: status.value, expiry: expiry.value });
  });
  const now = Date.now();
  const expiring = p.expiry === '24h' ? new Date(now + 86400e3) : p.expiry === '7d' ? new Date(now + 7 * 86400e3) : null;
  const d = await api('GET', 'devices' + query({
    prefix: p.prefix, status: p.status, after: p.after, limit: 50,
    expiring_before: expiring ? expiring.toISOString().replace(/\.\d+Z$/, 'Z') : '',
  }));
  const rows = d.devices.map((x) => el('tr', {},
    el('td', { class: 'wrap' }, el('a', { href: '#/device/' + encodeURIComponent(x.device_id), class: 'dev' }, x.device_id)),
    el('td', { class: 'status-' + x.status }, x.status),
    el('td', { class: 'wrap note' }, x.note),
    el('td', {}, x.certificate ? fmtTime(x.certificate.not_after) : '—')));
  const nav = el('div', { class: 'row' });
  if (p.after) nav.appendChild(el('a', { href: '#/devices' + query({ prefix: p.prefix, status: p.status, expiry: p.expiry }) }, 'First page'));
  if (d.next) nav.appendChild(el('a', { id: 'next', href: '#/devices' + query({ prefix: p.prefix, status: p.status, expiry: p.expiry, after: d.next }) }, 'Next page'));
  show('Devices', form, table(['device', 'status', 'note', 'certificate expires'], rows, 'devices'), nav);
  prefix.focus();
}

async function viewDevice(id) {
  const d = await api('GET', 'devices/' + encodeURIComponent(id) + '?audit=100');
  const kv = el('dl', { class: 'kv', id: 'device' },
    el('dt', {}, 'device'), el('dd', { id: 'd-id' }, d.device_id),
    el('dt', {}, 'status'), el('dd', { id: 'd-status', class: 'status-' + d.status }, d.status),
    el('dt', {}, 'note'), el('dd', { id: 'd-note' }, d.note),
    el('dt', {}, 'activated'), el('dd', {}, fmtTime(d.activated_at)),
    el('dt', {}, 'profiles issued'), el('dd', {}, String(d.profiles_issued)),
    el('dt', {}, 'certificates'), el('dd', {}, String(d.certificates_registered)),
    d.status === 'revoked' ? [el('dt', {}, 'revoked'), el('dd', {}, fmtTime(d.revoked_at)),
      el('dt', {}, 'reason'), el('dd', { id: 'd-reason' }, d.revocation_reason)] : null);
  const certs = d.certificates.map((c) => el('tr', {}, el('td', { class: 'wrap' }, c.serial),
    el('td', {}, fmtTime(c.not_before)), el('td', {}, fmtTime(c.not_after)), el('td', {}, fmtTime(c.registered_at))));
  const profs = d.profiles.map((p) => el('tr', {}, el('td', { class: 'wrap' }, p.profile_id), el('td', {}, p.key_origin),
    el('td', {}, p.alg), el('td', {}, fmtTime(p.issued_at)), el('td', {}, p.consumed_at ? fmtTime(p.consumed_at) : 'not used')));
  const audit = d.audit.slice().reverse().map((a) => el('tr', {}, el('td', {}, fmtTime(a.at)), el('td', {}, a.actor),
    el('td', {}, a.event), el('td', { class: 'wrap' }, a.detail)));
  let revoke = null;
  if (d.status === 'active') {
    const reason = el('input', { id: 'reason', maxlength: 256, placeholder: 'key compromise', required: true });
    revoke = el('form', { class: 'filters', id: 'revoke' }, el('label', {}, 'Reason for revoking', reason),
      el('button', { type: 'submit', class: 'danger', id: 'revoke-go' }, 'Revoke…'));
    revoke.addEventListener('submit', (ev) => {
      ev.preventDefault();
      if (!reason.value.trim()) { say('Give a reason.'); reason.focus(); return; }
      confirmRevoke(d.device_id, reason.value.trim());
    });
  }
  show('Device ' + d.device_id, kv, revoke,
    el('h2', {}, 'Certificates'), table(['serial', 'not before', 'not after', 'registered'], certs, 'certs'),
    el('h2', {}, 'Profiles'), table(['profile', 'key', 'algorithm', 'issued', 'used'], profs, 'profiles'),
    el('h2', {}, 'Audit trail'), table(['when', 'who', 'event', 'detail'], audit, 'device-audit'));
}

// The confirmation: a modal dialog, Cancel focused first (Escape cancels too).
function confirmRevoke(id, reason) {
  const dlg = document.getElementById('confirm');
  document.getElementById('confirm-id').textContent = id;
  document.getElementById('confirm-reason').textContent = reason;
  const yes = document.getElementById('confirm-revoke'), no = document.getElementById('confirm-cancel');
  const done = () => { yes.onclick = null; no.onclick = null; };
  no.onclick = () => { done(); dlg.close(); say('Not revoked.'); };
  yes.onclick = async () => {
    done();
    dlg.close();
    try {
      await api('POST', 'devices/' + encodeURIComponent(id) + '/revoke', { reason });
      say('Revoked ' + id + '.');
      await viewDevice(id);
    } catch (e) { failure(e); }
  };
  dlg.showModal();
  no.focus();
}

function auditFilters(p) {
  const q = {};
  for (const k of ['event', 'actor', 'device', 'since', 'until']) if (p[k]) q[k] = p[k];
  return q;
}

async function viewAudit(params) {
  const p = Object.fromEntries(params);
  const f = {};
  const input = (k, label, ph) => { f[k] = el('input', { id: 'a-' + k, name: k, value: p[k] || '', placeholder: ph }); return el('label', {}, label, f[k]); };
  const form = el('form', { class: 'filters', id: 'audit-filters' },
    input('event', 'Event', 'device-revoked'), input('actor', 'Actor begins with', 'operator alice'),
    input('device', 'Device', ''), input('since', 'Since (UTC)', '2027-01-01T00:00:00Z'),
    input('until', 'Until (UTC)', ''), el('button', { type: 'submit', class: 'primary' }, 'Filter'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const q = {};
    for (const k of Object.keys(f)) q[k] = f[k].value.trim();
    location.hash = '#/audit' + query(q);
  });
  const filters = auditFilters(p);
  const a = await api('GET', 'audit' + query({ ...filters, before: p.before, limit: 100 }));
  const rows = a.audit.map((r) => el('tr', {}, el('td', {}, String(r.seq)), el('td', {}, fmtTime(r.at)),
    el('td', {}, r.actor), el('td', {}, r.event),
    el('td', { class: 'wrap' }, r.device_id ? el('a', { href: '#/device/' + encodeURIComponent(r.device_id) }, r.device_id) : ''),
    el('td', { class: 'wrap' }, r.detail)));
  const exp = (fmt) => el('button', { type: 'button', id: 'export-' + fmt, onclick: () => exportAudit(filters, p.before, fmt) }, 'Export ' + fmt.toUpperCase());
  const nav = el('div', { class: 'row' }, exp('csv'), exp('json'));
  if (a.next) nav.appendChild(el('a', { id: 'older', href: '#/audit' + query({ ...filters, before: a.next }) }, 'Older'));
  show('Audit log', form, nav, table(['seq', 'when', 'who', 'event', 'device', 'detail'], rows, 'audit'));
}

// An export: the page's filters, up to 1000 rows, fetched with the session and saved as a file.
async function exportAudit(filters, before, fmt) {
  try {
    const r = await fetch(API + 'audit' + query({ ...filters, before, limit: 1000, format: fmt }), { credentials: 'same-origin' });
    if (!r.ok) throw new ApiError(r.status, 'export', 'HTTP ' + r.status);
    const blob = await r.blob();
    const url = URL.createObjectURL(blob);
    const a = el('a', { href: url, download: 'selfcert-audit.' + fmt });
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
    say('Exported ' + fmt.toUpperCase() + '.');
  } catch (e) { failure(e); }
}

async function viewPolicy() {
  const p = await api('GET', 'policy');
  const row = (k, v) => [el('dt', {}, k), el('dd', {}, v)];
  const dur = (s) => s % 86400 === 0 ? (s / 86400) + ' d' : s % 3600 === 0 ? (s / 3600) + ' h' : s + ' s';
  show('Network policy (read-only)', el('dl', { class: 'kv', id: 'policy' },
    row('network', p.network_id), row('leaf validity', dur(p.validity_s)), row('profile lifetime', dur(p.profile_ttl_s)),
    row('algorithms', p.algorithms.join(', ')), row('default algorithm', p.default_algorithm),
    row('server key generation', p.server_keygen ? 'allowed' : 'off'),
    row('challenge required', p.require_challenge ? 'yes' : 'no'), row('extended key usage', p.eku.join(', ')),
    row('subjectAltName templates', p.san.length ? p.san.join(', ') : 'none'),
    row('profiles per device', p.rate_limit.profiles ? `${p.rate_limit.profiles} per ${dur(p.rate_limit.window_s)}` : 'no limit'),
    row('unauthenticated budget', `${p.unauthenticated_budget.profiles} per ${dur(p.unauthenticated_budget.window_s)} per address`),
    row('summary', p.summary)),
    el('p', { class: 'muted' }, 'The policy is the server\'s --policy file and flags; change it there and send SIGHUP.'));
}

// ---- routing ----

async function route() {
  if (!session) return;
  const h = location.hash.slice(1) || '/overview';
  const [path, qs] = h.split('?');
  const params = new URLSearchParams(qs || '');
  for (const a of document.querySelectorAll('nav a')) {
    if (path.startsWith('/' + a.id.slice(4)) || (a.id === 'nav-devices' && path.startsWith('/device/'))) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  try {
    if (path === '/overview') await viewOverview();
    else if (path === '/devices') await viewDevices(params);
    else if (path.startsWith('/device/')) await viewDevice(decodeURIComponent(path.slice(8)));
    else if (path === '/audit') await viewAudit(params);
    else if (path === '/policy') await viewPolicy();
    else show('Not found', el('p', {}, 'No such view.'));
  } catch (e) { failure(e); }
}

window.addEventListener('hashchange', route);
document.addEventListener('DOMContentLoaded', async () => {
  document.getElementById('signout').addEventListener('click', signOut);
  try {
    session = await api('GET', 'session');
    started();
  } catch (e) {
    showLogin();
  }
});
