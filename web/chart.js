/* global document */
// Small SVG time-series charts: one series, last N samples, auto-scaled, no dependencies.

const NS = 'http://www.w3.org/2000/svg';

/** Formats a number with k/M/G suffixes. */
export function human(n, unit = '') {
  const abs = Math.abs(n);
  const s =
    abs >= 1e9
      ? (n / 1e9).toFixed(1) + 'G'
      : abs >= 1e6
        ? (n / 1e6).toFixed(1) + 'M'
        : abs >= 1e3
          ? (n / 1e3).toFixed(1) + 'k'
          : abs >= 10 || n === 0
            ? String(Math.round(n))
            : n.toFixed(1);
  return unit ? `${s} ${unit}` : s;
}

/** Creates a chart in `parent`; returns { update(values), el }. */
export function chart(parent, title, { unit = '', color = 'var(--accent)', key = '' } = {}) {
  const el = document.createElement('div');
  el.className = 'chart';
  if (key) el.dataset.chart = key;
  const head = document.createElement('div');
  head.className = 'title';
  const t = document.createElement('span');
  t.textContent = title;
  const v = document.createElement('span');
  v.className = 'value';
  v.textContent = '–';
  head.append(t, v);
  const svg = document.createElementNS(NS, 'svg');
  svg.setAttribute('viewBox', '0 0 300 48');
  svg.setAttribute('preserveAspectRatio', 'none');
  const area = document.createElementNS(NS, 'path');
  area.setAttribute('class', 'area');
  area.setAttribute('fill', color);
  const line = document.createElementNS(NS, 'path');
  line.setAttribute('fill', 'none');
  line.setAttribute('stroke', color);
  line.setAttribute('stroke-width', '1.5');
  line.setAttribute('vector-effect', 'non-scaling-stroke');
  svg.append(area, line);
  el.append(head, svg);
  parent.append(el);
  return {
    el,
    update(values) {
      const last = values.length ? values[values.length - 1] : 0;
      v.textContent = human(last, unit);
      el.dataset.last = String(last);
      if (values.length < 2) {
        line.setAttribute('d', '');
        area.setAttribute('d', '');
        return;
      }
      const max = Math.max(1, ...values);
      const n = values.length;
      const pts = values.map((y, i) => [(i / (n - 1)) * 300, 46 - (y / max) * 44]);
      const d = pts.map(([x, y], i) => `${i ? 'L' : 'M'}${x.toFixed(1)},${y.toFixed(1)}`).join('');
      line.setAttribute('d', d);
      area.setAttribute('d', `${d}L300,48L0,48Z`);
    },
  };
}
