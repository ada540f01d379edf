/* global document, window, location, fetch, WebSocket, setTimeout, clearTimeout */
// The dashboard: fetches the running graph, follows the daemon's event stream (changes, logs,
// slow-path packets and counter snapshots every second), turns counters into rates and health
// colours, and shows per-port and per-module charts, a module view with a map browser, and the
// event log. Same-origin only; the daemon serves every file.
import { GraphView } from './graph.js';
import { chart, human } from './chart.js';

const HISTORY = 120;
const $ = (id) => document.getElementById(id);

const state = {
  graph: { hosts: [], netdevs: [], instances: [], links: [] },
  prev: undefined, // last counters snapshot {time, counters}
  // key ("port:i:p" | "inst:i" | "total") → { pps: [], bps: [], dps: [] }
  series: new Map(),
  rates: new Map(),
  selected: undefined,
  ws: undefined,
  eventFilter: new Set(['change', 'log', 'packet']),
  mapView: undefined,
};

async function api(method, path, body) {
  const r = await fetch(path, {
    method,
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
  });
  const text = await r.text();
  let data = text;
  try {
    data = JSON.parse(text);
  } catch {
    // not JSON
  }
  if (!r.ok) throw new Error((data && data.error) || `${r.status} ${text}`);
  return data;
}

const graphView = new GraphView($('graph'), { onSelect: (sel) => select(sel) });

// ---- counters → rates, health and history ----------------------------------------------

function push(key, pps, bps, dps) {
  let s = state.series.get(key);
  if (!s) state.series.set(key, (s = { pps: [], bps: [], dps: [] }));
  s.pps.push(pps);
  s.bps.push(bps);
  s.dps.push(dps);
  for (const a of [s.pps, s.bps, s.dps]) if (a.length > HISTORY) a.shift();
  state.rates.set(key, { pps, bps, dps });
}

function onCounters(time, counters) {
  const prev = state.prev;
  state.prev = { time, counters };
  let totalPackets = 0;
  for (const m of Object.values(counters.modules)) totalPackets += m.packets;
  $('total-packets').textContent = String(totalPackets);
  document.body.dataset.totalPackets = String(totalPackets);
  if (!prev) return;
  const dt = Math.max(0.001, (time - prev.time) / 1000);
  let tp = 0;
  let tb = 0;
  let td = 0;
  for (const [id, c] of Object.entries(counters.ports)) {
    const p = prev.counters.ports[id];
    if (!p) continue;
    const pk = Math.max(0, c.rxPackets + c.txPackets - p.rxPackets - p.txPackets) / dt;
    const by = Math.max(0, c.rxBytes + c.txBytes - p.rxBytes - p.txBytes) / dt;
    const dr = Math.max(0, c.drops - p.drops) / dt;
    push(`port:${id}`, pk, by, dr);
  }
  for (const [name, c] of Object.entries(counters.modules)) {
    const p = prev.counters.modules[name];
    if (!p) continue;
    const pk = Math.max(0, c.packets - p.packets) / dt;
    const by = Math.max(0, c.bytes - p.bytes) / dt;
    const dr = Math.max(0, c.drops - p.drops) / dt;
    tp += pk;
    tb += by;
    td += dr;
    push(`inst:${name}`, pk, by, dr);
  }
  push('total', tp, tb, td);
  $('total-pps').textContent = human(tp);
  $('total-bps').textContent = human(tb, 'B');
  $('total-dps').textContent = human(td);
  updateHealth();
  updateCharts();
}

function healthOf(key, linked = true) {
  if (!linked) return 'bad';
  const r = state.rates.get(key);
  if (!r) return 'idle';
  if (r.dps > 0) return 'warn';
  return r.pps > 0 ? 'ok' : 'idle';
}

const RANK = { ok: 0, idle: 1, warn: 2, bad: 3 };

function updateHealth() {
  const health = new Map();
  const linkRate = new Map();
  const g = state.graph;
  for (const inst of g.instances) {
    let worst = 'idle';
    let any = false;
    for (const p of inst.ports) {
      const h = healthOf(`port:${p.id}`, !!p.peer);
      health.set(`port:${p.id}`, h);
      if (h === 'ok') any = true;
      if (h === 'warn' || (h === 'bad' && RANK[worst] < 3)) worst = h === 'bad' ? 'warn' : h;
    }
    const own = healthOf(`inst:${inst.name}`);
    let h = worst === 'warn' || own === 'warn' ? 'warn' : any || own === 'ok' ? 'ok' : 'idle';
    if (inst.kind !== 'transparent' && inst.ports.length && inst.ports.every((p) => !p.peer))
      h = 'bad';
    health.set(`inst:${inst.name}`, h);
  }
  for (const h of g.hosts)
    health.set(`host:${h.name}`, h.link ? (health.get(`port:${h.link}`) ?? 'idle') : 'bad');
  for (const [a, b] of g.links) {
    for (const e of [a, b])
      if (e.startsWith('netdev:')) {
        const other = e === a ? b : a;
        health.set(`dev:${e.slice(7)}`, health.get(`port:${other}`) ?? 'idle');
      }
    const portEnd = a.includes(':') && !a.startsWith('netdev:') ? a : b;
    linkRate.set(`${a}|${b}`, state.rates.get(`port:${portEnd}`)?.pps ?? 0);
  }
  graphView.setHealth(health, linkRate);
}

