/** Running iovisord as a separate process in tests, and a paced UDP sender for traffic. */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DaemonClient } from '../../../src/daemon/index.js';

/** The compiled daemon entry point next to this compiled helper. */
export const MAIN = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../../src/daemon/main.js',
);

/** Sends `total` datagrams at a steady pace from inside a namespace; prints the count sent. */
export const PACED = `
const dgram = require('node:dgram');
const [dst, port, total] = process.argv.slice(1);
const s = dgram.createSocket('udp4');
let sent = 0;
const payload = Buffer.alloc(64, 7);
const t = setInterval(() => {
  for (let i = 0; i < 10 && sent < Number(total); i++) s.send(payload, Number(port), dst, () => undefined), sent++;
  if (sent >= Number(total)) { clearInterval(t); setTimeout(() => { console.log(sent); s.close(); }, 200); }
}, 5);
`;

/** Starts iovisord with `args`, prefixing its stderr with its pid. */
export function startDaemonProcess(args: string[]): ChildProcess {
  const c = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  c.stderr!.setEncoding('utf8').on('data', (d: string) =>
    process.stderr.write(`[iovisord ${c.pid}] ${d}`),
  );
  return c;
}

/** Waits until the daemon at `sock` answers its health check. */
export async function ready(client: DaemonClient, sock: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (existsSync(sock)) {
      try {
        await client.get('/api/v1/health');
        return;
      } catch {
        // not yet
      }
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('iovisord did not come up');
}
