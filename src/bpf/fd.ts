/** File descriptors of kernel objects, closed exactly once. */
import { BpfCmd, sys } from '../sys/index.js';
import { Attr } from './attr.js';

/** Thrown when an object is used after close(). */
export class ClosedError extends Error {
  constructor(what: string) {
    super(`${what}: already closed`);
    this.name = 'ClosedError';
  }
}

// Objects a caller forgot to close release their fd when garbage-collected.
const registry = new FinalizationRegistry<number>((fd) => {
  try {
    sys().close(fd);
  } catch {
    // Nothing useful to do from a finalizer.
  }
});

/**
 * The fds made during one collection load: one finalizer for the lot instead of one per fd (a
 * registration and its removal cost ~0.4 us each, and a load makes a dozen fds). Every member
 * FD holds the group, so the group is collected only once all of them are; its finalizer then
 * closes the members still open. `fds` is what the finalizer gets: raw numbers, -1 once closed.
 */
class FdGroup {
  readonly fds: number[] = [];
}

const groupRegistry = new FinalizationRegistry<number[]>((fds) => {
  for (const fd of fds) {
    if (fd < 0) continue;
    try {
      sys().close(fd);
    } catch {
      // Nothing useful to do from a finalizer.
    }
  }
});

let openGroup: FdGroup | undefined;

/**
 * Runs `fn` with every FD it makes joining one group (see {@link FdGroup}); used by
 * Collection.load, which is synchronous, so no other code can make an FD in between.
 */
export function withFdGroup<T>(fn: () => T): T {
  const outer = openGroup;
  const group = new FdGroup();
  groupRegistry.register(group, group.fds);
  openGroup = group;
  try {
    return fn();
  } finally {
    openGroup = outer;
  }
}

/** An owned file descriptor. */
export class FD {
  private value: number;
  /** The group this fd joined (and its index there), or undefined when registered alone. */
  private readonly group: FdGroup | undefined;
  private readonly slot: number;

  constructor(
    fd: number,
    private readonly what: string,
  ) {
    this.value = fd;
    const g = openGroup;
    this.group = g;
    if (g !== undefined) {
      this.slot = g.fds.push(fd) - 1;
    } else {
      this.slot = -1;
      // The FD is its own unregister token (held weakly): no extra object per descriptor.
      registry.register(this, fd, this);
    }
  }
  /** The raw number; throws after close. */
  get raw(): number {
    if (this.value < 0) throw new ClosedError(this.what);
    return this.value;
  }
  get closed(): boolean {
    return this.value < 0;
  }
  close(): void {
    if (this.value < 0) return;
    const fd = this.value;
    this.value = -1;
    if (this.group !== undefined) this.group.fds[this.slot] = -1;
    else registry.unregister(this);
    sys().close(fd);
  }
}

/** BPF_OBJ_PIN: pins the object behind `fd` at a bpffs path. */
export function pinFd(fd: number, path: string): void {
  const p = new TextEncoder().encode(path + '\0');
  const a = new Attr().ptr(0, p).u32(8, fd);
  sys().bpf(BpfCmd.OBJ_PIN, a.bytes);
}

/** BPF_OBJ_GET: opens a pinned object. */
export function openPinnedFd(path: string, flags = 0): number {
  const p = new TextEncoder().encode(path + '\0');
  const a = new Attr().ptr(0, p).u32(12, flags);
  return sys().bpf(BpfCmd.OBJ_GET, a.bytes);
}

/** BPF_OBJ_GET_INFO_BY_FD into a buffer of `size` bytes (extra pointers set by `prepare`). */
export function objInfo(
  fd: number,
  size: number,
  prepare?: (info: Uint8Array) => void,
): Uint8Array {
  const info = new Uint8Array(size);
  prepare?.(info);
  const a = new Attr().u32(0, fd).u32(4, size).ptr(8, info);
  sys().bpf(BpfCmd.OBJ_GET_INFO_BY_FD, a.bytes);
  return info;
}

/** Iterates object ids with a *_GET_NEXT_ID command. */
export function* nextIds(cmd: BpfCmd): Generator<number> {
  let id = 0;
  for (;;) {
    const a = new Attr().u32(0, id);
    try {
      sys().bpf(cmd, a.bytes);
    } catch (err) {
      if ((err as { code?: string }).code === 'ENOENT') return;
      throw err;
    }
    id = a.getU32(4);
    yield id;
  }
}

/** Opens an object by id with a *_GET_FD_BY_ID command. */
export function fdById(cmd: BpfCmd, id: number): number {
  return sys().bpf(cmd, new Attr().u32(0, id).bytes);
}
