/**
 * bridge: the control plane of the learning-switch IO module. It writes port modes and VLANs,
 * static entries and the aging time into the data plane's maps, ages learned entries out, and
 * reads the MAC table back live.
 */
import path from 'node:path';
import type { BpfMap } from '../../src/bpf/index.js';
import {
  durationNs,
  repoRoot,
  type InstanceContext,
  type ModuleController,
  type ModuleType,
  type PortInfo,
  type Schema,
} from '../../src/dataplane/index.js';

const MAX_PORTS = 16;
const FDB_STATIC = 1;
const DEFAULT_AGING = '300s';

/** Config of a bridge instance. */
export interface BridgeConfig {
  /** How long a learned entry lives without traffic (default 300s). */
  aging?: string | number;
  /** Entries that never age and are never re-learned elsewhere. */
  static?: { mac: string; port: string; vlan?: number }[];
}

const vlanId: Schema = { type: 'integer', minimum: 1, maximum: 4094 };

/** Instance config schema. */
export const bridgeSchema: Schema & { type: 'object' } = {
  type: 'object',
  properties: {
    aging: {
      type: 'oneOf',
      options: [
        { type: 'string', format: 'duration' },
        { type: 'integer', minimum: 1, maximum: 86400 },
      ],
      description: 'lifetime of learned entries (seconds or "300s")',
    },
    static: {
      type: 'array',
      maxItems: 1024,
      items: {
        type: 'object',
        properties: {
          mac: { type: 'string', format: 'mac' },
          port: { type: 'string' },
          vlan: vlanId,
        },
        required: ['mac', 'port'],
      },
    },
  },
};

/** Port config schema. */
export const bridgePortSchema: Schema & { type: 'object' } = {
  type: 'object',
  properties: {
    mode: { type: 'string', enum: ['access', 'trunk'] },
    vlan: { ...vlanId, description: 'access VLAN, or the native (untagged) VLAN of a trunk' },
    vlans: { type: 'array', items: vlanId, maxItems: 4094 },
    mac: { type: 'string', format: 'mac' },
  },
};

/** A learned or static entry of the MAC table. */
export interface FdbEntry {
  mac: string;
  vlan: number;
  port: string;
  static: boolean;
  /** Seconds since the entry was last refreshed (0 for static entries). */
  age: number;
}

function macBytes(mac: string): Uint8Array {
  return Uint8Array.from(mac.split(':').map((h) => parseInt(h, 16)));
}

function macText(b: Uint8Array): string {
  return Array.from(b.subarray(0, 6), (x) => x.toString(16).padStart(2, '0')).join(':');
}

function fdbKey(mac: string, vlan: number): Uint8Array {
  const k = new Uint8Array(8);
  k.set(macBytes(mac));
  new DataView(k.buffer).setUint16(6, vlan, true);
  return k;
}

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
}

class BridgeController implements ModuleController {
  private statics: { mac: string; port: string; vlan: number }[] = [];
  private agingNs = durationNs(DEFAULT_AGING);
  private timer?: NodeJS.Timeout;

  constructor(private readonly ctx: InstanceContext) {}

  private map(name: string): BpfMap {
    return this.ctx.map(name);
  }

  configure(config: Record<string, unknown>): void {
    const c = config as BridgeConfig;
    this.agingNs = durationNs(c.aging ?? DEFAULT_AGING);
    const cfg = new Uint8Array(8);
    new DataView(cfg.buffer).setBigUint64(0, this.agingNs, true);
    this.map('br_config').updateBytes(u32(0), cfg);
    // Static entries: remove the old ones, write the new ones for ports that exist.
    for (const s of this.statics) this.map('br_fdb').delete(fdbKey(s.mac, s.vlan));
    this.statics = (c.static ?? []).map((s) => ({
      mac: s.mac.toLowerCase(),
      port: s.port,
      vlan: s.vlan ?? 1,
    }));
    this.writeStatics();
    clearInterval(this.timer);
    const every = Math.max(1000, Math.min(Number(this.agingNs / 2_000_000n), 60_000));
    this.timer = setInterval(() => this.age(), every);
    this.timer.unref();
  }

  private writeStatics(): void {
    const ports = new Map(this.ctx.ports().map((p) => [p.name, p]));
    for (const s of this.statics) {
      const p = ports.get(s.port);
      if (!p) continue;
      const v = new Uint8Array(16);
      const dv = new DataView(v.buffer);
      dv.setUint32(0, p.index, true);
      dv.setUint32(4, FDB_STATIC, true);
      this.map('br_fdb').updateBytes(fdbKey(s.mac, s.vlan), v);
    }
  }

