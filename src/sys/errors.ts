import { constants } from 'node:os';

/** errno values Linux uses that Node's os.constants lacks (kernel-internal ones leak to user space). */
const EXTRA_ERRNO: Record<number, string> = { 524: 'ENOTSUPP', 512: 'ERESTARTSYS' };

const NAMES: Map<number, string> = (() => {
  const m = new Map<number, string>();
  for (const [name, value] of Object.entries(constants.errno)) {
    if (!m.has(value)) m.set(value, name);
  }
  for (const [v, n] of Object.entries(EXTRA_ERRNO)) m.set(Number(v), n);
  return m;
})();

/** The symbolic name of an errno value, e.g. 2 → "ENOENT". */
export function errnoName(errno: number): string {
  return NAMES.get(errno) ?? `errno ${errno}`;
}

/** The number of a symbolic errno name, e.g. "ENOENT" → 2. */
export function errnoValue(name: string): number {
  if (name === 'ENOTSUPP') return 524;
  const v = (constants.errno as Record<string, number>)[name];
  if (v === undefined) throw new Error(`unknown errno name ${name}`);
  return v;
}

const DESCRIPTIONS: Record<string, string> = {
  EPERM: 'operation not permitted (need root or CAP_BPF/CAP_NET_ADMIN)',
  ENOENT: 'no such file, key or object',
  E2BIG: 'argument too big or unknown trailing attribute',
  EINVAL: 'invalid argument',
  EACCES: 'permission denied (for a program load: the verifier rejected it)',
  EBADF: 'bad file descriptor',
  EEXIST: 'already exists',
  ENOSPC: 'no space left (map full or buffer too small)',
  ENOMEM: 'out of memory',
  EBUSY: 'device or resource busy',
  ENODEV: 'no such device',
  EOPNOTSUPP: 'operation not supported',
  ENOTSUP: 'operation not supported',
  ETIMEDOUT: 'timed out',
  ESTALE: 'stale (expected revision did not match)',
  ENOTCONN: 'not connected',
  EADDRINUSE: 'address in use',
  ENOTSUPP: 'operation not supported by the kernel',
  ENOSYS: 'function not implemented',
  EAGAIN: 'try again',
  EINTR: 'interrupted',
  EFAULT: 'bad address',
  ESRCH: 'no such process or entry',
  ENXIO: 'no such device or address',
};

/**
 * A failed system call. `code` is the errno name ("ENOENT") so callers can branch on it;
 * the message says which call failed and why in words.
 */
export class SysError extends Error {
  /** The raw errno number. */
  readonly errno: number;
  /** The errno name, e.g. "ENOENT". */
  readonly code: string;
  /** The call that failed, e.g. "bpf(BPF_MAP_CREATE)". */
  readonly syscall: string;

  constructor(syscall: string, errno: number) {
    const code = errnoName(errno);
    super(`${syscall}: ${code}: ${DESCRIPTIONS[code] ?? 'system call failed'}`);
    this.name = 'SysError';
    this.errno = errno;
    this.code = code;
    this.syscall = syscall;
  }
}

/** True when `err` is a SysError (possibly wrapped as a cause) with one of the given codes. */
export function isErrno(err: unknown, ...codes: string[]): boolean {
  let e: unknown = err;
  for (let depth = 0; e !== undefined && e !== null && depth < 16; depth++) {
    if (e instanceof SysError) return codes.includes(e.code);
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}
