/* global document */
// The topology graph in SVG: hosts, named netdevs and standard instances are laid out by a
// small deterministic force simulation (positions persist across updates so the picture does
// not jump); ports sit on their instance's edge facing their peer; transparent instances are
// drawn beside the ports they are stacked on; each link carries a label for its netdev.

const NS = 'http://www.w3.org/2000/svg';
const W = 120;
const H = 46;

function el(name, attrs = {}, parent) {
  const e = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (parent) parent.append(e);
  return e;
}

/** Point on the border of a w×h box centred at (cx,cy) in the direction of (tx,ty). */
function border(cx, cy, w, h, tx, ty) {
  const dx = tx - cx;
  const dy = ty - cy;
  if (dx === 0 && dy === 0) return [cx, cy - h / 2];
  const s = Math.min(w / 2 / Math.abs(dx || 1e-9), h / 2 / Math.abs(dy || 1e-9));
  return [cx + dx * s, cy + dy * s];
}

/** A graph view bound to an <svg>. */
export class GraphView {
  constructor(svg, { onSelect }) {
    this.svg = svg;
    this.onSelect = onSelect;
    this.pos = new Map();
    this.selected = undefined;
    this.health = new Map();
    this.linkRate = new Map();
  }

  /** Lays out and draws `g` (the API's running graph). */
  render(g) {
    this.graph = g;
    const nodes = [];
    const edges = [];
    for (const h of g.hosts)
      nodes.push({ id: `host:${h.name}`, kind: 'host', name: h.name, data: h });
    const std = g.instances.filter((i) => i.kind !== 'transparent');
    for (const i of std)
      nodes.push({ id: `inst:${i.name}`, kind: 'instance', name: i.name, data: i });
    const named = new Set();
    for (const [a, b] of g.links)
      for (const e of [a, b]) if (e.startsWith('netdev:')) named.add(e.slice(7));
    for (const n of named) nodes.push({ id: `dev:${n}`, kind: 'netdev', name: n });
    const nodeOf = (ep) =>
      ep.startsWith('netdev:')
        ? `dev:${ep.slice(7)}`
        : ep.includes(':')
          ? `inst:${ep.slice(0, ep.indexOf(':'))}`
          : `host:${ep}`;
    for (const [a, b] of g.links) edges.push([nodeOf(a), nodeOf(b)]);
    this.layout(nodes, edges);
    this.draw(g, nodes);
  }

  layout(nodes, edges) {
    const ids = new Set(nodes.map((n) => n.id));
    for (const k of [...this.pos.keys()]) if (!ids.has(k)) this.pos.delete(k);
    const fresh = nodes.filter((n) => !this.pos.has(n.id));
    const n = nodes.length;
    fresh.forEach((node) => {
      const i = nodes.indexOf(node);
      const r = node.kind === 'instance' ? 140 + 18 * Math.sqrt(n) : 260 + 30 * Math.sqrt(n);
      const a = (2 * Math.PI * i) / Math.max(1, n) + (node.kind === 'host' ? 0.3 : 0);
      // Start a new node next to a placed neighbour when there is one.
      const nb = edges.find(
        ([x, y]) => (x === node.id && this.pos.has(y)) || (y === node.id && this.pos.has(x)),
      );
      if (nb) {
        const p = this.pos.get(nb[0] === node.id ? nb[1] : nb[0]);
        this.pos.set(node.id, { x: p.x + 90 * Math.cos(a), y: p.y + 90 * Math.sin(a) });
      } else this.pos.set(node.id, { x: r * Math.cos(a), y: r * Math.sin(a) });
    });
    const iterations = fresh.length ? (fresh.length === n ? 400 : 150) : 0;
    const P = nodes.map((x) => this.pos.get(x.id));
    const idx = new Map(nodes.map((x, i) => [x.id, i]));
    const E = edges
      .map(([a, b]) => [idx.get(a), idx.get(b)])
      .filter(([a, b]) => a !== undefined && b !== undefined && a !== b);
    for (let it = 0; it < iterations; it++) {
      const t = 1 - it / iterations;
      const F = P.map(() => ({ x: 0, y: 0 }));
      for (let i = 0; i < n; i++)
        for (let j = i + 1; j < n; j++) {
          let dx = P[i].x - P[j].x;
          let dy = P[i].y - P[j].y;
          let d2 = dx * dx + dy * dy;
          if (d2 < 1) {
            dx = (i - j) * 0.5;
            dy = 0.5;
            d2 = 1;
          }
          const f = 60000 / d2;
          const d = Math.sqrt(d2);
          F[i].x += (f * dx) / d;
          F[i].y += (f * dy) / d;
          F[j].x -= (f * dx) / d;
          F[j].y -= (f * dy) / d;
        }
      for (const [a, b] of E) {
        const dx = P[b].x - P[a].x;
        const dy = P[b].y - P[a].y;
        const d = Math.sqrt(dx * dx + dy * dy) || 1;
        const f = (d - 170) * 0.08;
        F[a].x += (f * dx) / d;
        F[a].y += (f * dy) / d;
        F[b].x -= (f * dx) / d;
        F[b].y -= (f * dy) / d;
      }
      for (let i = 0; i < n; i++) {
        F[i].x -= P[i].x * 0.01;
        F[i].y -= P[i].y * 0.01;
        const m = Math.sqrt(F[i].x ** 2 + F[i].y ** 2);
        const cap = 30 * t + 1;
        const s = m > cap ? cap / m : 1;
        P[i].x += F[i].x * s;
        P[i].y += F[i].y * s;
      }
    }
  }

