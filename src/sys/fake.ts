/**
 * An in-memory stand-in for the kernel, for unit tests that run without root. It implements
 * enough of bpf(2) to exercise map code (create, element ops, iteration) and lets a test
 * override any command with its own handler.
 */
import { readFileSync } from 'node:fs';
import { BpfCmd } from './bpf-cmd.js';
import { SysError, errnoValue } from './errors.js';
import type { EpollEvent, MappedRegion, Sys } from './sys.js';

/** A handler for one bpf command: gets the attr and returns the result or throws SysError. */
export type FakeHandler = (attr: DataView, fake: FakeSys) => number;

interface FakeMap {
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  entries: Map<string, Uint8Array>;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** A fake {@link Sys}. Buffers passed to {@link address} can be read back with {@link deref}. */
export class FakeSys implements Sys {
  /** Per-command overrides, consulted before the built-in behaviour. */
  readonly handlers = new Map<BpfCmd, FakeHandler>();
  /** Every bpf command issued, in order. */
  readonly calls: BpfCmd[] = [];
  /** Maps created through the fake, by fd. */
  readonly maps = new Map<number, FakeMap>();
  private readonly buffers = new Map<bigint, Uint8Array>();
  private nextAddress = 0x10000n;
  private nextFd = 100;
  /** fds currently open. */
  readonly openFds = new Set<number>();

  /** Fails with `code` (e.g. "EPERM"). */
  static fail(syscall: string, code: string): never {
    throw new SysError(syscall, errnoValue(code));
  }

  /** A fresh fd number. */
  allocFd(): number {
    const fd = this.nextFd++;
    this.openFds.add(fd);
    return fd;
  }

  /** The bytes behind an address handed out by {@link address}. */
  deref(addr: bigint, length: number): Uint8Array {
    for (const [base, buf] of this.buffers) {
      if (addr >= base && addr + BigInt(length) <= base + BigInt(buf.byteLength)) {
        const off = Number(addr - base);
        return buf.subarray(off, off + length);
      }
    }
    throw new SysError('fake deref', errnoValue('EFAULT'));
  }

  address(buf: Uint8Array): bigint {
    if (buf.byteLength === 0) return 0n;
    for (const [base, b] of this.buffers) if (b === buf) return base;
    const base = this.nextAddress;
    this.nextAddress += BigInt(buf.byteLength + 4096) & ~0xfffn;
    this.buffers.set(base, buf);
    return base;
  }

  bpfAt(cmd: BpfCmd, attrAddress: bigint | number, size: number): number {
    return this.bpf(cmd, this.deref(BigInt(attrAddress), size));
  }

  bpf(cmd: BpfCmd, attr: Uint8Array): number {
    this.calls.push(cmd);
    const dv = new DataView(attr.buffer, attr.byteOffset, attr.byteLength);
    const h = this.handlers.get(cmd);
    if (h) return h(dv, this);
    const name = `bpf(BPF_${BpfCmd[cmd]})`;
    switch (cmd) {
      case BpfCmd.MAP_CREATE: {
        const m: FakeMap = {
          type: dv.getUint32(0, true),
          keySize: dv.getUint32(4, true),
          valueSize: dv.getUint32(8, true),
          maxEntries: dv.getUint32(12, true),
          entries: new Map(),
        };
        if (m.valueSize === 0 || m.maxEntries === 0) FakeSys.fail(name, 'EINVAL');
        const fd = this.allocFd();
        this.maps.set(fd, m);
        return fd;
      }
      case BpfCmd.MAP_LOOKUP_ELEM:
      case BpfCmd.MAP_UPDATE_ELEM:
      case BpfCmd.MAP_DELETE_ELEM:
      case BpfCmd.MAP_GET_NEXT_KEY:
        return this.elemOp(cmd, dv, name);
      default:
        return FakeSys.fail(name, 'ENOSYS');
    }
  }

  private elemOp(cmd: BpfCmd, dv: DataView, name: string): number {
    const m = this.maps.get(dv.getUint32(0, true));
    if (!m) return FakeSys.fail(name, 'EBADF');
    const keyAddr = dv.getBigUint64(8, true);
    const key = keyAddr === 0n ? undefined : this.deref(keyAddr, m.keySize);
    const k = key ? hex(key) : '';
    if (cmd === BpfCmd.MAP_LOOKUP_ELEM) {
      const v = m.entries.get(k);
      if (!v) return FakeSys.fail(name, 'ENOENT');
      this.deref(dv.getBigUint64(16, true), m.valueSize).set(v);
      return 0;
    }
    if (cmd === BpfCmd.MAP_UPDATE_ELEM) {
      const flags = Number(dv.getBigUint64(24, true));
      const exists = m.entries.has(k);
      if (flags === 1 && exists) return FakeSys.fail(name, 'EEXIST');
      if (flags === 2 && !exists) return FakeSys.fail(name, 'ENOENT');
      if (!exists && m.entries.size >= m.maxEntries) return FakeSys.fail(name, 'E2BIG');
      m.entries.set(k, this.deref(dv.getBigUint64(16, true), m.valueSize).slice());
      return 0;
    }
    if (cmd === BpfCmd.MAP_DELETE_ELEM) {
      if (!m.entries.delete(k)) return FakeSys.fail(name, 'ENOENT');
      return 0;
    }
    const keys = [...m.entries.keys()];
    const idx = key === undefined ? -1 : keys.indexOf(k);
    const next = keys[idx + 1];
    if (next === undefined) return FakeSys.fail(name, 'ENOENT');
    this.deref(dv.getBigUint64(16, true), m.keySize).set(Buffer.from(next, 'hex'));
    return 0;
  }

  close(fd: number): void {
    if (!this.openFds.delete(fd)) FakeSys.fail('close', 'EBADF');
    this.maps.delete(fd);
  }
  /** Files are not faked: object files in tests are real. */
  readFile(path: string): Uint8Array {
    return readFileSync(path);
  }
  /** A fresh buffer each time, which the reuse contract allows. */
  readFileScratch(path: string): Uint8Array {
    return readFileSync(path);
  }
  mmap(): MappedRegion {
    return FakeSys.fail('mmap', 'ENOSYS');
  }
  perfEventOpen(): number {
    return FakeSys.fail('perf_event_open', 'ENOSYS');
  }
  ioctl(): number {
    return FakeSys.fail('ioctl', 'ENOSYS');
  }
  epollCreate(): number {
    return this.allocFd();
  }
  epollCtl(): void {}
  epollWait(): Promise<EpollEvent[]> {
    return Promise.resolve([]);
  }
  epollWaitSync(): EpollEvent[] {
    return [];
  }
  socket(): number {
    return FakeSys.fail('socket', 'ENOSYS');
  }
  bind(): void {
    FakeSys.fail('bind', 'ENOSYS');
  }
  sendto(): number {
    return FakeSys.fail('sendto', 'ENOSYS');
  }
  recv(): number {
    return FakeSys.fail('recv', 'ENOSYS');
  }
  setsockoptInt(): void {
    FakeSys.fail('setsockopt', 'ENOSYS');
  }
  setns(): void {
    FakeSys.fail('setns', 'ENOSYS');
  }
  getsockname(): number {
    return FakeSys.fail('getsockname', 'ENOSYS');
  }
  unshare(): void {
    FakeSys.fail('unshare', 'ENOSYS');
  }
  mount(): void {
    FakeSys.fail('mount', 'ENOSYS');
  }
  umount2(): void {
    FakeSys.fail('umount2', 'ENOSYS');
  }
}
