/**
 * Named network namespaces, compatible with `ip netns`: a namespace is kept alive by a bind
 * mount of its nsfs file on /run/netns/NAME. setns(2) and unshare(2) move only the calling
 * thread, and Node runs JavaScript on one thread, so every excursion into a namespace is short,
 * synchronous and always returns in a finally block.
 */
import { closeSync, mkdirSync, openSync, readdirSync, statSync, unlinkSync } from 'node:fs';
import { SysError, isErrno, sys } from '../sys/index.js';

/** Where iproute2 keeps named namespaces. */
export const NETNS_RUN_DIR = '/run/netns';
/** CLONE_NEWNET: the nstype for setns and the flag for unshare. */
export const CLONE_NEWNET = 0x40000000;

const MS_BIND = 0x1000;
const MS_REC = 0x4000;
const MS_SHARED = 1 << 20;
const MNT_DETACH = 2;

/** A namespace reference: a name under /run/netns, a path to an nsfs file, or an open fd. */
export type NetnsRef = string | number;

function checkName(name: string): void {
  if (name === '' || name === '.' || name === '..' || name.includes('/') || name.length > 255) {
    throw new Error(`netns: invalid namespace name ${JSON.stringify(name)}`);
  }
}

/** The path of a named namespace, or `ref` itself when it already is a path. */
export function netnsPath(ref: string): string {
  if (ref.includes('/')) return ref;
  checkName(ref);
  return `${NETNS_RUN_DIR}/${ref}`;
}

/**
 * Opens a namespace by name (or nsfs path) and returns its fd; the caller closes it. Throws a
 * SysError with code ENOENT when there is no such namespace.
 */
export function openNetnsFd(name: string): number {
  const path = netnsPath(name);
  try {
    return openSync(path, 'r');
  } catch (err) {
    throw fsError(`netns: open ${path}`, err);
  }
}

/** Turns a Node fs error into a SysError so callers branch on `code` the same way everywhere. */
function fsError(what: string, err: unknown): Error {
  const e = err as NodeJS.ErrnoException;
  if (typeof e?.errno !== 'number') return err as Error;
  const out = new SysError(what, Math.abs(e.errno));
  // SysError's stock wording is about bpf(); a file error reads better in Node's own words.
  out.message = `${what}: ${out.code}: ${e.message.replace(/^[A-Z]+: /, '').replace(/, \w+ '.*'$/, '')}`;
  return out;
}

/** The fd of the calling thread's own network namespace, to come back to. */
function currentNetnsFd(): number {
  return openSync('/proc/thread-self/ns/net', 'r');
}

/**
 * Runs synchronous `fn` with the calling thread inside the namespace `ns` (a name, nsfs path or
 * fd), and always returns to the original namespace, even when `fn` throws. Anything `fn` opens
 * there (netlink sockets, /proc/sys files) stays bound to that namespace.
 *
 * `fn` must not be async: its continuation would run after the thread is back home. A thenable
 * result is therefore rejected.
 */
export function withNetns<T>(ns: NetnsRef, fn: () => T): T {
  const target = typeof ns === 'number' ? ns : openNetnsFd(ns);
  try {
    const home = currentNetnsFd();
    try {
      sys().setns(target, CLONE_NEWNET);
      let result: T;
      try {
        result = fn();
      } finally {
        returnHome(home);
      }
      if (isThenable(result)) {
        throw new TypeError('withNetns: fn must be synchronous (it returned a promise)');
      }
      return result;
    } finally {
      closeSync(home);
    }
  } finally {
    if (typeof ns !== 'number') closeSync(target);
  }
}

/** Runs `fn` in `ns` when given, else right here. */
export function maybeInNetns<T>(ns: NetnsRef | undefined, fn: () => T): T {
  return ns === undefined ? fn() : withNetns(ns, fn);
}

function returnHome(home: number): void {
  try {
    sys().setns(home, CLONE_NEWNET);
  } catch (err) {
    // Staying in the wrong namespace would silently misdirect every later call; stop instead.
    process.emitWarning(`netns: cannot return to the original namespace: ${String(err)}`);
    throw err;
  }
}

function isThenable(v: unknown): boolean {
  return (
    typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function'
  );
}

/**
 * Makes /run/netns a shared mount point, as iproute2 does, so namespace mounts made here
 * propagate to other mount namespaces (e.g. those `ip netns exec` creates).
 */
function prepareRunDir(): void {
  mkdirSync(NETNS_RUN_DIR, { recursive: true, mode: 0o755 });
  const s = sys();
  try {
    s.mount('none', NETNS_RUN_DIR, 'none', MS_SHARED | MS_REC, null);
  } catch (err) {
    if (!isErrno(err, 'EINVAL')) throw err;
    // Not a mount point yet: bind it onto itself, then mark it shared.
    s.mount(NETNS_RUN_DIR, NETNS_RUN_DIR, 'none', MS_BIND | MS_REC, null);
    s.mount('none', NETNS_RUN_DIR, 'none', MS_SHARED | MS_REC, null);
  }
}

/**
 * Creates a named network namespace like `ip netns add NAME`: the calling thread unshares into
 * a fresh namespace, whose nsfs file is bind-mounted on /run/netns/NAME, then setns's back.
 * Throws SysError EEXIST when the name is taken.
 */
export function createNetns(name: string): void {
  checkName(name);
  prepareRunDir();
  const path = netnsPath(name);
  try {
    closeSync(openSync(path, 'wx', 0));
  } catch (err) {
    throw fsError(`netns: create ${path}`, err);
  }
  const s = sys();
  let home = -1;
  try {
    home = currentNetnsFd();
    try {
      s.unshare(CLONE_NEWNET);
      try {
        s.mount(`/proc/thread-self/ns/net`, path, 'none', MS_BIND, null);
      } finally {
        returnHome(home);
      }
    } finally {
      closeSync(home);
    }
  } catch (err) {
    try {
      unlinkSync(path);
    } catch {
      // best effort: the mount failed, so the placeholder file is all there is to remove
    }
    throw err;
  }
}

/**
 * Deletes a named namespace like `ip netns delete NAME`: unmounts and removes its file. The
 * namespace itself, with the links inside it, goes away once nothing else holds it.
 */
export function deleteNetns(name: string): void {
  const path = netnsPath(name);
  try {
    sys().umount2(path, MNT_DETACH);
  } catch (err) {
    // EINVAL: not a mount point (a stale file left by a crash); still remove the file.
    if (!isErrno(err, 'EINVAL')) throw err;
  }
  try {
    unlinkSync(path);
  } catch (err) {
    throw fsError(`netns: delete ${path}`, err);
  }
}

/** The names under /run/netns, sorted (empty when the directory does not exist). */
export function listNetns(): string[] {
  try {
    return readdirSync(NETNS_RUN_DIR).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** True when /run/netns/NAME exists. */
export function netnsExists(name: string): boolean {
  try {
    statSync(netnsPath(name));
    return true;
  } catch {
    return false;
  }
}