  /** Sets element health ('ok' | 'idle' | 'warn' | 'bad') and link rates, then restyles. */
  setHealth(health, linkRate) {
    this.health = health;
    this.linkRate = linkRate;
    this.restyle();
  }

  restyle() {
    for (const e of this.svg.querySelectorAll('[data-health-key]')) {
      const h = this.health.get(e.dataset.healthKey) ?? 'idle';
      e.classList.remove('h-ok', 'h-idle', 'h-warn', 'h-bad');
      e.classList.add(`h-${h}`);
      e.dataset.health = h;
    }
    for (const e of this.svg.querySelectorAll('.link[data-link]')) {
      const r = this.linkRate.get(e.dataset.link) ?? 0;
      e.setAttribute('stroke-width', String(Math.min(8, 1.5 + Math.log10(1 + r))));
    }
  }

  select(key) {
    this.selected = key;
    for (const e of this.svg.querySelectorAll('.node'))
      e.classList.toggle('selected', e.dataset.key === key);
  }

  draw(g, nodes) {
    const svg = this.svg;
    svg.replaceChildren();
    const linksLayer = el('g', { class: 'links' }, svg);
    const nodesLayer = el('g', { class: 'nodes' }, svg);
    const portsLayer = el('g', { class: 'ports' }, svg);
    const portPos = new Map();
    const centre = (ep) => {
      if (ep.startsWith('netdev:')) return this.pos.get(`dev:${ep.slice(7)}`);
      if (ep.includes(':')) return this.pos.get(`inst:${ep.slice(0, ep.indexOf(':'))}`);
      return this.pos.get(`host:${ep}`);
    };
    let minX = Infinity;
    let minY = Infinity;
    let maxX = -Infinity;
    let maxY = -Infinity;
    const grow = (x, y, m = 70) => {
      minX = Math.min(minX, x - m);
      minY = Math.min(minY, y - m);
      maxX = Math.max(maxX, x + m);
      maxY = Math.max(maxY, y + m);
    };
    // Ports: on the instance border toward their peer (or spread around when unlinked).
    for (const inst of g.instances) {
      if (inst.kind === 'transparent') continue;
      const c = this.pos.get(`inst:${inst.name}`);
      inst.ports.forEach((p, k) => {
        const peer = p.peer && centre(p.peer);
        const a = (2 * Math.PI * k) / Math.max(1, inst.ports.length) - Math.PI / 2;
        const [x, y] =
          peer && (peer.x !== c.x || peer.y !== c.y)
            ? border(c.x, c.y, W, H, peer.x, peer.y)
            : border(c.x, c.y, W, H, c.x + Math.cos(a) * 100, c.y + Math.sin(a) * 100);
        portPos.set(p.id, { x, y });
      });
    }
    const endPos = (ep) => portPos.get(ep) ?? centre(ep);
    for (const [a, b] of g.links) {
      const pa = endPos(a);
      const pb = endPos(b);
      if (!pa || !pb) continue;
      const portEnd = a.includes(':') && !a.startsWith('netdev:') ? a : b;
      const line = el(
        'line',
        {
          class: 'link',
          x1: pa.x,
          y1: pa.y,
          x2: pb.x,
          y2: pb.y,
          'data-link': `${a}|${b}`,
          'data-health-key': `port:${portEnd}`,
        },
        linksLayer,
      );
      el('title', {}, line).textContent = `${a} — ${b}`;
      const dev = g.netdevs.find((d) => d.port === a || d.port === b);
      if (dev && !(a.startsWith('netdev:') || b.startsWith('netdev:'))) {
        const mx = (pa.x + pb.x) / 2;
        const my = (pa.y + pb.y) / 2;
        const gd = el('g', { class: 'netdev', 'data-netdev': dev.name }, linksLayer);
        const w = 8 + dev.name.length * 5.5;
        el('rect', { x: mx - w / 2, y: my - 8, width: w, height: 16, rx: 3 }, gd);
        el('text', { x: mx, y: my + 3, 'text-anchor': 'middle' }, gd).textContent = dev.name;
      }
    }
    for (const node of nodes) {
      const p = this.pos.get(node.id);
      grow(p.x, p.y);
      const key =
        node.kind === 'instance'
          ? `inst:${node.name}`
          : node.kind === 'host'
            ? `host:${node.name}`
            : `dev:${node.name}`;
      const gn = el(
        'g',
        {
          class: `node ${node.kind}`,
          'data-key': key,
          'data-health-key': key,
          transform: `translate(${p.x},${p.y})`,
        },
        nodesLayer,
      );
      if (node.kind === 'instance') {
        gn.dataset.instance = node.name;
        el('rect', { x: -W / 2, y: -H / 2, width: W, height: H, rx: 8 }, gn);
        el('text', { y: -3, 'text-anchor': 'middle' }, gn).textContent = node.name;
        el('text', { y: 12, 'text-anchor': 'middle', class: 'sub' }, gn).textContent =
          node.data.type;
      } else if (node.kind === 'host') {
        gn.dataset.host = node.name;
        el('circle', { r: 24, class: 'body' }, gn);
        el('text', { y: 4, 'text-anchor': 'middle' }, gn).textContent = node.name;
        if (node.data.config.address)
          el('text', { y: 38, 'text-anchor': 'middle', class: 'sub' }, gn).textContent =
            node.data.config.address;
      } else {
        gn.dataset.netdev = node.name;
        el('polygon', { points: '-34,-14 34,-14 44,0 34,14 -34,14 -44,0' }, gn);
        el('text', { y: 4, 'text-anchor': 'middle' }, gn).textContent = node.name;
      }
      el('title', {}, gn).textContent = `${node.kind} ${node.name}`;
      gn.addEventListener('click', () => this.onSelect({ kind: node.kind, name: node.name, key }));
    }
    for (const inst of g.instances) {
      for (const p of inst.ports) {
        const pp = portPos.get(p.id);
        if (!pp) continue;
        const c = el(
          'circle',
          {
            class: 'port',
            r: 6,
            cx: pp.x,
            cy: pp.y,
            'data-port': p.id,
            'data-health-key': `port:${p.id}`,
          },
          portsLayer,
        );
        el('title', {}, c).textContent = `port ${p.id}${p.peer ? ` → ${p.peer}` : ' (not linked)'}`;
        c.addEventListener('click', () =>
          this.onSelect({ kind: 'port', name: p.id, key: `port:${p.id}` }),
        );
        const ctr = this.pos.get(`inst:${inst.name}`);
        const lx = pp.x + (pp.x - ctr.x) * 0.18;
        const ly = pp.y + (pp.y - ctr.y) * 0.35 + 3;
        el(
          'text',
          { x: lx, y: ly, 'text-anchor': 'middle', class: 'sub' },
          portsLayer,
        ).textContent = p.name;
      }
    }
    // Transparent instances: beside the first port they are stacked on, else in a row on top.
    let loose = 0;
    const stackCount = new Map();
    for (const inst of g.instances.filter((i) => i.kind === 'transparent')) {
      const at = inst.attachedTo.find((a) => portPos.has(a));
      let x;
      let y;
      if (at) {
        const pp = portPos.get(at);
        const owner = this.pos.get(`inst:${at.slice(0, at.indexOf(':'))}`);
        const k = stackCount.get(at) ?? 0;
        stackCount.set(at, k + 1);
        const dx = pp.x - owner.x;
        const dy = pp.y - owner.y;
        const d = Math.sqrt(dx * dx + dy * dy) || 1;
        x = pp.x + (dx / d) * (30 + 26 * k) - (dy / d) * 40;
        y = pp.y + (dy / d) * (30 + 26 * k) + (dx / d) * 40;
        for (const a of inst.attachedTo) {
          const q = portPos.get(a);
          if (q) el('line', { class: 'attach', x1: x, y1: y, x2: q.x, y2: q.y }, linksLayer);
        }
      } else {
        x = (Number.isFinite(minX) ? minX : 0) + 70 + loose * 110;
        y = (Number.isFinite(minY) ? minY : 0) - 10;
        loose++;
      }
      grow(x, y, 50);
      const key = `inst:${inst.name}`;
      const gn = el(
        'g',
        {
          class: 'node transparent',
          'data-key': key,
          'data-health-key': key,
          'data-instance': inst.name,
          transform: `translate(${x},${y})`,
        },
        nodesLayer,
      );
      el('rect', { x: -44, y: -12, width: 88, height: 24, rx: 12 }, gn);
      el('text', { y: 4, 'text-anchor': 'middle' }, gn).textContent = `${inst.name} (${inst.type})`;
      el('title', {}, gn).textContent =
        `transparent ${inst.type} ${inst.name} on ${inst.attachedTo.join(', ') || 'nothing'}`;
      gn.addEventListener('click', () => this.onSelect({ kind: 'instance', name: inst.name, key }));
    }
    if (!Number.isFinite(minX)) {
      minX = -200;
      minY = -150;
      maxX = 200;
      maxY = 150;
      el('text', { x: 0, y: 0, 'text-anchor': 'middle', class: 'sub' }, svg).textContent =
        'no topology applied';
    }
    svg.setAttribute('viewBox', `${minX} ${minY} ${maxX - minX} ${maxY - minY}`);
    this.restyle();
    if (this.selected) this.select(this.selected);
  }
}
