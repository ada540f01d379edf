/**
 * Makes an object's BTF acceptable to BPF_BTF_LOAD, as libbpf does before loading
 * (btf_fixup_datasec, bpf_object__collect_externs, bpf_object__sanitize_btf): clang leaves
 * DATASEC sizes at 0 because only the linker knows them, and extern variables (`.kconfig`,
 * `.ksyms`) carry a linkage the kernel refuses.
 */
import { Btf, BtfError } from './btf.js';
import { BtfKind, type BtfType, type BtfVarSecinfo } from './types.js';

/** VAR linkage: static (enum btf_var_linkage). */
export const VAR_STATIC = 0;
/** VAR linkage: a global with storage in the object. */
export const VAR_GLOBAL_ALLOCATED = 1;
/** VAR linkage: an extern, resolved at load time (kconfig, ksyms). */
export const VAR_GLOBAL_EXTERN = 2;
/** FUNC linkage: static (enum btf_func_linkage). */
export const FUNC_STATIC = 0;
/** FUNC linkage: global, verified on its own by the kernel. */
export const FUNC_GLOBAL = 1;
/** FUNC linkage: extern (kfuncs); the kernel refuses it in program BTF. */
export const FUNC_EXTERN = 2;

/** Name of the placeholder VAR standing in for an extern function in `.ksyms` (libbpf's name). */
export const DUMMY_KSYM = 'dummy_ksym';

/**
 * Fills DATASEC sizes and VAR offsets from the ELF, sorts each DATASEC's variables by offset,
 * and lays out `.kconfig`/`.ksyms` externs. After this the `.kconfig` DATASEC gives each
 * extern's offset in the `.kconfig` map (externs sorted by alignment, size and name as libbpf
 * does) and its `size` is the map's value size.
 */
export function fixupForKernel(
  btf: Btf,
  sections: { name: string; size: number }[],
  symbols: { name: string; section: string; offset: number }[],
): void {
  // A scan per DATASEC: objects have a handful, and a map over every section costs more. The
  // last section of a name wins, as it did when this was a Map built from the list.
  const secSize = (name: string): number | undefined => {
    for (let i = sections.length - 1; i >= 0; i--)
      if (sections[i]!.name === name) return sections[i]!.size;
    return undefined;
  };
  for (let id = Math.max(1, btf.firstId); id < btf.count; id++) {
    // Only FUNCs and DATASECs change: the kind comes from a small array, the type only for those.
    const kind = btf.kindOf(id);
    if (kind === BtfKind.Func) {
      const t = btf.type(id) as Extract<BtfType, { kind: BtfKind.Func }>;
      // Kernel 6.18 refuses FUNC linkage "extern" ("Invalid func linkage"); libbpf marks them global.
      if (t.linkage === FUNC_EXTERN) btf.set(id, { ...t, linkage: FUNC_GLOBAL });
      continue;
    }
    if (kind !== BtfKind.Datasec) continue;
    const t = btf.type(id) as Extract<BtfType, { kind: BtfKind.Datasec }>;
    // Built only for an error: a number in a template costs a conversion on every load.
    const where = (): string => `fix up BTF: DATASEC ${t.name} (type ${id})`;
    if (t.name === '.kconfig') {
      fixupKconfig(btf, id, where());
      continue;
    }
    if (t.name === '.ksyms') {
      fixupKsyms(btf, id, where());
      continue;
    }
    const size = secSize(t.name);
    if (size === undefined) {
      if (t.size !== 0) continue;
      throw new BtfError(
        `${where()}: the object has no section of that name to take the size from`,
      );
    }
    // This section's symbols, once: a search per variable over every symbol of the object
    // compared section names as much as it compared anything.
    const inSection = symbols.filter((s) => s.section === t.name);
    const vars: BtfVarSecinfo[] = t.vars.map((v, i) => {
      const vt = btf.type(v.type);
      if (vt.kind !== BtfKind.Var) {
        throw new BtfError(`${where()}: entry ${i} is a ${BtfKind[vt.kind]}, not a VAR`);
      }
      const sym = findSymbol(inSection, vt.name);
      if (!sym) {
        // clang already wrote the offset; without a symbol we trust it (static vars may be unnamed).
        return { ...v, size: v.size || btf.sizeof(v.type) };
      }
      return { type: v.type, offset: sym.offset, size: v.size || btf.sizeof(v.type) };
    });
    // Usually already in offset order: check before paying for a sort with a comparator.
    let sorted = true;
    for (let i = 1; i < vars.length; i++)
      if (vars[i - 1]!.offset > vars[i]!.offset) {
        sorted = false;
        break;
      }
    if (!sorted) vars.sort((a, b) => a.offset - b.offset);
    for (const v of vars) {
      if (v.offset + v.size > size) {
        throw new BtfError(
          `${where()}: VAR ${btf.type(v.type).name} at ${v.offset}+${v.size} lies past the section size ${size}`,
        );
      }
    }
    btf.set(id, { kind: t.kind, name: t.name, size, vars });
  }
}

