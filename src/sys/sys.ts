/**
 * The syscall seam. Everything above `src/sys` reaches the kernel only through a {@link Sys};
 * unit tests install a fake with {@link setSys} (like aya's `override_syscall`) so map and
 * program logic runs without root.
 */
import type { BpfCmd } from './bpf-cmd.js';

/** A region of memory mapped from a file descriptor (ring buffers, mmapable maps). */
export interface MappedRegion {
  /** The mapped bytes, live: reads see kernel writes, writes reach the kernel. */
  readonly bytes: Uint8Array;
  /** The start address, for pointer arithmetic only. */
  readonly address: bigint;
  /** Unmaps the region; `bytes` must not be used afterwards. */
  unmap(): void;
}

/** One ready descriptor from epoll. */
export interface EpollEvent {
  events: number;
  data: number;
}

/** The kernel interface the rest of iovisor uses. */
export interface Sys {
  /** bpf(2). Returns the non-negative result (often an fd); throws SysError on failure. */
  bpf(cmd: BpfCmd, attr: Uint8Array): number;
  /**
   * bpf(2) on an attr given by address (see {@link address}): the hot path for map element
   * operations, which reuse one attr buffer and skip koffi's per-call buffer handling. The
   * address may be a number (user-space addresses fit in 53 bits), which spares the FFI a
   * BigInt conversion on every call.
   */
  bpfAt(cmd: BpfCmd, attrAddress: bigint | number, size: number): number;
  /** The address of a buffer, to embed in an attr. Valid while the buffer is alive and unmoved. */
  address(buf: Uint8Array): bigint;
  /** close(2). */
  close(fd: number): void;
  /**
   * The whole content of a file, in a buffer the caller keeps (e.g. for `parseCollectionSpec`,
   * whose spec may keep views of it). Throws SysError naming the call.
   */
  readFile(path: string): Uint8Array;
  /**
   * The whole content of a file in a buffer that the next call may reuse: for a file parsed on
   * the spot, which copies what it keeps. Spares a fresh buffer per read (new pages to fault
   * in, external memory that brings the GC forward). Throws SysError naming the call.
   */
  readFileScratch(path: string): Uint8Array;
  /** mmap(2) of `length` bytes of `fd` at `offset`. */
  mmap(fd: number, length: number, prot: number, flags: number, offset: number): MappedRegion;
  /** perf_event_open(2) with a `struct perf_event_attr` buffer. */
  perfEventOpen(attr: Uint8Array, pid: number, cpu: number, groupFd: number, flags: number): number;
  /** ioctl(2) with an integer argument. */
  ioctl(fd: number, request: number, arg: number | bigint): number;
  /** epoll_create1(2). */
  epollCreate(): number;
  /** epoll_ctl(2); `data` is returned in EpollEvent.data. */
  epollCtl(epfd: number, op: number, fd: number, events: number, data: number): void;
  /** epoll_wait(2) on a worker thread, so the event loop never blocks. */
  epollWait(epfd: number, maxEvents: number, timeoutMs: number): Promise<EpollEvent[]>;
  /** epoll_wait(2) on the calling thread (timeout 0 polls). */
  epollWaitSync(epfd: number, maxEvents: number, timeoutMs: number): EpollEvent[];
  /** socket(2). */
  socket(domain: number, type: number, protocol: number): number;
  /** bind(2) with a raw sockaddr. */
  bind(fd: number, addr: Uint8Array): void;
  /** sendto(2) with an optional raw sockaddr. Returns bytes sent. */
  sendto(fd: number, data: Uint8Array, flags: number, addr?: Uint8Array): number;
  /** recv(2) into `buf`. Returns bytes received. */
  recv(fd: number, buf: Uint8Array, flags: number): number;
  /** setsockopt(2) with an int value. */
  setsockoptInt(fd: number, level: number, name: number, value: number): void;
  /** setns(2): moves the calling thread into the namespace behind `fd`. */
  setns(fd: number, nstype: number): void;
  /** getsockname(2) raw. */
  getsockname(fd: number, addr: Uint8Array): number;
  /** unshare(2): detaches the calling thread into new namespaces (`flags` are CLONE_NEW*). */
  unshare(flags: number): void;
  /** mount(2). `source`, `fstype` and `data` may be null, as the kernel allows. */
  mount(
    source: string | null,
    target: string,
    fstype: string | null,
    flags: number,
    data: string | null,
  ): void;
  /** umount2(2) with MNT_* flags (MNT_DETACH = 2). */
  umount2(target: string, flags: number): void;
}

let current: Sys | undefined;
let loadReal: (() => Sys) | undefined;

/** Registers how the real Sys is made; done once by the koffi-backed module. */
export function registerRealSys(factory: () => Sys): void {
  loadReal = factory;
}

/** The Sys in use: the real kernel unless a test installed a fake. */
export function sys(): Sys {
  if (current === undefined) {
    if (loadReal === undefined) throw new Error('no Sys implementation registered');
    current = loadReal();
  }
  return current;
}

/** Installs `fake` as the Sys and returns a function that restores the previous one. */
export function setSys(fake: Sys): () => void {
  const prev = current;
  current = fake;
  return () => {
    current = prev;
  };
}
