/**
 * Reader for bpf_conformance `.data` files: sections introduced by `-- asm`, `-- raw`,
 * `-- mem`, `-- result`, `-- error` (and `-- c`, `-- no register offset`, which are ignored).
 */

/** The parts of a conformance test file. */
export interface ConformanceFile {
  /** Assembly text with `#` comments removed, one instruction or label per line. */
  asm: string;
  /** Pre-assembled program as 64-bit little-endian slot words, when the file gives them. */
  raw?: bigint[];
  /** Input memory passed to the program in r1 (length in r2). */
  mem?: Uint8Array;
  /** Expected r0 at exit. */
  result?: bigint;
  /** Expected error text, for tests that must fail. */
  error?: string;
}

function parseNumber(s: string, what: string): bigint {
  const t = s.trim();
  if (!/^(0x[0-9a-fA-F]+|-?\d+)$/.test(t)) throw new Error(`conformance file: bad ${what} "${s}"`);
  return BigInt(t);
}

/** Parses one conformance test file. Throws on an unknown `--` directive or a malformed value. */
export function parseConformanceFile(text: string): ConformanceFile {
  type Section = 'ignore' | 'asm' | 'raw' | 'mem' | 'result' | 'error';
  let section: Section = 'ignore';
  const asm: string[] = [];
  const raw: bigint[] = [];
  const mem: number[] = [];
  let haveRaw = false;
  let haveMem = false;
  let result: string | undefined;
  let error: string | undefined;
  text.split(/\r?\n/).forEach((line, idx) => {
    const d = /^--\s*(.*?)\s*$/.exec(line);
    if (d) {
      const name = d[1]!;
      if (name === 'asm') section = 'asm';
      else if (name === 'raw') {
        section = 'raw';
        haveRaw = true;
      } else if (name === 'mem') {
        section = 'mem';
        haveMem = true;
      } else if (name === 'result') section = 'result';
      else if (name === 'error') section = 'error';
      else if (name === 'c' || name === 'no register offset') section = 'ignore';
      else throw new Error(`conformance file: line ${idx + 1}: unknown directive "${line}"`);
      return;
    }
    if (line.trim() === '') return;
    switch (section) {
      case 'asm': {
        const code = line.replace(/#.*$/, '').trimEnd();
        if (code.trim() !== '') asm.push(code);
        break;
      }
      case 'raw':
        for (const w of line.trim().split(/\s+/))
          raw.push(BigInt.asUintN(64, parseNumber(w, 'raw word')));
        break;
      case 'mem':
        for (const b of line.trim().split(/\s+/)) {
          if (!/^[0-9a-fA-F]{1,2}$/.test(b))
            throw new Error(`conformance file: line ${idx + 1}: bad memory byte "${b}"`);
          mem.push(parseInt(b, 16));
        }
        break;
      case 'result':
        result = line.trim();
        break;
      case 'error':
        error = line.trim();
        break;
      default:
        break;
    }
  });
  const out: ConformanceFile = { asm: asm.join('\n') + (asm.length > 0 ? '\n' : '') };
  if (haveRaw) out.raw = raw;
  if (haveMem) out.mem = Uint8Array.from(mem);
  if (result !== undefined) out.result = BigInt.asUintN(64, parseNumber(result, 'result'));
  if (error !== undefined) out.error = error;
  return out;
}