/** The symbol of variable `name` among one section's symbols. */
function findSymbol(
  symbols: { name: string; offset: number }[],
  name: string,
): { offset: number } | undefined {
  for (const s of symbols) if (s.name === name) return s;
  // Function-local statics: some clang versions name the BTF VAR `x` but the symbol `func.x`.
  const dotted = `.${name}`;
  return symbols.find((s) => s.name.endsWith(dotted));
}

/** An existing 4-byte signed int, or a new one. */
function intType(btf: Btf): number {
  for (let id = 1; id < btf.count; id++) {
    if (btf.kindOf(id) !== BtfKind.Int) continue;
    const t = btf.type(id);
    if (t.kind === BtfKind.Int && t.size === 4 && t.bits === 32 && t.signed && !t.char && !t.bool) {
      return id;
    }
  }
  return btf.add({
    kind: BtfKind.Int,
    name: 'int',
    size: 4,
    signed: true,
    char: false,
    bool: false,
    bits: 32,
    bitOffset: 0,
  });
}

function asVar(btf: Btf, id: number, where: string): Extract<BtfType, { kind: BtfKind.Var }> {
  const t = btf.type(id);
  if (t.kind !== BtfKind.Var)
    throw new BtfError(`${where}: entry type ${id} is ${BtfKind[t.kind]}, not a VAR`);
  return t;
}

function fixupKconfig(btf: Btf, id: number, where: string): void {
  const sec = btf.type(id) as Extract<BtfType, { kind: BtfKind.Datasec }>;
  const entries = sec.vars.map((v) => {
    const vt = asVar(btf, v.type, where);
    const size = btf.sizeof(vt.type);
    const align = btf.alignof(vt.type);
    return { v, vt, size, align };
  });
  // libbpf's order: stricter alignment first, then smaller size, then name.
  entries.sort(
    (a, b) =>
      b.align - a.align ||
      a.size - b.size ||
      (a.vt.name < b.vt.name ? -1 : a.vt.name > b.vt.name ? 1 : 0),
  );
  let off = 0;
  const vars: BtfVarSecinfo[] = [];
  for (const e of entries) {
    off = Math.ceil(off / e.align) * e.align;
    vars.push({ type: e.v.type, offset: off, size: e.size });
    off += e.size;
    if (e.vt.linkage === VAR_GLOBAL_EXTERN)
      btf.set(e.v.type, { ...e.vt, linkage: VAR_GLOBAL_ALLOCATED });
  }
  btf.set(id, { ...sec, size: off, vars });
}

function fixupKsyms(btf: Btf, id: number, where: string): void {
  const sec = btf.type(id) as Extract<BtfType, { kind: BtfKind.Datasec }>;
  const intId = intType(btf);
  let dummy = 0;
  const vars: BtfVarSecinfo[] = sec.vars.map((v, i) => {
    const t = btf.type(v.type);
    if (t.kind === BtfKind.Func) {
      // The kernel wants VARs in a DATASEC; extern functions get a shared placeholder and their
      // unnamed parameters a name, since it also refuses unnamed params in a FUNC's prototype.
      if (dummy === 0) {
        dummy = btf.add({
          kind: BtfKind.Var,
          name: DUMMY_KSYM,
          type: intId,
          linkage: VAR_GLOBAL_ALLOCATED,
        });
      }
      const proto = btf.type(t.type);
      if (
        proto.kind === BtfKind.FuncProto &&
        proto.params.some((p) => p.name === '' && p.type !== 0)
      ) {
        btf.set(t.type, {
          ...proto,
          params: proto.params.map((p) =>
            p.name === '' && p.type !== 0 ? { ...p, name: DUMMY_KSYM } : p,
          ),
        });
      }
      return { type: dummy, offset: i * 4, size: 4 };
    }
    if (t.kind !== BtfKind.Var) throw new BtfError(`${where}: entry ${i} is ${BtfKind[t.kind]}`);
    btf.set(v.type, { ...t, type: intId, linkage: VAR_GLOBAL_ALLOCATED });
    return { type: v.type, offset: i * 4, size: 4 };
  });
  btf.set(id, { ...sec, size: vars.length * 4, vars });
}
