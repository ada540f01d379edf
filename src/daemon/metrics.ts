/**
 * Prometheus text exposition (format 0.0.4) of the data plane's counters and the daemon's own
 * health: per port and per module packets, bytes and drops, program run time when the kernel's
 * BPF stats are on, and reconcile and API counts.
 */
import type { Counters } from './dataplane-port.js';

/** Daemon-side numbers exported next to the data plane's counters. */
export interface DaemonMetrics {
  generation: number;
  reconciles: number;
  drifts: number;
  reconcileErrors: number;
  /** Requests answered, by status code. */
  requests: Map<number, number>;
  wsClients: number;
  instances: number;
  links: number;
}

/** Escapes a label value (backslash, double quote, newline). */
export function labelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function labels(l: Record<string, string>): string {
  return `{${Object.entries(l)
    .map(([k, v]) => `${k}="${labelValue(v)}"`)
    .join(',')}}`;
}

/** Renders counters and daemon metrics as Prometheus text. */
export function renderMetrics(c: Counters, types: Map<string, string>, d: DaemonMetrics): string {
  const out: string[] = [];
  const family = (name: string, type: 'counter' | 'gauge', help: string, rows: string[]): void => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...rows);
  };
  const pk: string[] = [];
  const by: string[] = [];
  const dr: string[] = [];
  for (const [id, p] of Object.entries(c.ports)) {
    const i = id.indexOf(':');
    const base = { instance: id.slice(0, i), port: id.slice(i + 1) };
    pk.push(`iovisor_port_packets_total${labels({ ...base, direction: 'rx' })} ${p.rxPackets}`);
    pk.push(`iovisor_port_packets_total${labels({ ...base, direction: 'tx' })} ${p.txPackets}`);
    by.push(`iovisor_port_bytes_total${labels({ ...base, direction: 'rx' })} ${p.rxBytes}`);
    by.push(`iovisor_port_bytes_total${labels({ ...base, direction: 'tx' })} ${p.txBytes}`);
    dr.push(`iovisor_port_drops_total${labels(base)} ${p.drops}`);
  }
  family(
    'iovisor_port_packets_total',
    'counter',
    'Packets through a port (rx: into the module).',
    pk,
  );
  family('iovisor_port_bytes_total', 'counter', 'Bytes through a port.', by);
  family('iovisor_port_drops_total', 'counter', 'Packets dropped at a port.', dr);
  const mp: string[] = [];
  const mb: string[] = [];
  const md: string[] = [];
  const rc: string[] = [];
  const rt: string[] = [];
  for (const [name, m] of Object.entries(c.modules)) {
    const l = labels({ instance: name, type: types.get(name) ?? 'unknown' });
    mp.push(`iovisor_module_packets_total${l} ${m.packets}`);
    mb.push(`iovisor_module_bytes_total${l} ${m.bytes}`);
    md.push(`iovisor_module_drops_total${l} ${m.drops}`);
    if (m.runCount !== undefined) rc.push(`iovisor_module_program_runs_total${l} ${m.runCount}`);
    if (m.runTimeNs !== undefined)
      rt.push(`iovisor_module_program_run_seconds_total${l} ${m.runTimeNs / 1e9}`);
  }
  family('iovisor_module_packets_total', 'counter', 'Packets into a module instance.', mp);
  family('iovisor_module_bytes_total', 'counter', 'Bytes into a module instance.', mb);
  family('iovisor_module_drops_total', 'counter', 'Packets a module instance dropped.', md);
  if (rc.length)
    family('iovisor_module_program_runs_total', 'counter', 'Runs of the module program.', rc);
  if (rt.length)
    family(
      'iovisor_module_program_run_seconds_total',
      'counter',
      'Time spent in the module program (kernel BPF stats).',
      rt,
    );
  family('iovisor_instances', 'gauge', 'Module instances running.', [
    `iovisor_instances ${d.instances}`,
  ]);
  family('iovisor_links', 'gauge', 'Links in the running topology.', [`iovisor_links ${d.links}`]);
  family('iovisor_state_generation', 'gauge', 'Generation of the desired state.', [
    `iovisor_state_generation ${d.generation}`,
  ]);
  family('iovisor_reconcile_total', 'counter', 'Reconcile loop runs.', [
    `iovisor_reconcile_total ${d.reconciles}`,
  ]);
  family('iovisor_reconcile_drift_total', 'counter', 'Reconciles that found and repaired drift.', [
    `iovisor_reconcile_drift_total ${d.drifts}`,
  ]);
  family('iovisor_reconcile_errors_total', 'counter', 'Reconciles that failed.', [
    `iovisor_reconcile_errors_total ${d.reconcileErrors}`,
  ]);
  family(
    'iovisor_api_requests_total',
    'counter',
    'API requests answered, by status code.',
    [...d.requests.entries()].map(([code, n]) => `iovisor_api_requests_total{code="${code}"} ${n}`),
  );
  family('iovisor_websocket_clients', 'gauge', 'Open event streams.', [
    `iovisor_websocket_clients ${d.wsClients}`,
  ]);
  return out.join('\n') + '\n';
}
