/**
 * monitor: the control plane of the transparent monitoring IO module. Reads per-port and
 * per-flow counters (summed over CPUs) live from the data plane and ranks top talkers; drops
 * come from the patch panel's counters of the ports it watches.
 */
import path from 'node:path';
import type { BpfMap } from '../../src/bpf/index.js';
import {
  ipText,
  repoRoot,
  type AttachmentInfo,
  type InstanceContext,
  type ModuleController,
  type ModuleType,
  type Schema,
} from '../../src/dataplane/index.js';

/** Instance config schema. */
export const monitorSchema: Schema & { type: 'object' } = {
  type: 'object',
  properties: {
    top: { type: 'integer', minimum: 1, maximum: 1000, description: 'top talkers to report' },
  },
};

/** Counters of one watched port and direction. */
export interface PortCounters {
  port: string;
  dir: 'in' | 'out';
  packets: number;
  bytes: number;
  /** Drops the patch panel counted at this port (both directions). */
  drops: number;
}

/** Counters of one flow seen at a port. */
export interface FlowCounters {
  port: string;
  dir: 'in' | 'out';
  src: string;
  dst: string;
  proto: number;
  sport: number;
  dport: number;
  packets: number;
  bytes: number;
}

/** The monitor's live view. */
export interface MonitorStatus {
  version: unknown;
  ports: PortCounters[];
  flows: FlowCounters[];
  topTalkers: { src: string; packets: number; bytes: number }[];
}

function sumPerCpu(raw: Uint8Array): { packets: number; bytes: number } {
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  let packets = 0;
  let bytes = 0;
  for (let o = 0; o + 16 <= raw.byteLength; o += 16) {
    packets += Number(dv.getBigUint64(o, true));
    bytes += Number(dv.getBigUint64(o + 8, true));
  }
  return { packets, bytes };
}

function keys(m: BpfMap): Uint8Array[] {
  const out: Uint8Array[] = [];
  let k: Uint8Array | undefined;
  while ((k = m.nextKeyBytes(k)) !== undefined) out.push(k.slice());
  return out;
}

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n >>> 0, true);
  return b;
}

/** Counter slots per monitor instance (MON_MAX_PORTS in monitor.bpf.c). */
export const MONITOR_MAX_PORTS = 64;

/** Flow maps: key layout per family (struct mon_flow4 / mon_flow6 in monitor.bpf.c). */
const FLOW_MAPS = [
  { map: 'mon_flows4', addr: 4, tail: 8 },
  { map: 'mon_flows6', addr: 16, tail: 32 },
] as const;

class MonitorController implements ModuleController {
  private top = 10;
  /** gid -> counter slot (mirrors mon_slot, which holds slot + 1). */
  private readonly slots = new Map<number, number>();
  constructor(private readonly ctx: InstanceContext) {}

  configure(config: Record<string, unknown>): void {
    this.top = (config.top as number | undefined) ?? 10;
    // After an adoption the pinned mon_slot already holds the attachments' slots: keep them
    // (their counters survive) and only give a slot to an attachment that has none.
    const m = this.ctx.map('mon_slot');
    for (const a of this.ctx.attachments()) {
      const v = m.lookupBytes(u32(a.gid));
      const s = v ? new DataView(v.buffer, v.byteOffset).getUint32(0, true) : 0;
      if (s) this.slots.set(a.gid, s - 1);
    }
    for (const a of this.ctx.attachments()) if (!this.slots.has(a.gid)) this.attached(a);
  }

  /** Gives the port a counter slot (zeroed) before the chain names this monitor. */
  attached(at: AttachmentInfo): void {
    if (this.slots.has(at.gid)) return;
    const used = new Set(this.slots.values());
    let slot = 0;
    while (used.has(slot)) slot++;
    if (slot >= MONITOR_MAX_PORTS)
      throw new Error(
        `${this.ctx.name}: a monitor watches at most ${MONITOR_MAX_PORTS} ports (attach to ${at.instance}:${at.port})`,
      );
    const ports = this.ctx.map('mon_ports');
    for (const k of [slot * 2, slot * 2 + 1]) {
      const cur = ports.lookupBytes(u32(k));
      if (cur) ports.updateBytes(u32(k), new Uint8Array(cur.byteLength));
    }
    this.ctx.map('mon_slot').updateBytes(u32(at.gid), u32(slot + 1));
    this.slots.set(at.gid, slot);
  }

  detached(at: AttachmentInfo): void {
    if (!this.slots.has(at.gid)) return;
    this.ctx.map('mon_slot').updateBytes(u32(at.gid), u32(0));
    this.slots.delete(at.gid);
  }

  private names(): Map<number, string> {
    return new Map(this.ctx.attachments().map((a) => [a.gid, `${a.instance}:${a.port}`]));
  }

  /** Per-port counters. */
  ports(): PortCounters[] {
    const m = this.ctx.map('mon_ports');
    const out: PortCounters[] = [];
    for (const [gid, port] of this.names()) {
      const slot = this.slots.get(gid);
      if (slot === undefined) continue;
      const drops = this.ctx.portStats(gid).drops;
      for (const dir of [0, 1]) {
        const raw = m.lookupBytes(u32(slot * 2 + dir));
        if (!raw) continue;
        out.push({ port, dir: dir === 0 ? 'in' : 'out', ...sumPerCpu(raw), drops });
      }
    }
    return out.sort((a, b) => a.port.localeCompare(b.port) || a.dir.localeCompare(b.dir));
  }

  /** Per-flow counters, largest first. */
  flows(): FlowCounters[] {
    const names = this.names();
    const out: FlowCounters[] = [];
    for (const f of FLOW_MAPS) {
      const m = this.ctx.map(f.map);
      for (const k of keys(m)) {
        const raw = m.lookupBytes(k);
        if (!raw) continue;
        const dv = new DataView(k.buffer);
        const t = f.tail;
        const gid = dv.getUint16(t + 6, true);
        out.push({
          port: names.get(gid) ?? `#${gid}`,
          dir: k[t + 5] === 0 ? 'in' : 'out',
          src: ipText(k.subarray(0, f.addr)),
          dst: ipText(k.subarray(f.addr, 2 * f.addr)),
          sport: dv.getUint16(t, true),
          dport: dv.getUint16(t + 2, true),
          proto: k[t + 4]!,
          ...sumPerCpu(raw),
        });
      }
    }
    return out.sort((a, b) => b.bytes - a.bytes);
  }

  status(): MonitorStatus {
    const flows = this.flows();
    const talkers = new Map<string, { src: string; packets: number; bytes: number }>();
    for (const f of flows) {
      const t = talkers.get(f.src) ?? { src: f.src, packets: 0, bytes: 0 };
      t.packets += f.packets;
      t.bytes += f.bytes;
      talkers.set(f.src, t);
    }
    return {
      version: this.ctx.variable('monitor_version'),
      ports: this.ports(),
      flows,
      topTalkers: [...talkers.values()].sort((a, b) => b.bytes - a.bytes).slice(0, this.top),
    };
  }
}

const dir = path.join(repoRoot(), 'modules/monitor');

/** The monitor module type. */
export const monitor: ModuleType = {
  name: 'monitor',
  kind: 'transparent',
  description: 'transparent monitor: per-port and per-flow packets/bytes, drops, top talkers',
  object: path.join(dir, 'monitor.bpf.o'),
  source: path.join(dir, 'monitor.bpf.c'),
  program: 'monitor',
  readme: path.join(dir, 'README.md'),
  schema: monitorSchema,
  create: (ctx) => new MonitorController(ctx),
};
