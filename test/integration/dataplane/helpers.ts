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

/**
 * The chain topology of the data-plane tests: host a → br1 → r1 → br2 → host b, with the
 * monitor mon1 on r1:p2. `hooks` puts instances on a hook other than the default (tcx).
 */
export function chainYaml(
  a: string,
  b: string,
  hooks: { br1?: 'xdp'; r1?: 'xdp'; br2?: 'xdp' } = {},
  br2Extra = '',
): string {
  const hook = (name: keyof typeof hooks): string => (hooks[name] ? `, hook: ${hooks[name]}` : '');
  return `
hosts:
  ${a}: { address: 198.18.1.10/24, gateway: 198.18.1.1 }
  ${b}: { address: 198.18.2.10/24, gateway: 198.18.2.1 }
modules:
  br1: { type: bridge${hook('br1')} }
  r1:
    type: router${hooks.r1 ? `\n    hook: ${hooks.r1}` : ''}
    ports:
      p1: { address: 198.18.1.1/24 }
      p2: { address: 198.18.2.1/24 }
  br2: { type: bridge${hook('br2')}${br2Extra} }
  mon1: { type: monitor, attach: r1:p2 }
links:
  - [${a}, br1:p1]
  - [br1:p2, r1:p1]
  - [r1:p2, br2:p1]
  - [br2:p2, ${b}]
`;
}
