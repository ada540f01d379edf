/**
 * The koffi-backed Sys: the only place iovisor calls into native code. Kept small on purpose;
 * every function is a thin wrapper that turns -1/errno into a SysError.
 */
import { readFileSync } from 'node:fs';
import koffi from 'koffi';
import { BpfCmd } from './bpf-cmd.js';
import { SysError } from './errors.js';
import { Slab } from './slab.js';
import { registerRealSys, type EpollEvent, type MappedRegion, type Sys } from './sys.js';

const SYS_bpf = process.arch === 'arm64' ? 280 : 321;
const SYS_perf_event_open = process.arch === 'arm64' ? 241 : 298;
const SYS_setns = process.arch === 'arm64' ? 268 : 308;

const EPOLL_EVENT_SIZE = process.arch === 'x64' ? 12 : 16; // packed on x86_64

/**
 * Object files are read into slices of a shared slab (a fresh ArrayBuffer per load costs as
 * much as the read). 256 KiB, so a few specs held for long pin little; a file that does not fit
 * the free tail (at least 64 KiB) gets its own buffer.
 */
const readSlab = new Slab(256 * 1024, 64 * 1024, false);
/** Room of the buffer {@link Sys.readFileScratch} reuses; larger files get their own. */
const SCRATCH_FILE = 256 * 1024;

