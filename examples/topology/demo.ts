/**
 * The data-plane demo: applies examples/topology/demo.yaml with the library (hosts h1, h2, h3;
 * a bridge, a router and a monitor on the router's port toward h3), sends real traffic (ping
 * and UDP) between hosts, prints the monitor's live counters, and cleans everything up.
 *
 *   npx tsc -p . && sudo node dist/examples/topology/demo.js
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { builtinModules } from '../../modules/index.js';
import { applyTopology, Dataplane, renderTopology, repoRoot } from '../../src/dataplane/index.js';

/** Runs a command in a host's namespace without blocking the event loop (the slow path needs it). */
async function inNs(ns: string, cmd: string[]): Promise<string> {
  try {
    const r = await promisify(execFile)('ip', ['netns', 'exec', ns, ...cmd], { encoding: 'utf8' });
    return (r.stdout + r.stderr).trim();
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    return `${e.stdout ?? ''}${e.stderr ?? ''}`.trim();
  }
}

const yaml = readFileSync(path.join(repoRoot(), 'examples/topology/demo.yaml'), 'utf8');
const dp = Dataplane.open({
  name: 'iovisor-demo',
  types: builtinModules,
  log: (m) => process.env.IOVISOR_DEBUG && console.error(m),
});
try {
  const r = applyTopology(dp, yaml);
  console.log(`applied ${r.changes.length} changes:\n  ${r.changes.join('\n  ')}\n`);
  console.log(
    (await inNs('h1', ['ping', '-c', '3', '-i', '0.2', '198.18.1.11'])).split('\n').at(-2),
  );
  console.log(
    (await inNs('h1', ['ping', '-c', '3', '-i', '0.2', '198.18.2.10'])).split('\n').at(-2),
  );
  // A steady UDP stream from h2 (subnet 1) through bridge and router to h3 (subnet 2) for 4 s,
  // 25 datagrams every 50 ms, while the monitor's counters are read live once a second.
  const udp = `const s=require('dgram').createSocket('udp4');let n=0;const t=setInterval(()=>{for(let i=0;i<25;i++)s.send(Buffer.alloc(100),9999,'198.18.2.10');if(++n>=80){clearInterval(t);setTimeout(()=>s.close(),100)}},50);`;
  const sending = inNs('h2', [process.execPath, '-e', udp]);
  type MonitorStatus = {
    ports: { port: string; dir: string; packets: number; bytes: number; drops: number }[];
    topTalkers: { src: string; packets: number; bytes: number }[];
  };
  console.log('\nlive: UDP h2 -> h3 through br1, r1 (monitor mon1 on r1:p2)');
  const started = Date.now();
  let done = false;
  void sending.then(() => (done = true));
  while (!done) {
    await new Promise((res) => setTimeout(res, 1000));
    const live = dp.status('mon1') as MonitorStatus;
    const out = live.ports.find((p) => p.dir === 'out');
    const secs = ((Date.now() - started) / 1000).toFixed(1).padStart(4);
    console.log(
      `  [${secs}s] r1:p2 out ${out?.packets ?? 0} packets ${out?.bytes ?? 0} bytes, drops ${out?.drops ?? 0}`,
    );
  }
  console.log('\n' + renderTopology(dp.topology()) + '\n');
  const mon = dp.status('mon1') as MonitorStatus;
  console.log('monitor mon1 on r1:p2');
  for (const p of mon.ports)
    console.log(
      `  ${p.port} ${p.dir.padEnd(3)} ${p.packets} packets ${p.bytes} bytes, drops ${p.drops}`,
    );
  console.log('top talkers');
  for (const t of mon.topTalkers)
    console.log(`  ${t.src.padEnd(16)} ${t.packets} packets ${t.bytes} bytes`);
} finally {
  dp.close();
  console.log('\ncleaned up');
}