// ---- charts ------------------------------------------------------------------------------

const charts = new Map(); // container id → { key, list: [chart, field][] }

function chartSet(container, key, prefix = '') {
  const box = typeof container === 'string' ? $(container) : container;
  box.replaceChildren();
  const list = [
    [chart(box, `${prefix}packets/s`, { color: 'var(--ok)', key: `${key}:pps` }), 'pps'],
    [
      chart(box, `${prefix}bytes/s`, { unit: 'B', color: 'var(--accent)', key: `${key}:bps` }),
      'bps',
    ],
    [chart(box, `${prefix}drops/s`, { color: 'var(--bad)', key: `${key}:dps` }), 'dps'],
  ];
  charts.set(box, { key, list });
}

function updateCharts() {
  for (const [box, { key, list }] of charts) {
    if (!box.isConnected) {
      charts.delete(box);
      continue;
    }
    const s = state.series.get(key) ?? { pps: [], bps: [], dps: [] };
    for (const [c, f] of list) c.update(s[f]);
  }
}

// ---- detail panels -----------------------------------------------------------------------

function h(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof window.Node ? c : String(c));
  return e;
}

function pre(v) {
  return h('pre', {}, JSON.stringify(v, null, 2));
}

function select(sel) {
  state.selected = sel;
  graphView.select(sel?.key);
  renderDetail();
}

function renderDetail() {
  const sel = state.selected;
  const box = $('detail');
  const body = $('detail-body');
  if (!sel) {
    box.hidden = true;
    return;
  }
  box.hidden = false;
  body.replaceChildren();
  const g = state.graph;
  if (sel.kind === 'port') {
    const [iname] = sel.name.split(':');
    const inst = g.instances.find((i) => i.name === iname);
    const p = inst?.ports.find((x) => x.id === sel.name);
    $('detail-title').textContent = `port ${sel.name}`;
    if (!p) return body.append(h('p', { class: 'muted' }, 'gone'));
    body.append(
      h(
        'p',
        {},
        `peer: ${p.peer ?? 'not linked'}${p.stack.length ? ` · stacked: ${p.stack.join(', ')}` : ''}`,
      ),
    );
    const c = h('div', { class: 'charts' });
    body.append(c, countersTable([p]), h('h2', {}, 'config'), pre(p.config));
    chartSet(c, `port:${p.id}`);
  } else if (sel.kind === 'instance') {
    const inst = g.instances.find((i) => i.name === sel.name);
    $('detail-title').textContent = inst ? `${inst.name} · ${inst.type}` : sel.name;
    if (!inst) return body.append(h('p', { class: 'muted' }, 'gone'));
    const c = h('div', { class: 'charts' });
    const tabs = h('div', { class: 'tabs' });
    const pane = h('div', { id: 'module-pane' });
    body.append(c, tabs, pane);
    chartSet(c, `inst:${inst.name}`);
    const show = (name, fn) => {
      for (const b of tabs.children) b.classList.toggle('active', b.textContent === name);
      pane.replaceChildren();
      fn(pane, inst);
    };
    for (const [name, fn] of [
      ['ports', portsTab],
      ['config', configTab],
      ['maps', mapsTab],
      ['status', statusTab],
    ])
      tabs.append(h('button', { onclick: () => show(name, fn), dataset: { tab: name } }, name));
    show('ports', portsTab);
  } else {
    $('detail-title').textContent = `${sel.kind} ${sel.name}`;
    const host = g.hosts.find((x) => x.name === sel.name);
    if (host) {
      body.append(pre(host));
      if (host.link) {
        const c = h('div', { class: 'charts' });
        body.append(h('h2', {}, `port ${host.link}`), c);
        chartSet(c, `port:${host.link}`);
      }
    } else body.append(pre(g.netdevs.filter((d) => d.name === sel.name)));
  }
  updateCharts();
}

