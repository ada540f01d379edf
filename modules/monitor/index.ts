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

class MonitorController implements ModuleController {
  private top = 10;
  constructor(private readonly ctx: InstanceContext) {}

  configure(config: Record<string, unknown>): void {
    this.top = (config.top as number | undefined) ?? 10;
  }

  private names(): Map<number, string> {
    return new Map(this.ctx.attachments().map((a) => [a.gid, `${a.instance}:${a.port}`]));
  }

  /** Per-port counters. */
  ports(): PortCounters[] {
    const names = this.names();
    const m = this.ctx.map('mon_ports');
    const out: PortCounters[] = [];
    for (const k of keys(m)) {
      const dv = new DataView(k.buffer);
      const gid = dv.getUint32(0, true);
      const raw = m.lookupBytes(k);
      if (!raw || !names.has(gid)) continue;
      out.push({
        port: names.get(gid)!,
        dir: dv.getUint32(4, true) === 0 ? 'in' : 'out',
        ...sumPerCpu(raw),
        drops: this.ctx.portStats(gid).drops,
      });
    }
    return out.sort((a, b) => a.port.localeCompare(b.port) || a.dir.localeCompare(b.dir));
  }

  /** Per-flow counters, largest first. */
  flows(): FlowCounters[] {
    const names = this.names();
    const m = this.ctx.map('mon_flows');
    const out: FlowCounters[] = [];
    for (const k of keys(m)) {
      const raw = m.lookupBytes(k);
      if (!raw) continue;
      const dv = new DataView(k.buffer);
      const family = k[37];
      const gid = dv.getUint32(40, true);
      const addr = (off: number): string =>
        ipText(family === 4 ? k.subarray(off, off + 4) : k.subarray(off, off + 16));
      out.push({
        port: names.get(gid) ?? `#${gid}`,
        dir: dv.getUint32(44, true) === 0 ? 'in' : 'out',
        src: addr(0),
        dst: addr(16),
        sport: dv.getUint16(32, true),
        dport: dv.getUint16(34, true),
        proto: k[36]!,
        ...sumPerCpu(raw),
      });
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
