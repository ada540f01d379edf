/**
 * Data-plane test helpers: a data plane with a unique name (its namespace and pin directory)
 * and unique host names, always torn down, even when the test fails.
 */
import { Dataplane } from '../../../src/dataplane/index.js';
import { builtinModules } from '../../../modules/index.js';
import { exec, type ExecResult } from '../../helpers/netns.js';

let n = 0;

/** A unique short prefix for host names in this process: "t<pid>x<n>". */
export function uniquePrefix(): string {
  return `t${process.pid}x${++n}`;
}

/** Opens a data plane named uniquely, runs fn, and always closes it (namespaces included). */
export async function withDataplane<T>(
  fn: (dp: Dataplane, prefix: string) => T | Promise<T>,
): Promise<T> {
  const prefix = uniquePrefix();
  const logs: string[] = [];
  const dp = Dataplane.open({
    name: `iovt-${process.pid}-dp${n}`,
    types: builtinModules,
    log: (m) => logs.push(m),
  });
  try {
    return await fn(dp, prefix);
  } catch (err) {
    if (process.env.IOVISOR_DEBUG) console.error(logs.join('\n'));
    throw err;
  } finally {
    dp.close();
  }
}

/** Pings `ip` from host namespace `ns` `count` times (one second apart at most). */
export async function ping(ns: string, ip: string, count = 1): Promise<ExecResult> {
  return exec(ns, 'ping', ['-n', '-c', String(count), '-i', '0.2', '-W', '2', ip]);
}
