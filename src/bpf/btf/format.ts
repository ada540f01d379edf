/**
 * C from BTF: single declarations for messages and docs, and a whole compilable header (the
 * `vmlinux.h` that `bpftool btf dump file ... format c` writes). Types are emitted in dependency
 * order: anything used by value is defined first, anything used only through a pointer needs
 * just the forward declaration written up front. Duplicate names (BTF from different compilation
 * units) get `___N` suffixes as bpftool does, so the header stays valid C.
 */
import { Btf, BtfError } from './btf.js';
import { cDeclarator, type DeclOptions } from './cdecl.js';
import { BtfKind, type BtfType } from './types.js';

/** Options for {@link writeCHeader}. */
export interface CHeaderOptions {
  /** Include guard macro; default `__VMLINUX_H__`. */
  guard?: string;
  /** Wrap in `#pragma clang attribute push(preserve_access_index)` for CO-RE; default true. */
  preserveAccessIndex?: boolean;
}

type Struct = Extract<BtfType, { kind: BtfKind.Struct | BtfKind.Union }>;
type Enum = Extract<BtfType, { kind: BtfKind.Enum | BtfKind.Enum64 }>;

const INDENT = '\t';
const pfx = (lvl: number): string => INDENT.repeat(lvl);

class CWriter {
  private readonly names = new Map<number, string>();
  private readonly enumeratorNames = new Map<string, string>(); // `${id}:${idx}` -> spelled
  private readonly state = new Map<number, 'doing' | 'done'>();
  readonly out: string[] = [];
  private readonly opts: DeclOptions;

  constructor(
    private readonly btf: Btf,
    dedup: boolean,
  ) {
    this.opts = {
      inlineAnon: true,
      nameOf: (id) => this.nameOf(id),
      body: (id, lvl) => this.body(id, lvl),
    };
    if (dedup) this.assignNames();
  }

  /** Gives every named aggregate, enum and typedef a unique spelling. */
  private assignNames(): void {
    const tags = new Map<string, number>();
    const idents = new Map<string, number>();
    const unique = (used: Map<string, number>, name: string): string => {
      const n = (used.get(name) ?? 0) + 1;
      used.set(name, n);
      return n === 1 ? name : `${name}___${n}`;
    };
    const types = this.btf.types;
    const firstTag = new Map<string, number>();
    for (let id = 1; id < types.length; id++) {
      const t = types[id];
      if (t.name === '') continue;
      switch (t.kind) {
        case BtfKind.Struct:
        case BtfKind.Union:
        case BtfKind.Enum:
        case BtfKind.Enum64:
          this.names.set(id, unique(tags, t.name));
          if (!firstTag.has(t.name)) firstTag.set(t.name, id);
          break;
        case BtfKind.Typedef:
          this.names.set(id, unique(idents, t.name));
          break;
        default:
          break;
      }
    }
    for (let id = 1; id < types.length; id++) {
      const t = types[id];
      // A forward declaration names the same tag as the definition, if there is one.
      if (t.kind === BtfKind.Fwd) {
        const def = firstTag.get(t.name);
        this.names.set(id, def !== undefined ? this.names.get(def)! : unique(tags, t.name));
      }
      if ((t.kind === BtfKind.Enum || t.kind === BtfKind.Enum64) && t.values.length > 0) {
        t.values.forEach((v, i) => this.enumeratorNames.set(`${id}:${i}`, unique(idents, v.name)));
      }
    }
  }

  nameOf(id: number): string {
    return this.names.get(id) ?? this.btf.type(id).name;
  }

  decl(id: number, name: string, lvl: number): string {
    return cDeclarator(this.btf, id, name, { ...this.opts, indent: lvl });
  }

  private alignOf(id: number): number {
    try {
      return this.btf.alignof(id);
    } catch {
      return 1;
    }
  }

  private sizeOf(id: number): number {
    try {
      return this.btf.sizeof(id);
    } catch {
      return 0;
    }
  }

  /** libbpf's btf_is_struct_packed: a misaligned member or a size not a multiple of the alignment. */
  private isPacked(t: Struct): boolean {
    let max = 1;
    for (const m of t.members) {
      const a = this.alignOf(m.type);
      if (m.bitfieldSize === 0 && m.bitOffset % (8 * a) !== 0) return true;
      max = Math.max(max, a);
    }
    return t.size % max !== 0;
  }

