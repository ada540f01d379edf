/**
 * Starts a daemon on a private socket and state directory for a test, with the fake data plane
 * unless one is given, and removes everything afterwards.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  DaemonClient,
  FakeDataplane,
  startDaemon,
  type Daemon,
  type DaemonOptions,
  type DataplanePort,
} from '../../../src/daemon/index.js';

/** A daemon under test. */
export interface TestDaemon {
  daemon: Daemon;
  client: DaemonClient;
  dp: DataplanePort;
  dir: string;
  stop(): Promise<void>;
}

/** A topology with two hosts on a bridge, the shape most tests use. */
export const SMALL = {
  hosts: { h1: { address: '198.18.1.1/24' }, h2: { address: '198.18.1.2/24' } },
  modules: { br0: { type: 'bridge', ports: { p1: {}, p2: {} } } },
  links: [
    ['h1', 'br0:p1'],
    ['br0:p2', 'h2'],
  ],
};

/** Starts a daemon; `dir` reuses a state directory (restart tests). */
export async function testDaemon(
  opts: Partial<DaemonOptions> & { dir?: string; dp?: DataplanePort } = {},
): Promise<TestDaemon> {
  const dir = opts.dir ?? mkdtempSync(path.join(tmpdir(), 'iovisord-test-'));
  const dp = opts.dp ?? new FakeDataplane();
  const daemon = await startDaemon({
    dataplane: dp,
    stateDir: path.join(dir, 'state'),
    socket: path.join(dir, 'iovisord.sock'),
    reconcileMs: 0,
    log: () => undefined,
    ...opts,
  });
  const client = new DaemonClient({ socketPath: daemon.socketPath! });
  return {
    daemon,
    client,
    dp,
    dir,
    async stop() {
      client.close();
      await daemon.close();
      if (!opts.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
