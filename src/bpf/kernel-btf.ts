/** Reading BTF objects back from the kernel by id (for decoding pinned maps and dumping programs). */
import { BpfCmd, sys } from '../sys/index.js';
import { StructReader } from './attr.js';
import { Btf } from './btf/btf.js';
import { fdById, objInfo } from './fd.js';

const cache = new Map<number, Btf>();

/** The BTF object with kernel id `id`, parsed. Cached: BTF objects are immutable. */
export function btfFromId(id: number): Btf {
  const hit = cache.get(id);
  if (hit) return hit;
  const fd = fdById(BpfCmd.BTF_GET_FD_BY_ID, id);
  try {
    const size = new StructReader(objInfo(fd, 32)).u32(8);
    const data = new Uint8Array(size);
    objInfo(fd, 32, (info) => {
      const dv = new DataView(info.buffer);
      dv.setBigUint64(0, sys().address(data), true);
      dv.setUint32(8, size, true);
    });
    const btf = Btf.parse(data);
    cache.set(id, btf);
    return btf;
  } finally {
    sys().close(fd);
  }
}
