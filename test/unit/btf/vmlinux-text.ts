/**
 * Independent facts about the running kernel's BTF, read from `bpftool btf dump file
 * /sys/kernel/btf/vmlinux` text output rather than from our parser.
 */
import { execFileSync } from 'node:child_process';

let cached: string | undefined;

/** bpftool's raw text dump of vmlinux BTF. Fails (never skips) when bpftool is missing. */
export function vmlinuxText(): string {
  if (cached === undefined) {
    try {
      cached = execFileSync('bpftool', ['btf', 'dump', 'file', '/sys/kernel/btf/vmlinux'], {
        maxBuffer: 1 << 30,
        encoding: 'utf8',
      });
    } catch (e) {
      throw new Error(`bpftool btf dump failed (is bpftool installed?): ${(e as Error).message}`);
    }
  }
  return cached;
}

/** The lines of the first `[id] KIND 'name'` block. */
export function typeBlock(
  kind: string,
  name: string,
): { id: number; header: string; lines: string[] } {
  const text = vmlinuxText();
  const re = new RegExp(`^\\[(\\d+)\\] ${kind} '${name}' .*$`, 'm');
  const m = re.exec(text);
  if (!m) throw new Error(`bpftool dump has no ${kind} ${name}`);
  const rest = text.slice(m.index + m[0].length + 1);
  const lines: string[] = [];
  for (const l of rest.split('\n')) {
    if (!l.startsWith('\t')) break;
    lines.push(l.trim());
  }
  return { id: Number(m[1]), header: m[0], lines };
}

/** A member's bit offset and bitfield size from bpftool's dump. */
export function memberOf(
  struct: string,
  member: string,
): { bitOffset: number; bitfieldSize: number; typeId: number } {
  const b = typeBlock('STRUCT', struct);
  const line = b.lines.find((l) => l.startsWith(`'${member}' `));
  if (!line) throw new Error(`bpftool dump: struct ${struct} has no member ${member}`);
  const off = /bits_offset=(\d+)/.exec(line);
  const bf = /bitfield_size=(\d+)/.exec(line);
  const ty = /type_id=(\d+)/.exec(line);
  return {
    bitOffset: Number(off![1]),
    bitfieldSize: bf ? Number(bf[1]) : 0,
    typeId: Number(ty![1]),
  };
}

/** The size= of a type's header line. */
export function sizeOf(kind: string, name: string): number {
  const m = /size=(\d+)/.exec(typeBlock(kind, name).header);
  return Number(m![1]);
}

/** An enumerator's value from bpftool's dump. */
export function enumValue(name: string): bigint {
  const m = new RegExp(`^\\s+'${name}' val=(-?\\d+)$`, 'm').exec(vmlinuxText());
  if (!m) throw new Error(`bpftool dump has no enumerator ${name}`);
  return BigInt(m[1]);
}