  /** Anonymous bitfields that move the next member to `next` bits (libbpf's bit padding). */
  private padding(
    cur: number,
    next: number,
    nextAlign: number,
    inBitfield: boolean,
    lvl: number,
  ): string {
    const pads: [string, number][] = [
      ['long', 64],
      ['int', 32],
      ['short', 16],
      ['char', 8],
    ];
    if (cur >= next) return '';
    let s = '';
    let padBits = 8;
    let padType = 'char';
    let newOff = cur;
    for (const [name, bits] of pads) {
      padBits = bits;
      padType = name;
      newOff = Math.ceil(cur / bits) * bits;
      if (newOff <= next) break;
    }
    if (newOff > cur && newOff <= next) {
      if (
        inBitfield ||
        (newOff === next && Math.ceil(cur / (nextAlign * 8)) * nextAlign * 8 !== newOff) ||
        (newOff !== next && next - newOff <= newOff - cur)
      ) {
        s += `\n${pfx(lvl)}${padType}: ${inBitfield ? newOff - cur : 0};`;
      }
      cur = newOff;
    }
    while (cur < next) {
      const bits = Math.min(next - cur, padBits);
      if (bits === padBits) {
        s += `\n${pfx(lvl)}${padType}: ${padBits};`;
        cur += bits;
        continue;
      }
      for (let i = pads.length - 1; i >= 0; i--) {
        if (pads[i][1] < bits) continue;
        s += `\n${pfx(lvl)}${pads[i][0]}: ${bits};`;
        cur += bits;
        break;
      }
    }
    return s;
  }

  /** `struct name {\n ...members...\n}` with the closing brace at `lvl`. */
  body(id: number, lvl: number): string {
    const t = this.btf.type(id);
    if (t.kind === BtfKind.Enum || t.kind === BtfKind.Enum64) return this.enumBody(id, t, lvl);
    if (t.kind !== BtfKind.Struct && t.kind !== BtfKind.Union) return this.btf.typeName(id);
    const isStruct = t.kind === BtfKind.Struct;
    const kw = isStruct ? 'struct' : 'union';
    let s = t.name === '' ? `${kw} {` : `${kw} ${this.nameOf(id)} {`;
    const packed = this.isPacked(t);
    let off = 0;
    let prevBitfield = false;
    for (const m of t.members) {
      const align = packed ? 1 : this.alignOf(m.type);
      const inBitfield = prevBitfield && m.bitfieldSize !== 0;
      if (isStruct) s += this.padding(off, m.bitOffset, align, inBitfield, lvl + 1);
      s += `\n${pfx(lvl + 1)}${this.decl(m.type, m.name, lvl + 1)}`;
      if (m.bitfieldSize) {
        s += `: ${m.bitfieldSize}`;
        off = m.bitOffset + m.bitfieldSize;
        prevBitfield = true;
      } else {
        off = m.bitOffset + Math.max(0, this.sizeOf(m.type)) * 8;
        prevBitfield = false;
      }
      s += ';';
    }
    if (isStruct) s += this.padding(off, t.size * 8, this.alignOf(id), false, lvl + 1);
    if (t.members.length > 0 || (isStruct && t.size > 0)) s += '\n';
    s += `${pfx(lvl)}}`;
    if (packed) s += ' __attribute__((packed))';
    return s;
  }

  private enumLiteral(t: Enum, v: bigint): string {
    const signed = t.signed || v < 0n;
    if (signed) {
      if (v >= -0x80000000n && v <= 0x7fffffffn) return v.toString();
      if (v === -(1n << 63n)) return '(-9223372036854775807LL - 1)';
      return `${v}LL`;
    }
    if (v <= 0x7fffffffn) return v.toString();
    if (v <= 0xffffffffn && t.size <= 4) return `${v}U`;
    return `${v}ULL`;
  }

  private enumBody(id: number, t: Enum, lvl: number): string {
    let s = t.name === '' ? 'enum {' : `enum ${this.nameOf(id)} {`;
    t.values.forEach((v, i) => {
      const name = this.enumeratorNames.get(`${id}:${i}`) ?? v.name;
      s += `\n${pfx(lvl + 1)}${name} = ${this.enumLiteral(t, v.value)},`;
    });
    if (t.values.length > 0) s += '\n';
    s += `${pfx(lvl)}}`;
    // Keep the BTF size: clang would otherwise make every small enum an int.
    if (t.size === 1 || t.size === 2) s += ' __attribute__((packed))';
    return s;
  }