function makeRealSys(): Sys {
  const lib = koffi.load('libc.so.6');
  const syscall = lib.func('long syscall(long number, ...)');
  // A fixed prototype for bpf(2): koffi's variadic calls re-parse argument types on every call,
  // which costs ~15% on hot map operations. Integer arguments travel the same way either way.
  const bpfCall = lib.func('long syscall(long number, int cmd, void *attr, unsigned int size)');
  const bpfCallAt = lib.func(
    'long syscall(long number, int cmd, uint64_t attr, unsigned int size)',
  );
  const close = lib.func('int close(int fd)');
  // open(2) without the variadic mode argument: never called with O_CREAT.
  const openRead = lib.func('int open(const char *path, int flags)');
  const lseek = lib.func('long lseek(int fd, long off, int whence)');
  const pread = lib.func('long pread(int fd, void *buf, size_t count, long off)');
  const mmap = lib.func(
    'void *mmap(void *addr, size_t len, int prot, int flags, int fd, long off)',
  );
  const munmap = lib.func('int munmap(void *addr, size_t len)');
  const ioctl = lib.func('int ioctl(int fd, unsigned long req, ...)');
  const epollCreate1 = lib.func('int epoll_create1(int flags)');
  const epollCtl = lib.func('int epoll_ctl(int epfd, int op, int fd, void *ev)');
  const epollWait = lib.func('int epoll_wait(int epfd, void *events, int maxevents, int timeout)');
  const socket = lib.func('int socket(int domain, int type, int protocol)');
  const bind = lib.func('int bind(int fd, void *addr, uint32_t len)');
  const sendto = lib.func(
    'long sendto(int fd, void *buf, size_t len, int flags, void *addr, uint32_t alen)',
  );
  const recv = lib.func('long recv(int fd, void *buf, size_t len, int flags)');
  const setsockopt = lib.func(
    'int setsockopt(int fd, int level, int name, void *val, uint32_t len)',
  );
  const getsockname = lib.func('int getsockname(int fd, void *addr, _Inout_ uint32_t *len)');
  const unshare = lib.func('int unshare(int flags)');
  const mount = lib.func(
    'int mount(const char *src, const char *target, const char *fstype, unsigned long flags, const char *data)',
  );
  const umount2 = lib.func('int umount2(const char *target, int flags)');

  const check = (name: string, r: number | bigint): number => {
    const n = Number(r);
    if (n < 0) throw new SysError(name, koffi.errno());
    return n;
  };

  /**
   * Reads a whole file: one pread into `room` when it fits (a regular file reads short only at
   * its end, so a read that leaves room is the whole file: no size query), kept by `fits`;
   * otherwise a buffer of its own.
   */
  const readWhole = (
    path: string,
    room: Uint8Array,
    fits: (n: number) => Uint8Array,
  ): Uint8Array => {
    const fd = Number(openRead(path, 0x80000 /* O_RDONLY | O_CLOEXEC */));
    if (fd < 0) throw new SysError(`open ${path}`, koffi.errno());
    try {
      const r = Number(pread(fd, room, room.byteLength, 0));
      if (r >= 0 && r < room.byteLength) return fits(r);
      // Larger than the room (or pread refused, as on a pipe): size it, own buffer.
      const size = Number(lseek(fd, 0, 2 /* SEEK_END */));
      // Not seekable (a pipe) or not a plain size (some directories): Node copes and words it.
      if (size < 0 || size > 2 ** 31) return readFileSync(path);
      const buf = Buffer.allocUnsafeSlow(size);
      let got = 0;
      while (got < size) {
        const view = got === 0 ? buf : buf.subarray(got);
        const n = Number(pread(fd, view, size - got, got));
        if (n < 0) throw new SysError(`read ${path}`, koffi.errno());
        if (n === 0) return buf.subarray(0, got); // shrank while we read
        got += n;
      }
      return buf;
    } finally {
      close(fd);
    }
  };
  let scratchFile: Buffer | undefined;

  const decodeEvents = (buf: Uint8Array, n: number): EpollEvent[] => {
    const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    const out: EpollEvent[] = [];
    for (let i = 0; i < n; i++) {
      const off = i * EPOLL_EVENT_SIZE;
      out.push({
        events: dv.getUint32(off, true),
        data: dv.getUint32(off + (EPOLL_EVENT_SIZE === 12 ? 4 : 8), true),
      });
    }
    return out;
  };

  return {
    bpf(cmd: BpfCmd, attr: Uint8Array): number {
      for (;;) {
        const r = Number(bpfCall(SYS_bpf, cmd, attr, attr.byteLength));
        if (r >= 0) return r;
        const errno = koffi.errno();
        // A signal can interrupt the verifier; the kernel asks us to retry (cilium does too).
        if (errno === 11 && cmd === BpfCmd.PROG_LOAD) continue;
        throw new SysError(`bpf(BPF_${BpfCmd[cmd] ?? cmd})`, errno);
      }
    },
    bpfAt(cmd: BpfCmd, attrAddress: bigint | number, size: number): number {
      for (;;) {
        const r = Number(bpfCallAt(SYS_bpf, cmd, attrAddress, size));
        if (r >= 0) return r;
        const errno = koffi.errno();
        if (errno === 11 && cmd === BpfCmd.PROG_LOAD) continue;
        throw new SysError(`bpf(BPF_${BpfCmd[cmd] ?? cmd})`, errno);
      }
    },
    address(buf: Uint8Array): bigint {
      if (buf.byteLength === 0) return 0n;
      return BigInt(koffi.address(buf) as unknown as bigint);
    },
    close(fd: number): void {
      check('close', close(fd));
    },
    readFile(path: string): Uint8Array {
      return readWhole(path, readSlab.tail(), (n) => readSlab.commit(n));
    },
    readFileScratch(path: string): Uint8Array {
      scratchFile ??= Buffer.allocUnsafeSlow(SCRATCH_FILE);
      const room = scratchFile;
      return readWhole(path, room, (n) => room.subarray(0, n));
    },
    mmap(fd: number, length: number, prot: number, flags: number, offset: number): MappedRegion {
      const p = mmap(null, length, prot, flags, fd, offset);
      const addr = BigInt(koffi.address(p) as unknown as bigint);
      if (addr === 0xffffffffffffffffn) throw new SysError('mmap', koffi.errno());
      const ab = koffi.view(p, length) as ArrayBuffer;
      let mapped = true;
      return {
        bytes: new Uint8Array(ab),
        address: addr,
        unmap() {
          if (!mapped) return;
          mapped = false;
          check('munmap', munmap(p, length));
        },
      };
    },
    perfEventOpen(
      attr: Uint8Array,
      pid: number,
      cpu: number,
      groupFd: number,
      flags: number,
    ): number {
      return check(
        'perf_event_open',
        syscall(
          SYS_perf_event_open,
          'void *',
          attr,
          'int',
          pid,
          'int',
          cpu,
          'int',
          groupFd,
          'ulong',
          flags,
        ),
      );
    },
    ioctl(fd: number, request: number, arg: number | bigint): number {
      return check('ioctl', ioctl(fd, request, 'ulong', arg));
    },
    epollCreate(): number {
      return check('epoll_create1', epollCreate1(0x80000 /* EPOLL_CLOEXEC */));
    },
    epollCtl(epfd: number, op: number, fd: number, events: number, data: number): void {
      const ev = Buffer.alloc(16);
      ev.writeUInt32LE(events, 0);
      ev.writeUInt32LE(data, EPOLL_EVENT_SIZE === 12 ? 4 : 8);
      check('epoll_ctl', epollCtl(epfd, op, fd, ev));
    },
    epollWait(epfd: number, maxEvents: number, timeoutMs: number): Promise<EpollEvent[]> {
      // Memory touched by the worker thread must come from koffi.alloc (see reference notes).
      const size = maxEvents * EPOLL_EVENT_SIZE;
      const mem = koffi.alloc('uint8_t', size);
      return new Promise((resolve, reject) => {
        epollWait.async(epfd, mem, maxEvents, timeoutMs, (err: unknown, r: number) => {
          try {
            if (err) return reject(err);
            if (r < 0) {
              const errno = koffi.errno();
              if (errno === 4 /* EINTR */) return resolve([]);
              return reject(new SysError('epoll_wait', errno));
            }
            const copy = new Uint8Array(koffi.view(mem, size) as ArrayBuffer).slice();
            resolve(decodeEvents(copy, r));
          } finally {
            koffi.free(mem);
          }
        });
      });
    },
    epollWaitSync(epfd: number, maxEvents: number, timeoutMs: number): EpollEvent[] {
      const buf = Buffer.alloc(maxEvents * EPOLL_EVENT_SIZE);
      const r = Number(epollWait(epfd, buf, maxEvents, timeoutMs));
      if (r < 0) {
        const errno = koffi.errno();
        if (errno === 4) return [];
        throw new SysError('epoll_wait', errno);
      }
      return decodeEvents(buf, r);
    },
    socket(domain: number, type: number, protocol: number): number {
      return check('socket', socket(domain, type, protocol));
    },
    bind(fd: number, addr: Uint8Array): void {
      check('bind', bind(fd, addr, addr.byteLength));
    },
    sendto(fd: number, data: Uint8Array, flags: number, addr?: Uint8Array): number {
      return check(
        'sendto',
        sendto(fd, data, data.byteLength, flags, addr ?? null, addr?.byteLength ?? 0),
      );
    },
    recv(fd: number, buf: Uint8Array, flags: number): number {
      return check('recv', recv(fd, buf, buf.byteLength, flags));
    },
    setsockoptInt(fd: number, level: number, name: number, value: number): void {
      const v = Buffer.alloc(4);
      v.writeInt32LE(value, 0);
      check('setsockopt', setsockopt(fd, level, name, v, 4));
    },
    setns(fd: number, nstype: number): void {
      check('setns', syscall(SYS_setns, 'int', fd, 'int', nstype));
    },
    getsockname(fd: number, addr: Uint8Array): number {
      const len = [addr.byteLength];
      check('getsockname', getsockname(fd, addr, len));
      return len[0]!;
    },
    unshare(flags: number): void {
      check('unshare', unshare(flags));
    },
    mount(
      source: string | null,
      target: string,
      fstype: string | null,
      flags: number,
      data: string | null,
    ): void {
      check(`mount ${target}`, mount(source, target, fstype, flags, data));
    },
    umount2(target: string, flags: number): void {
      check(`umount2 ${target}`, umount2(target, flags));
    },
  };
}

registerRealSys(makeRealSys);
