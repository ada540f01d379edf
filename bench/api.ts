/**
 * API benchmark: requests per second on the daemon's status endpoints over its unix socket
 * (keep-alive, 32 concurrent clients), against a bare Node HTTP server answering a constant JSON
 * on a unix socket as the ceiling; and the time to apply a topology of 100 module instances,
 * with the fake data plane (the daemon's own cost: checks, diff, store fsync) and, as root, with
 * the real one (100 bridge instances loaded into the kernel and linked in a chain).
 * Writes docs/benchmarks-api.md. Run: node dist/bench/api.js
 */
import http from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DaemonClient, FakeDataplane, startDaemon, type Daemon } from '../src/daemon/index.js';
import { openDataplane } from '../src/daemon/dataplane-adapter.js';
import { ROOT, machine } from './common.js';

const DURATION_MS = 3000;
const CONCURRENCY = 32;

async function rps(client: DaemonClient, p: string): Promise<number> {
  let n = 0;
  const end = Date.now() + DURATION_MS;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (Date.now() < end) {
        const r = await client.raw('GET', p);
        if (r.status !== 200) throw new Error(`${p}: ${r.status} ${r.text}`);
        n++;
      }
    }),
  );
  return n / (DURATION_MS / 1000);
}

function chain(n: number): unknown {
  const modules: Record<string, unknown> = {};
  const links: [string, string][] = [];
  for (let i = 0; i < n; i++) {
    modules[`b${i}`] = { type: 'bridge', ports: { a: {}, b: {} } };
    if (i > 0) links.push([`b${i - 1}:b`, `b${i}:a`]);
  }
  return { modules, links };
}

async function timeApply(
  d: Daemon,
  client: DaemonClient,
  n: number,
): Promise<{ apply: number; del: number }> {
  const t0 = performance.now();
  await client.request('PUT', '/api/v1/topology', chain(n));
  const t1 = performance.now();
  await client.request('DELETE', '/api/v1/topology');
  const t2 = performance.now();
  void d;
  return { apply: t1 - t0, del: t2 - t1 };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'iovisord-bench-'));
  const rows: string[] = [];
  try {
    // Ceiling: a bare Node HTTP server on a unix socket.
    const bareSock = path.join(dir, 'bare.sock');
    const body = JSON.stringify({ ok: true });
    const bare = http.createServer((_q, s) => {
      s.writeHead(200, {
        'Content-Type': 'application/json',
        'Content-Length': String(body.length),
      });
      s.end(body);
    });
    await new Promise<void>((r) => bare.listen(bareSock, r));
    const bareClient = new DaemonClient({ socketPath: bareSock });
    await rps(bareClient, '/'); // warm-up: the first run also measures the JIT
    const ceiling = await rps(bareClient, '/');
    bareClient.close();
    bare.close();

    const fake = new FakeDataplane();
    const d = await startDaemon({
      dataplane: fake,
      stateDir: path.join(dir, 'state'),
      socket: path.join(dir, 'd.sock'),
      reconcileMs: 0,
      log: () => undefined,
    });
    const c = new DaemonClient({ socketPath: d.socketPath! });
    await c.request('PUT', '/api/v1/topology', chain(10));
    const eps = [
      '/api/v1/health',
      '/api/v1/status',
      '/api/v1/counters',
      '/api/v1/topology/running',
      '/metrics',
    ];
    rows.push(`| bare Node HTTP server (ceiling) | ${ceiling.toFixed(0)} | 1.00 |`);
    for (const p of eps) await rps(c, p); // warm-up
    for (const p of eps) {
      const r = await rps(c, p);
      rows.push(`| GET ${p} | ${r.toFixed(0)} | ${(r / ceiling).toFixed(2)} |`);
      console.error(`${p}: ${r.toFixed(0)} req/s`);
    }
    await c.request('DELETE', '/api/v1/topology');
    const fakeTimes = await timeApply(d, c, 100);
    c.close();
    await d.close();

    let real: { apply: number; del: number } | undefined;
    let realNote = 'not run (needs root and bpffs)';
    if (process.getuid?.() === 0) {
      const name = `iovbench${process.pid}`;
      const dp = await openDataplane({
        name,
        stateDir: path.join(dir, 'real-state'),
        log: () => undefined,
      });
      const d2 = await startDaemon({
        dataplane: dp,
        stateDir: path.join(dir, 'real-state'),
        socket: path.join(dir, 'r.sock'),
        reconcileMs: 0,
        log: () => undefined,
      });
      const c2 = new DaemonClient({ socketPath: d2.socketPath! });
      try {
        real = await timeApply(d2, c2, 100);
        realNote = 'measured';
      } finally {
        c2.close();
        await d2.close({ teardown: true });
      }
    }

    const md = `# API benchmarks

Measured by \`bench/api.ts\` (\`node dist/bench/api.js\`) on ${machine()}.

## Requests per second (unix socket, keep-alive, ${CONCURRENCY} concurrent clients, ${DURATION_MS / 1000} s each)

The peer is a bare Node \`http\` server on a unix socket answering a constant JSON body: the
ceiling for any API served by Node on this machine. Status endpoints ran against a topology of
10 instances (fake data plane, so the numbers are the daemon's own cost).

| endpoint | requests/s | ratio to bare Node |
| --- | ---: | ---: |
${rows.join('\n')}

## Applying a topology of 100 module instances

100 bridge instances with two ports each, linked in a chain (99 links), applied with one
\`PUT /api/v1/topology\` and removed with \`DELETE /api/v1/topology\`.

| data plane | apply | delete |
| --- | ---: | ---: |
| fake (daemon cost: checks, diff, atomic store write) | ${fakeTimes.apply.toFixed(1)} ms | ${fakeTimes.del.toFixed(1)} ms |
| real (kernel: load, pin, patch panel; ${realNote}) | ${real ? `${real.apply.toFixed(0)} ms (${(real.apply / 100).toFixed(1)} ms/instance)` : '–'} | ${real ? `${real.del.toFixed(0)} ms` : '–'} |
`;
    writeFileSync(path.join(ROOT, 'docs', 'benchmarks-api.md'), md);
    process.stdout.write(md);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
