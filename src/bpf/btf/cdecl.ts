/**
 * C declarator spelling shared by {@link Btf.typeName} and the header writer. C wraps the
 * declared name inside out (`int (*fn)(void)`, `char *argv[4]`), so the declarator is built from
 * the name outwards while walking from the outer type inwards.
 */
import { BtfKind, type BtfType } from './types.js';

/** The minimal view of a Btf the declarator needs (avoids an import cycle with btf.ts). */
export interface TypeSource {
  /** Number of type ids. */
  readonly count: number;
  /** The type with this id (in range). */
  type(id: number): BtfType;
}

/** How to spell types that a plain name lookup cannot. */
export interface DeclOptions {
  /** Spell anonymous struct/union/enum bodies with {@link body} instead of `struct {...}`. */
  inlineAnon: boolean;
  /** The spelled name of a named struct/union/enum/fwd/typedef (the header writer renames duplicates). */
  nameOf?: (id: number) => string;
  /** The full body text `struct {\n...}` of an anonymous aggregate, at `indent` levels. */
  body?: (id: number, indent: number) => string;
  /** Indent level for nested bodies. */
  indent?: number;
}

const MAX_DEPTH = 64;

function typeAt(src: TypeSource, id: number): BtfType {
  if (!Number.isInteger(id) || id < 0 || id >= src.count)
    throw new Error(`type id ${id} out of range`);
  return src.type(id);
}

/** Spells `inner` (a name, or '' for an abstract declarator) declared with type `id`. */
export function cDeclarator(src: TypeSource, id: number, inner: string, opts: DeclOptions): string {
  let cur = id;
  let decl = inner;
  // Qualifiers that apply to the base type are collected and printed in front of it.
  let prefixQuals = '';
  for (let depth = 0; depth < MAX_DEPTH; depth++) {
    const t = typeAt(src, cur);
    switch (t.kind) {
      case BtfKind.Ptr: {
        const target = typeAt(src, t.type);
        decl = `*${decl}`;
        if (target.kind === BtfKind.Array || target.kind === BtfKind.FuncProto) decl = `(${decl})`;
        cur = t.type;
        continue;
      }
      case BtfKind.Array:
        decl = `${decl}[${t.nelems}]`;
        cur = t.type;
        continue;
      case BtfKind.FuncProto: {
        const params = t.params.map((p, i) => {
          if (p.type === 0 && i === t.params.length - 1) return '...';
          return cDeclarator(src, p.type, p.name, opts);
        });
        decl = `${decl}(${params.length === 0 ? 'void' : params.join(', ')})`;
        cur = t.returnType;
        continue;
      }
      case BtfKind.Const:
      case BtfKind.Volatile:
      case BtfKind.Restrict: {
        const q =
          t.kind === BtfKind.Const
            ? 'const'
            : t.kind === BtfKind.Volatile
              ? 'volatile'
              : 'restrict';
        const target = typeAt(src, t.type);
        if (target.kind === BtfKind.Ptr) {
          // Qualifies the pointer itself: `int *const p`.
          decl = `${q} ${decl}`.trimEnd();
        } else {
          // `const` on an array and on its elements both land in front of the base type.
          if (!prefixQuals.includes(`${q} `)) prefixQuals += `${q} `;
        }
        cur = t.type;
        continue;
      }
      case BtfKind.TypeTag:
        // Type tags (e.g. __user) do not change the C type; older compilers do not know them.
        cur = t.type;
        continue;
      case BtfKind.Var:
      case BtfKind.Func:
        cur = t.type;
        continue;
      default: {
        const base = prefixQuals + baseName(src, cur, t, opts);
        return joinDecl(base, decl);
      }
    }
  }
  throw new Error(`type ${id}: declarator nesting too deep or cyclic`);
}

function joinDecl(base: string, decl: string): string {
  if (decl === '') return base;
  if (decl.startsWith('[')) return base + decl;
  return `${base} ${decl}`;
}

function baseName(src: TypeSource, id: number, t: BtfType, opts: DeclOptions): string {
  switch (t.kind) {
    case BtfKind.Void:
      return 'void';
    case BtfKind.Int:
    case BtfKind.Float:
      return t.name;
    case BtfKind.Struct:
    case BtfKind.Union:
    case BtfKind.Enum:
    case BtfKind.Enum64: {
      const kw = t.kind === BtfKind.Struct ? 'struct' : t.kind === BtfKind.Union ? 'union' : 'enum';
      if (t.name === '') {
        if (opts.inlineAnon && opts.body) return opts.body(id, opts.indent ?? 0);
        return `${kw} {...}`;
      }
      return `${kw} ${opts.nameOf ? opts.nameOf(id) : t.name}`;
    }
    case BtfKind.Fwd:
      return `${t.union ? 'union' : 'struct'} ${opts.nameOf ? opts.nameOf(id) : t.name}`;
    case BtfKind.Typedef:
      return opts.nameOf ? opts.nameOf(id) : t.name;
    case BtfKind.Datasec:
      return `SEC("${t.name}")`;
    default:
      return t.name || BtfKind[t.kind].toLowerCase();
  }
}
