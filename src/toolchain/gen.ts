/**
 * Typed TypeScript bindings for a BPF object (the bpf2go / `bpftool gen skeleton` equivalent).
 * The generated module loads the object (by a path relative to itself, or embedded as base64),
 * sets `.rodata`/`.data`/`.bss` globals before load, and exposes typed maps, programs and live
 * globals, with TS interfaces generated from the object's BTF for struct keys and values. Types
 * follow the engine's value codec: 64-bit integers and pointers are bigint, smaller integers
 * number, `char[N]` string, arrays arrays, enums their enumerator names.
 */
import { readFileSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  BtfKind,
  isPerCPU,
  loadCollectionSpec,
  MapType,
  type Btf,
  type CollectionSpec,
  type MapSpec,
} from '../bpf/index.js';

/** Options for {@link generateBindings}. */
export interface GenOptions {
  /** The object file the bindings are for. */
  object: string;
  /** Where the .ts will be written (decides the relative path to the object and to iovisor). */
  out: string;
  /** Embed the object as base64 instead of referencing its path. */
  embed?: boolean;
  /**
   * Module specifier the generated code imports the engine from. Default: a relative path to this
   * repository's `src/bpf/index.js` when `out` lies inside the repository, else `iovisor/bpf`.
   */
  importFrom?: string;
  /** Name of the generated class (default: the object name in PascalCase). */
  className?: string;
}

const IDENT = /^[A-Za-z_$][\w$]*$/;
const RESERVED = new Set([
  'break case catch class const continue debugger default delete do else enum export extends false finally for function if import in instanceof new null return super switch this throw true try typeof var void while with yield let static implements interface package private protected public await',
]);
for (const w of [...RESERVED][0]!.split(' ')) RESERVED.add(w);

function prop(name: string): string {
  return IDENT.test(name) ? name : JSON.stringify(name);
}

function pascal(name: string): string {
  const p = name
    .split(/[^A-Za-z0-9]+/)
    .filter((x) => x !== '')
    .map((x) => x[0]!.toUpperCase() + x.slice(1))
    .join('');
  const s = p === '' ? 'Obj' : p;
  return /^[0-9]/.test(s) ? `_${s}` : s;
}

