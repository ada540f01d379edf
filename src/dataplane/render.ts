/** Draws a running topology as text, for `iovisor topology show`. */
import type { TopologyView } from './dataplane.js';

/** The graph as lines: hosts, instances with their ports (stacks, peers, counters), links. */
export function renderTopology(v: TopologyView): string {
  const out: string[] = [];
  out.push(`dataplane ${v.name}  (netns ${v.netns}, pins ${v.pinDir})`);
  if (v.hosts.length) {
    out.push('', 'hosts');
    for (const h of v.hosts) {
      const addr = [h.config.address, h.config.address6].filter(Boolean).join(', ') || '-';
      const gw = [h.config.gateway, h.config.gateway6].filter(Boolean).join(', ');
      out.push(
        `  ${h.name.padEnd(12)} ${addr}${gw ? ` via ${gw}` : ''}${h.link ? `  ──── ${h.link}` : ''}`,
      );
    }
  }
  if (v.instances.length) {
    out.push('', 'modules');
    for (const i of v.instances) {
      if (i.kind === 'transparent') {
        out.push(
          `  ${i.name} (${i.type}, transparent, slot ${i.id})  on ${i.attachedTo.join(', ') || '(nothing)'}`,
        );
        continue;
      }
      out.push(`  ${i.name} (${i.type}, ${i.hook}, slot ${i.id})`);
      for (const p of i.ports) {
        const stack = p.stack.length ? `═[${p.stack.join('│')}]═` : '────';
        const s = p.stats;
        out.push(
          `    ${p.name.padEnd(6)} ${stack} ${(p.peer ?? '(down)').padEnd(14)} rx ${s.rxPackets} pkts  tx ${s.txPackets} pkts  drops ${s.drops}`,
        );
      }
    }
  }
  if (v.links.length) {
    out.push('', 'links');
    for (const [a, b] of v.links) out.push(`  ${a} ──── ${b}`);
  }
  return out.join('\n');
}
