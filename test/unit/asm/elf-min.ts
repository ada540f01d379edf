// A minimal ELF64 little-endian reader, just enough for the llvm-objdump comparison test:
// section headers, section bytes and the symbol table. Test-local stand-in: the real ELF reader
// lives in src/bpf/elf and belongs to another area.

/** One section. */
export interface MiniSection {
  index: number;
  name: string;
  type: number;
  flags: bigint;
  data: Uint8Array;
}

/** One symbol-table entry. */
export interface MiniSymbol {
  name: string;
  value: bigint;
  shndx: number;
  type: number;
}

/** Reads the sections and symbols of an ELF64 LE object. */
export function readElf(buf: Uint8Array): { sections: MiniSection[]; symbols: MiniSymbol[] } {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (dv.getUint32(0) !== 0x7f454c46 || buf[4] !== 2 || buf[5] !== 1) {
    throw new Error('elf-min: not an ELF64 little-endian object');
  }
  const shoff = Number(dv.getBigUint64(0x28, true));
  const shentsize = dv.getUint16(0x3a, true);
  const shnum = dv.getUint16(0x3c, true);
  const shstrndx = dv.getUint16(0x3e, true);
  const hdr = (i: number) => {
    const o = shoff + i * shentsize;
    return {
      name: dv.getUint32(o, true),
      type: dv.getUint32(o + 4, true),
      flags: dv.getBigUint64(o + 8, true),
      offset: Number(dv.getBigUint64(o + 24, true)),
      size: Number(dv.getBigUint64(o + 32, true)),
      link: dv.getUint32(o + 40, true),
    };
  };
  const str = (sec: number, off: number): string => {
    const h = hdr(sec);
    let end = h.offset + off;
    while (buf[end] !== 0) end++;
    return new TextDecoder().decode(buf.subarray(h.offset + off, end));
  };
  const sections: MiniSection[] = [];
  const symbols: MiniSymbol[] = [];
  for (let i = 0; i < shnum; i++) {
    const h = hdr(i);
    const data = h.type === 8 ? new Uint8Array(h.size) : buf.subarray(h.offset, h.offset + h.size);
    sections.push({ index: i, name: str(shstrndx, h.name), type: h.type, flags: h.flags, data });
    if (h.type === 2) {
      for (let o = h.offset; o < h.offset + h.size; o += 24) {
        symbols.push({
          name: str(h.link, dv.getUint32(o, true)),
          type: dv.getUint8(o + 4) & 0xf,
          shndx: dv.getUint16(o + 6, true),
          value: dv.getBigUint64(o + 8, true),
        });
      }
    }
  }
  return { sections, symbols };
}