function countersTable(ports) {
  const t = h(
    'table',
    {},
    h(
      'tr',
      {},
      ...['port', 'rx pkts', 'tx pkts', 'rx bytes', 'drops', 'pkt/s'].map((x) => h('th', {}, x)),
    ),
  );
  for (const p of ports) {
    const r = state.rates.get(`port:${p.id}`);
    t.append(
      h(
        'tr',
        { dataset: { portRow: p.id } },
        h('td', {}, p.name),
        h('td', {}, String(p.counters.rxPackets)),
        h('td', {}, String(p.counters.txPackets)),
        h('td', {}, human(p.counters.rxBytes, 'B')),
        h('td', {}, String(p.counters.drops)),
        h('td', {}, human(r?.pps ?? 0)),
      ),
    );
  }
  return t;
}

function portsTab(pane, inst) {
  if (inst.kind === 'transparent') {
    pane.append(h('p', {}, `stacked on: ${inst.attachedTo.join(', ') || 'nothing'}`));
    return;
  }
  pane.append(countersTable(inst.ports));
  for (const p of inst.ports) {
    const c = h('div', { class: 'charts' });
    pane.append(h('h2', {}, `${p.name} → ${p.peer ?? 'not linked'}`), c);
    chartSet(c, `port:${p.id}`, `${p.name} `);
  }
  updateCharts();
}

function configTab(pane, inst) {
  const ta = h('textarea', { rows: '8', cols: '48', spellcheck: 'false' });
  ta.value = JSON.stringify(inst.config, null, 2);
  const msg = h('p', { class: 'muted' });
  pane.append(
    ta,
    h(
      'div',
      {},
      h(
        'button',
        {
          onclick: async () => {
            try {
              const r = await api(
                'PUT',
                `/api/v1/instances/${encodeURIComponent(inst.name)}/config`,
                JSON.parse(ta.value),
              );
              msg.className = 'muted';
              msg.textContent = `applied: generation ${r.generation}, ${r.changes.length} changes`;
            } catch (err) {
              msg.className = 'err';
              msg.textContent = err.message;
            }
          },
        },
        'apply config',
      ),
    ),
    msg,
  );
  api('GET', `/api/v1/module-types/${encodeURIComponent(inst.type)}`)
    .then((t) =>
      pane.append(
        h('h2', {}, `${t.name} schema`),
        pre(t.schema),
        ...(t.portSchema ? [h('h2', {}, 'port schema'), pre(t.portSchema)] : []),
      ),
    )
    .catch(() => undefined);
}

async function mapsTab(pane, inst) {
  const base = `/api/v1/instances/${encodeURIComponent(inst.name)}/maps`;
  let maps;
  try {
    maps = await api('GET', base);
  } catch (err) {
    pane.append(h('p', { class: 'err' }, err.message));
    return;
  }
  const list = h('div', { class: 'tabs' });
  const view = h('div', { id: 'map-view' });
  pane.append(list, view);
  const open = async (m) => {
    for (const b of list.children) b.classList.toggle('active', b.textContent === m.name);
    view.replaceChildren(
      h(
        'p',
        { class: 'muted' },
        `${m.type} · key ${m.keySize} B · value ${m.valueSize} B · max ${m.maxEntries}`,
      ),
    );
    const url = `${base}/${encodeURIComponent(m.name)}/entries`;
    const table = h('table', { dataset: { map: m.name } });
    const refresh = async () => {
      table.replaceChildren(h('tr', {}, h('th', {}, 'key'), h('th', {}, 'value'), h('th', {}, '')));
      let entries;
      try {
        entries = await api('GET', `${url}?limit=200`);
      } catch (err) {
        table.append(h('tr', {}, h('td', { class: 'err' }, err.message)));
        return;
      }
      for (const e of entries)
        table.append(
          h(
            'tr',
            {},
            h('td', {}, h('code', {}, JSON.stringify(e.key))),
            h('td', {}, h('code', {}, JSON.stringify(e.value))),
            h(
              'td',
              {},
              h(
                'button',
                {
                  onclick: async () => {
                    await api('DELETE', url, { key: e.key }).catch(
                      (err) => (msg.textContent = err.message),
                    );
                    refresh();
                  },
                },
                '✕',
              ),
            ),
          ),
        );
      if (!entries.length) table.append(h('tr', {}, h('td', { class: 'muted' }, 'empty')));
    };
    const key = h('input', { placeholder: 'key (JSON)', size: '18' });
    const value = h('input', { placeholder: 'value (JSON)', size: '18' });
    const msg = h('p', { class: 'err' });
    view.append(
      table,
      h(
        'div',
        {},
        key,
        value,
        h(
          'button',
          {
            onclick: async () => {
              try {
                await api('PUT', url, {
                  key: JSON.parse(key.value),
                  value: JSON.parse(value.value),
                });
                msg.textContent = '';
                refresh();
              } catch (err) {
                msg.textContent = err.message;
              }
            },
          },
          'write',
        ),
        h('button', { onclick: refresh }, 'refresh'),
      ),
      msg,
    );
    refresh();
  };
  for (const m of maps)
    list.append(h('button', { onclick: () => open(m), dataset: { mapTab: m.name } }, m.name));
  if (maps[0]) open(maps[0]);
}