  // Dependency walk ----------------------------------------------------------------------------

  /** The type must be complete here (used by value). */
  ensureDefined(id: number, depth = 0): void {
    if (depth > 4096) throw new BtfError(`C header: type ${id}: dependency chain too deep`);
    const t = this.btf.type(id);
    switch (t.kind) {
      case BtfKind.Const:
      case BtfKind.Volatile:
      case BtfKind.Restrict:
      case BtfKind.TypeTag:
        this.ensureDefined(t.type, depth + 1);
        return;
      case BtfKind.Typedef:
        this.ensureTypedef(id, depth + 1);
        this.ensureDefined(t.type, depth + 1);
        return;
      case BtfKind.Array:
        this.ensureDefined(t.type, depth + 1);
        return;
      case BtfKind.Struct:
      case BtfKind.Union:
        if (t.name === '') for (const m of t.members) this.ensureDefined(m.type, depth + 1);
        else this.defineNamed(id, depth + 1);
        return;
      case BtfKind.Enum:
      case BtfKind.Enum64:
        if (t.name !== '') this.defineNamed(id, depth + 1);
        return;
      case BtfKind.Ptr:
        this.ensureDeclared(t.type, depth + 1);
        return;
      case BtfKind.FuncProto:
        this.ensureDeclared(t.returnType, depth + 1);
        for (const p of t.params) this.ensureDeclared(p.type, depth + 1);
        return;
      default:
        return;
    }
  }

  /** The type must be nameable here (used behind a pointer or in a prototype). */
  ensureDeclared(id: number, depth = 0): void {
    if (depth > 4096) throw new BtfError(`C header: type ${id}: dependency chain too deep`);
    const t = this.btf.type(id);
    switch (t.kind) {
      case BtfKind.Const:
      case BtfKind.Volatile:
      case BtfKind.Restrict:
      case BtfKind.TypeTag:
      case BtfKind.Ptr:
        this.ensureDeclared(t.type, depth + 1);
        return;
      case BtfKind.Typedef:
        this.ensureTypedef(id, depth + 1);
        return;
      case BtfKind.Array:
        this.ensureDefined(t.type, depth + 1);
        return;
      case BtfKind.Struct:
      case BtfKind.Union:
        // Named aggregates are forward-declared up front.
        if (t.name === '') for (const m of t.members) this.ensureDefined(m.type, depth + 1);
        return;
      case BtfKind.Enum:
      case BtfKind.Enum64:
        if (t.name !== '') this.defineNamed(id, depth + 1);
        return;
      case BtfKind.FuncProto:
        this.ensureDeclared(t.returnType, depth + 1);
        for (const p of t.params) this.ensureDeclared(p.type, depth + 1);
        return;
      default:
        return;
    }
  }

  ensureTypedef(id: number, depth: number): void {
    if (this.state.has(id)) return;
    this.state.set(id, 'doing');
    const t = this.btf.type(id) as { name: string; type: number };
    this.ensureDeclared(t.type, depth + 1);
    // A compiler built-in: redefining it breaks the build, and every compiler already has it.
    if (t.name === '__builtin_va_list') {
      this.state.set(id, 'done');
      return;
    }
    this.out.push(`typedef ${this.decl(t.type, this.nameOf(id), 0)};\n\n`);
    this.state.set(id, 'done');
  }

  defineNamed(id: number, depth: number): void {
    if (this.state.has(id)) return; // done, or a by-value cycle C could not express either
    this.state.set(id, 'doing');
    const t = this.btf.type(id);
    if (t.kind === BtfKind.Struct || t.kind === BtfKind.Union) {
      for (const m of t.members) this.ensureDefined(m.type, depth + 1);
    }
    this.out.push(`${this.body(id, 0)};\n\n`);
    this.state.set(id, 'done');
  }

  markEmitted(id: number): void {
    this.state.set(id, 'done');
  }
}