/** The repository root of this iovisor checkout (where package.json names "iovisor"). */
export function iovisorRoot(): string | undefined {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pj = path.join(dir, 'package.json');
    if (existsSync(pj)) {
      try {
        if ((JSON.parse(readFileSync(pj, 'utf8')) as { name?: string }).name === 'iovisor')
          return dir;
      } catch {
        /* keep looking */
      }
    }
    const up = path.dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

/** A relative module specifier from directory `fromDir` to `file`, with a leading `./`. */
export function relativeSpecifier(fromDir: string, file: string): string {
  let rel = path.relative(fromDir, file).split(path.sep).join('/');
  if (!rel.startsWith('.')) rel = `./${rel}`;
  return rel;
}

/** The default engine import for bindings written to `out`; see {@link GenOptions.importFrom}. */
export function defaultImport(out: string): string {
  const root = iovisorRoot();
  const abs = path.resolve(out);
  if (root && !path.relative(root, abs).startsWith('..'))
    return relativeSpecifier(path.dirname(abs), path.join(root, 'src', 'bpf', 'index.js'));
  return 'iovisor/bpf';
}

/** Turns BTF types into TypeScript type expressions, emitting interfaces for named structs. */
class TypeWriter {
  readonly decls: string[] = [];
  private readonly named = new Map<number, string>();
  private readonly used = new Set<string>();

  constructor(
    private readonly btf: Btf,
    reserved: string[],
  ) {
    for (const r of reserved) this.used.add(r);
  }

  private unique(base: string): string {
    let n = base;
    for (let i = 2; this.used.has(n) || RESERVED.has(n); i++) n = `${base}${i}`;
    this.used.add(n);
    return n;
  }

  /** The TS type of values of BTF type `id` as the codec decodes (and accepts) them. */
  type(id: number, depth = 0, nameHint?: string): string {
    const btf = this.btf;
    if (depth > 32) return 'unknown';
    const t = btf.type(id);
    switch (t.kind) {
      case BtfKind.Typedef: {
        const inner = btf.type(btf.resolve(t.type));
        const anon =
          (inner.kind === BtfKind.Struct || inner.kind === BtfKind.Union) && inner.name === '';
        return this.type(t.type, depth + 1, anon ? t.name : nameHint);
      }
      case BtfKind.Const:
      case BtfKind.Volatile:
      case BtfKind.Restrict:
      case BtfKind.TypeTag:
        return this.type(t.type, depth + 1, nameHint);
      case BtfKind.Int:
        if (t.bool) return 'boolean';
        return t.size >= 8 ? 'bigint' : 'number';
      case BtfKind.Ptr:
        return 'bigint';
      case BtfKind.Float:
        return 'number';
      case BtfKind.Enum:
      case BtfKind.Enum64: {
        const names = t.values.map((v) => JSON.stringify(v.name));
        return [...names, t.size >= 8 ? 'bigint' : 'number'].join(' | ');
      }
      case BtfKind.Array: {
        const elem = btf.type(btf.resolve(t.type));
        if (elem.kind === BtfKind.Int && elem.size === 1 && (elem.char || elem.name === 'char'))
          return 'string';
        return arrayOf(this.type(t.type, depth + 1));
      }
      case BtfKind.Struct:
      case BtfKind.Union: {
        const name = t.name || nameHint;
        if (name) {
          const have = this.named.get(id);
          if (have) return have;
          const ts = this.unique(pascal(name));
          this.named.set(id, ts);
          const body = this.members(id, depth, '  ');
          this.decls.push(
            `/** ${t.kind === BtfKind.Union ? 'union' : 'struct'} ${name} (${t.size} bytes)${
              t.kind === BtfKind.Union ? ': give one member when writing' : ''
            }. */\nexport interface ${ts} {\n${body}}\n`,
          );
          return ts;
        }
        return `{\n${this.members(id, depth, '  ')}}`;
      }
      default:
        return 'unknown';
    }
  }

  private members(id: number, depth: number, indent: string): string {
    const t = this.btf.type(id);
    if (t.kind !== BtfKind.Struct && t.kind !== BtfKind.Union) return '';
    const union = t.kind === BtfKind.Union;
    let out = '';
    for (const m of t.members) {
      if (m.name === '') {
        // Anonymous struct/union members are flattened, as C lets you name their fields.
        const inner = this.btf.resolve(m.type);
        const it = this.btf.type(inner);
        if (it.kind === BtfKind.Struct || it.kind === BtfKind.Union)
          out += this.members(inner, depth + 1, indent);
        continue;
      }
      const ty = this.type(m.type, depth + 1).replace(/\n/g, `\n${indent}`);
      out += `${indent}${prop(m.name)}${union ? '?' : ''}: ${ty};\n`;
    }
    return out;
  }
}

function arrayOf(t: string): string {
  return /^[\w.]+$/.test(t) ? `${t}[]` : `(${t})[]`;
}

/** The TS type of a map's keys or values when it has no BTF type: by size, as the engine decodes. */
function bySize(size: number): string {
  if (size === 4) return 'number';
  if (size === 8) return 'number | bigint';
  return 'Uint8Array';
}

function mapKV(tw: TypeWriter, m: MapSpec): { key: string; value: string; raw: boolean } {
  if (
    m.type === MapType.RingBuf ||
    m.type === MapType.UserRingBuf ||
    m.type === MapType.PerfEventArray ||
    (m.keySize === 0 && m.valueSize === 0)
  )
    return { key: 'never', value: 'never', raw: true };
  const key =
    m.keySize === 0 ? 'null' : m.btf && m.keyType ? tw.type(m.keyType) : bySize(m.keySize);
  const value = m.btf && m.valueType ? tw.type(m.valueType) : bySize(m.valueSize);
  return { key, value, raw: false };
}

type Group = 'rodata' | 'data' | 'bss' | 'kconfig';

function groupOf(spec: CollectionSpec, mapName: string): Group | undefined {
  const sec = spec.maps.get(mapName)?.dataSection ?? '';
  if (sec.startsWith('.rodata')) return 'rodata';
  if (sec.startsWith('.data')) return 'data';
  if (sec.startsWith('.bss')) return 'bss';
  if (sec === '.kconfig') return 'kconfig';
  return undefined;
}

/** Generates the bindings' source text. */
export function generateBindings(opts: GenOptions): string {
  const spec = loadCollectionSpec(opts.object);
  const cls = opts.className ?? pascal(spec.name);
  const outAbs = path.resolve(opts.out);
  const importFrom = opts.importFrom ?? defaultImport(outAbs);
  const btf = spec.btf;
  const reserved = [
    cls,
    `${cls}LoadOptions`,
    `${cls}Maps`,
    `${cls}Programs`,
    `${cls}Rodata`,
    `${cls}Data`,
    `${cls}Bss`,
    `${cls}Kconfig`,
    'TypedMap',
    'BpfMap',
    'Program',
    'Collection',
    'CollectionSpec',
    'UpdateFlags',
  ];
  const tw = btf ? new TypeWriter(btf, reserved) : undefined;
  const typeOf = (id: number | undefined, size: number): string =>
    tw && id !== undefined ? tw.type(id) : bySize(size);

  // Maps (global-data sections are exposed as variables instead).
  const mapLines: string[] = [];
  const mapInit: string[] = [];
  for (const m of spec.maps.values()) {
    if (m.dataSection !== undefined) continue;
    const kv = tw
      ? mapKV(tw, m)
      : { key: bySize(m.keySize), value: bySize(m.valueSize), raw: false };
    const doc = `  /** ${m.name}: ${MapType[m.type] ?? m.type}, ${m.maxEntries} entries. */\n`;
    if (kv.raw) {
      mapLines.push(`${doc}  readonly ${prop(m.name)}: BpfMap;\n`);
      mapInit.push(`      ${prop(m.name)}: c.map(${JSON.stringify(m.name)}),\n`);
      continue;
    }
    const value = isPerCPU(m.type) ? arrayOf(kv.value) : kv.value;
    const valueIn = isPerCPU(m.type) ? `${kv.value} | ${arrayOf(kv.value)}` : kv.value;
    mapLines.push(`${doc}  readonly ${prop(m.name)}: TypedMap<${kv.key}, ${value}, ${valueIn}>;\n`);
    mapInit.push(`      ${prop(m.name)}: new TypedMap(c.map(${JSON.stringify(m.name)})),\n`);
  }

  // Global variables by section group.
  const groups: Record<Group, string[]> = { rodata: [], data: [], bss: [], kconfig: [] };
  const groupVars: Record<Group, string[]> = { rodata: [], data: [], bss: [], kconfig: [] };
  for (const v of spec.variables.values()) {
    const g = groupOf(spec, v.map);
    if (!g) continue;
    groups[g].push(`  ${prop(v.name)}: ${typeOf(v.type, v.size).replace(/\n/g, '\n  ')};\n`);
    groupVars[g].push(v.name);
  }

  const progLines = [...spec.programs.values()].map(
    (p) => `  /** SEC("${p.sectionName}") */\n  readonly ${prop(p.name)}: Program;\n`,
  );

  let source: string;
  if (opts.embed) {
    const b64 = readFileSync(opts.object).toString('base64');
    const lines = b64.match(/.{1,100}/g) ?? [];
    source =
      `const OBJECT_BASE64 =\n${lines.map((l) => `  '${l}'`).join(' +\n') || "  ''"};\n\n` +
      `function readSpec(file?: string): CollectionSpec {\n` +
      `  if (file !== undefined) return loadCollectionSpec(file);\n` +
      `  return parseCollectionSpec(Uint8Array.from(Buffer.from(OBJECT_BASE64, 'base64')), ${JSON.stringify(spec.name)});\n}\n`;
  } else {
    const rel = relativeSpecifier(path.dirname(outAbs), path.resolve(opts.object));
    source =
      `/** The object, relative to this module. */\n` +
      `export const OBJECT_FILE = fileURLToPath(new URL(${JSON.stringify(rel)}, import.meta.url));\n\n` +
      `function readSpec(file?: string): CollectionSpec {\n` +
      `  return loadCollectionSpec(file ?? OBJECT_FILE);\n}\n`;
  }

  const iface = (name: string, body: string[], doc: string): string =>
    `/** ${doc} */\nexport interface ${name} {\n${body.join('')}}\n`;

  const mapsBody = mapLines.length ? mapLines : [];
  const out: string[] = [];
  out.push(
    `// Code generated by \`iovisor gen ts\` from ${path.basename(opts.object)}. DO NOT EDIT.\n` +
      `/* eslint-disable */\n` +
      (opts.embed ? '' : `import { fileURLToPath } from 'node:url';\n`) +
      `import {\n  Collection,\n  loadCollectionSpec,\n` +
      (opts.embed ? `  parseCollectionSpec,\n` : '') +
      `  setVariable,\n  UpdateFlags,\n  type BpfMap,\n  type CollectionOptions,\n  type CollectionSpec,\n  type Program,\n} from ${JSON.stringify(importFrom)};\n`,
  );
  out.push(
    `/** A map with typed keys and values (the engine encodes and decodes them through BTF). */\n` +
      `export class TypedMap<K, V, VIn = V> {\n` +
      `  constructor(readonly raw: BpfMap) {}\n` +
      `  /** The value for \`key\`, or undefined when absent. */\n` +
      `  get(key: K): V | undefined {\n    return this.raw.get(key) as V | undefined;\n  }\n` +
      `  /** Writes an entry. */\n` +
      `  set(key: K, value: VIn, flags: UpdateFlags = UpdateFlags.Any): void {\n    this.raw.set(key, value, flags);\n  }\n` +
      `  /** Deletes an entry; false when it was absent. */\n` +
      `  delete(key: K): boolean {\n    return this.raw.delete(key);\n  }\n` +
      `  /** Every entry. */\n` +
      `  entries(): [K, V][] {\n    return this.raw.dump() as [K, V][];\n  }\n}\n`,
  );
  if (tw) out.push(...tw.decls);
  out.push(iface(`${cls}Maps`, mapsBody, `Maps of ${spec.name}.`));
  out.push(iface(`${cls}Programs`, progLines, `Programs of ${spec.name}.`));
  out.push(
    iface(`${cls}Rodata`, groups.rodata, `.rodata constants: set them before load (load options).`),
  );
  out.push(
    iface(`${cls}Data`, groups.data, `.data variables: initial values settable, live after load.`),
  );
  out.push(iface(`${cls}Bss`, groups.bss, `.bss variables: zero-initialised, live after load.`));
  out.push(
    iface(`${cls}Kconfig`, groups.kconfig, `.kconfig externs, filled from the running kernel.`),
  );
  out.push(
    `/** Names of the programs in ${spec.name}. */\nexport type ${cls}ProgramName = ${
      [...spec.programs.keys()].map((n) => JSON.stringify(n)).join(' | ') || 'never'
    };\n`,
  );
  out.push(
    `/** How to load ${spec.name}. */\nexport interface ${cls}LoadOptions {\n` +
      `  /** Constants written into .rodata before load. */\n  rodata?: Partial<${cls}Rodata>;\n` +
      `  /** Initial values of .data variables. */\n  data?: Partial<${cls}Data>;\n` +
      `  /** Initial values of .bss variables. */\n  bss?: Partial<${cls}Bss>;\n` +
      `  /** Load only these programs (default: all). */\n  programs?: ${cls}ProgramName[];\n` +
      `  /** Directory for maps pinned by name. */\n  pinPath?: string;\n` +
      `  /** Load from this object file instead of the one the bindings were generated for. */\n  file?: string;\n` +
      `  /** Passed on to Collection.load. */\n  collection?: Omit<CollectionOptions, 'programs' | 'pinPath'>;\n}\n`,
  );
  out.push(source);
  out.push(
    `function live<T extends object>(c: Collection, names: string[], writable: boolean): T {\n` +
      `  const o = {} as T;\n` +
      `  for (const n of names) {\n` +
      `    const v = c.variables.get(n)!;\n` +
      `    Object.defineProperty(o, n, {\n      enumerable: true,\n      get: () => v.get(),\n` +
      `      set: writable\n        ? (x: unknown) => v.set(x)\n        : () => {\n            throw new Error(\`\${n} is read-only after load\`);\n          },\n    });\n  }\n  return o;\n}\n`,
  );
  const names = (g: Group): string => JSON.stringify(groupVars[g]);
  out.push(
    `/** ${spec.name}, loaded: typed maps, programs and live global variables. */\n` +
      `export class ${cls} {\n` +
      `  /** The object's name. */\n  static readonly objectName = ${JSON.stringify(spec.name)};\n` +
      `  readonly maps: ${cls}Maps;\n  readonly programs: ${cls}Programs;\n` +
      `  /** .rodata, read-only after load. */\n  readonly rodata: Readonly<${cls}Rodata>;\n` +
      `  /** .data, read and written live. */\n  readonly data: ${cls}Data;\n` +
      `  /** .bss, read and written live. */\n  readonly bss: ${cls}Bss;\n` +
      `  readonly kconfig: Readonly<${cls}Kconfig>;\n\n` +
      `  private constructor(readonly collection: Collection) {\n` +
      `    const c = collection;\n` +
      `    this.maps = {\n${mapInit.join('')}    };\n` +
      `    // Programs not loaded (see the programs option) are absent.\n` +
      `    this.programs = Object.fromEntries(\n      [...c.programs].map(([n, p]) => [n, p]),\n    ) as unknown as ${cls}Programs;\n` +
      `    this.rodata = live(c, ${names('rodata')}, false);\n` +
      `    this.data = live(c, ${names('data')}, true);\n` +
      `    this.bss = live(c, ${names('bss')}, true);\n` +
      `    this.kconfig = live(c, ${names('kconfig')}, false);\n  }\n\n` +
      `  /** The object's spec, freshly parsed (change it freely before loading it yourself). */\n` +
      `  static spec(file?: string): CollectionSpec {\n    return readSpec(file);\n  }\n\n` +
      `  /** Sets globals, then creates the maps and loads the programs. */\n` +
      `  static async load(opts: ${cls}LoadOptions = {}): Promise<${cls}> {\n` +
      `    const spec = readSpec(opts.file);\n` +
      `    for (const group of [opts.rodata, opts.data, opts.bss]) {\n` +
      `      for (const [k, v] of Object.entries(group ?? {})) if (v !== undefined) setVariable(spec, k, v);\n    }\n` +
      `    return new ${cls}(\n      Collection.load(spec, { ...opts.collection, programs: opts.programs, pinPath: opts.pinPath }),\n    );\n  }\n\n` +
      `  /** Releases every fd (pinned or attached objects stay in the kernel). */\n` +
      `  close(): void {\n    this.collection.close();\n  }\n}\n`,
  );
  out.push(
    `/** Loads ${spec.name}; see {@link ${cls}.load}. */\n` +
      `export function load(opts: ${cls}LoadOptions = {}): Promise<${cls}> {\n  return ${cls}.load(opts);\n}\n\n` +
      `export default ${cls};\n`,
  );
  return out.join('\n');
}

/** Generates bindings and writes them to `opts.out`; returns the path. */
export function writeBindings(opts: GenOptions): string {
  const text = generateBindings(opts);
  mkdirSync(path.dirname(path.resolve(opts.out)), { recursive: true });
  writeFileSync(opts.out, text);
  return opts.out;
}