  portAdded(port: PortInfo): void {
    const c = port.config as { mode?: string; vlan?: number; vlans?: number[] };
    const v = new Uint8Array(520);
    const dv = new DataView(v.buffer);
    dv.setUint8(0, 1);
    dv.setUint8(1, c.mode === 'trunk' ? 1 : 0);
    dv.setUint16(2, c.vlan ?? (c.mode === 'trunk' ? 0 : 1), true);
    for (const id of c.vlans ?? []) {
      const off = 8 + (id >> 6) * 8;
      dv.setBigUint64(off, dv.getBigUint64(off, true) | (1n << BigInt(id & 63)), true);
    }
    if (port.index >= MAX_PORTS)
      throw new Error(`bridge ${this.ctx.name}: at most ${MAX_PORTS} ports`);
    this.map('br_ports').updateBytes(u32(port.index), v);
    this.writeStatics();
  }

  portRemoved(port: PortInfo): void {
    this.map('br_ports').updateBytes(u32(port.index), new Uint8Array(520));
    this.flushPort(port.index);
  }

  /** Forgets what was learned behind a port (its peer changed). */
  peerChanged(port: PortInfo): void {
    this.flushPort(port.index, true);
  }

  private flushPort(index: number, learnedOnly = false): void {
    for (const [k, v] of this.rawEntries()) {
      const dv = new DataView(v.buffer, v.byteOffset);
      if (dv.getUint32(0, true) !== index) continue;
      if (learnedOnly && dv.getUint32(4, true) & FDB_STATIC) continue;
      this.map('br_fdb').delete(k);
    }
  }

  private rawEntries(): [Uint8Array, Uint8Array][] {
    const out: [Uint8Array, Uint8Array][] = [];
    const m = this.map('br_fdb');
    let key: Uint8Array | undefined;
    while ((key = m.nextKeyBytes(key)) !== undefined) {
      const k = key.slice();
      const v = m.lookupBytes(k);
      if (v) out.push([k, v.slice()]);
    }
    return out;
  }

  /** Removes learned entries older than the aging time (the data plane already ignores them). */
  age(): number {
    const now = process.hrtime.bigint();
    let n = 0;
    for (const [k, v] of this.rawEntries()) {
      const dv = new DataView(v.buffer, v.byteOffset);
      if (dv.getUint32(4, true) & FDB_STATIC) continue;
      if (now - dv.getBigUint64(8, true) > this.agingNs) {
        this.map('br_fdb').delete(k);
        n++;
      }
    }
    return n;
  }

  /** The MAC table. */
  fdb(): FdbEntry[] {
    const names = new Map(this.ctx.ports().map((p) => [p.index, p.name]));
    const now = process.hrtime.bigint();
    return this.rawEntries()
      .map(([k, v]) => {
        const kd = new DataView(k.buffer, k.byteOffset);
        const vd = new DataView(v.buffer, v.byteOffset);
        const isStatic = (vd.getUint32(4, true) & FDB_STATIC) !== 0;
        const port = vd.getUint32(0, true);
        return {
          mac: macText(k),
          vlan: kd.getUint16(6, true),
          port: names.get(port) ?? `#${port}`,
          static: isStatic,
          age: isStatic ? 0 : Number(now - vd.getBigUint64(8, true)) / 1e9,
        };
      })
      .filter((e) => e.static || e.age * 1e9 <= Number(this.agingNs))
      .sort((a, b) => a.mac.localeCompare(b.mac) || a.vlan - b.vlan);
  }

  status(): unknown {
    return {
      version: this.ctx.variable('bridge_version'),
      agingSeconds: Number(this.agingNs) / 1e9,
      fdb: this.fdb(),
    };
  }

  close(): void {
    clearInterval(this.timer);
  }
}

const dir = path.join(repoRoot(), 'modules/bridge');

/** The bridge module type. */
export const bridge: ModuleType = {
  name: 'bridge',
  kind: 'standard',
  description: '802.1Q learning switch: MAC learning with aging, flooding, static entries, VLANs',
  object: path.join(dir, 'bridge.bpf.o'),
  source: path.join(dir, 'bridge.bpf.c'),
  program: 'bridge',
  readme: path.join(dir, 'README.md'),
  schema: bridgeSchema,
  portSchema: bridgePortSchema,
  maxPorts: MAX_PORTS,
  create: (ctx) => new BridgeController(ctx),
};