/** The C declaration of one type: a full struct/union/enum definition, a typedef, a function prototype. */
export function formatCDecl(btf: Btf, id: number): string {
  const t = btf.type(id);
  const w = new CWriter(btf, false);
  switch (t.kind) {
    case BtfKind.Struct:
    case BtfKind.Union:
    case BtfKind.Enum:
    case BtfKind.Enum64:
      return `${w.body(id, 0)};`;
    case BtfKind.Fwd:
      return `${t.union ? 'union' : 'struct'} ${t.name};`;
    case BtfKind.Typedef:
      return `typedef ${w.decl(t.type, t.name, 0)};`;
    case BtfKind.Func: {
      const proto = btf.type(t.type);
      const storage = t.linkage === 0 ? 'static ' : t.linkage === 2 ? 'extern ' : '';
      if (proto.kind !== BtfKind.FuncProto) return `${storage}${t.name};`;
      return `${storage}${w.decl(t.type, t.name, 0)};`;
    }
    case BtfKind.Var:
      return `${t.linkage === 0 ? 'static ' : t.linkage === 2 ? 'extern ' : ''}${w.decl(t.type, t.name, 0)};`;
    case BtfKind.Datasec:
      return `SEC("${t.name}") /* ${t.vars.length} variables, ${t.size} bytes */`;
    default:
      return btf.typeName(id);
  }
}

/**
 * A compilable C header declaring every named type (and anonymous enums, whose enumerators are
 * constants people use), like `bpftool btf dump file /sys/kernel/btf/vmlinux format c`.
 */
export function writeCHeader(btf: Btf, opts: CHeaderOptions = {}): string {
  const guard = opts.guard ?? '__VMLINUX_H__';
  const pai = opts.preserveAccessIndex ?? true;
  const w = new CWriter(btf, true);
  const types = btf.types;
  const parts: string[] = [`#ifndef ${guard}\n#define ${guard}\n\n`];
  if (pai) {
    parts.push(
      '#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n' +
        '#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)\n' +
        '#endif\n\n',
    );
  }
  // Anonymous enums referenced by another type are spelled inline there; the rest stand alone.
  const referenced = new Set<number>();
  for (const t of types) {
    switch (t.kind) {
      case BtfKind.Struct:
      case BtfKind.Union:
        for (const m of t.members) referenced.add(m.type);
        break;
      case BtfKind.FuncProto:
        referenced.add(t.returnType);
        for (const p of t.params) referenced.add(p.type);
        break;
      case BtfKind.Ptr:
      case BtfKind.Array:
      case BtfKind.Typedef:
      case BtfKind.Const:
      case BtfKind.Volatile:
      case BtfKind.Restrict:
      case BtfKind.TypeTag:
      case BtfKind.Var:
        referenced.add(t.type);
        break;
      default:
        break;
    }
  }
  const fwd = new Set<string>();
  for (let id = 1; id < types.length; id++) {
    const t = types[id];
    if ((t.kind === BtfKind.Struct || t.kind === BtfKind.Union) && t.name !== '') {
      fwd.add(`${t.kind === BtfKind.Struct ? 'struct' : 'union'} ${w.nameOf(id)};\n`);
    } else if (t.kind === BtfKind.Fwd) {
      // A fwd naming a struct declared as a union (or vice versa) would clash; the definition wins.
      const kw = t.union ? 'union' : 'struct';
      const other = btf.findByName(t.name).some((o) => {
        const ot = types[o];
        return (
          (ot.kind === BtfKind.Struct || ot.kind === BtfKind.Union) &&
          ot.kind !== (t.union ? BtfKind.Union : BtfKind.Struct)
        );
      });
      if (!other) fwd.add(`${kw} ${w.nameOf(id)};\n`);
    }
  }
  parts.push([...fwd].join(''), '\n');
  for (let id = 1; id < types.length; id++) {
    const t = types[id];
    switch (t.kind) {
      case BtfKind.Struct:
      case BtfKind.Union:
        if (t.name !== '') w.defineNamed(id, 0);
        break;
      case BtfKind.Enum:
      case BtfKind.Enum64:
        if (t.name !== '') w.defineNamed(id, 0);
        else if (!referenced.has(id) && t.values.length > 0) {
          w.out.push(`${w.body(id, 0)};\n\n`);
          w.markEmitted(id);
        }
        break;
      case BtfKind.Typedef:
        w.ensureDefined(id, 0);
        break;
      default:
        break;
    }
  }
  parts.push(...w.out);
  if (pai)
    parts.push('#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n#pragma clang attribute pop\n#endif\n\n');
  parts.push(`#endif /* ${guard} */\n`);
  return parts.join('');
}