async function statusTab(pane, inst) {
  try {
    pane.append(pre(await api('GET', `/api/v1/instances/${encodeURIComponent(inst.name)}/status`)));
  } catch (err) {
    pane.append(h('p', { class: 'err' }, err.message));
  }
}

// ---- events ------------------------------------------------------------------------------

function addEvent(ev) {
  const list = $('events');
  const t = new Date(ev.time).toLocaleTimeString();
  let text;
  if (ev.type === 'change')
    text = ev.changes.map((c) => `${c.op} ${c.kind} ${c.name}`).join(', ') || 'no change';
  else if (ev.type === 'packet')
    text = `${ev.instance}:${ev.port} reason ${ev.reason} ${ev.length} B ${ev.head}`;
  else text = `${ev.instance ? ev.instance + ': ' : ''}${ev.message}`;
  const li = h(
    'li',
    { class: ev.type, dataset: { type: ev.type } },
    h('span', { class: 't' }, t),
    h('span', { class: 'k' }, ev.type),
    text,
  );
  li.hidden = !state.eventFilter.has(ev.type);
  list.prepend(li);
  while (list.children.length > 300) list.lastChild.remove();
}

for (const cb of document.querySelectorAll('[data-ev]'))
  cb.addEventListener('change', () => {
    if (cb.checked) state.eventFilter.add(cb.dataset.ev);
    else state.eventFilter.delete(cb.dataset.ev);
    for (const li of $('events').children) li.hidden = !state.eventFilter.has(li.dataset.type);
  });

// ---- data flow ---------------------------------------------------------------------------

async function loadGraph() {
  const [g, st] = await Promise.all([
    api('GET', '/api/v1/topology/running'),
    api('GET', '/api/v1/status'),
  ]);
  state.graph = g;
  graphView.render(g);
  $('summary').textContent =
    `generation ${st.generation} · ${g.hosts.length} hosts · ${g.instances.length} instances · ${g.links.length} links`;
  document.body.dataset.instances = String(g.instances.length);
  document.body.dataset.links = String(g.links.length);
  updateHealth();
  renderDetail();
}

let reloadTimer;
function scheduleReload() {
  clearTimeout(reloadTimer);
  reloadTimer = setTimeout(() => loadGraph().catch(showError), 100);
}

function showError(err) {
  $('summary').textContent = `error: ${err.message}`;
}

let backoff = 500;
function connect() {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const ws = new WebSocket(
    `${proto}//${location.host}/api/v1/events?types=change,log,packet,counters`,
  );
  state.ws = ws;
  ws.onopen = () => {
    backoff = 500;
    $('conn').className = 'conn up';
    document.body.dataset.ws = 'open';
    loadGraph().catch(showError);
  };
  ws.onmessage = (m) => {
    const ev = JSON.parse(m.data);
    if (ev.type === 'counters') {
      onCounters(ev.time, ev.counters);
      // Counters in the graph's port objects follow the snapshot, for the tables.
      for (const inst of state.graph.instances)
        for (const p of inst.ports)
          if (ev.counters.ports[p.id]) p.counters = ev.counters.ports[p.id];
      return;
    }
    if (ev.type === 'hello') return;
    addEvent(ev);
    if (ev.type === 'change') scheduleReload();
  };
  ws.onclose = () => {
    $('conn').className = 'conn down';
    document.body.dataset.ws = 'closed';
    setTimeout(connect, backoff);
    backoff = Math.min(backoff * 2, 10000);
  };
}

chartSet('overview-charts', 'total');
api('GET', '/api/v1/events?limit=100')
  .then((evs) => evs.forEach(addEvent))
  .catch(() => undefined);
loadGraph().catch(showError);
connect();
window.setInterval(() => {
  // Refresh the open port table numbers without rebuilding charts.
  for (const row of document.querySelectorAll('[data-port-row]')) {
    const id = row.dataset.portRow;
    const [i] = id.split(':');
    const p = state.graph.instances.find((x) => x.name === i)?.ports.find((x) => x.id === id);
    if (!p) continue;
    const cells = row.children;
    cells[1].textContent = String(p.counters.rxPackets);
    cells[2].textContent = String(p.counters.txPackets);
    cells[3].textContent = human(p.counters.rxBytes, 'B');
    cells[4].textContent = String(p.counters.drops);
    cells[5].textContent = human(state.rates.get(`port:${id}`)?.pps ?? 0);
  }
}, 1000);
