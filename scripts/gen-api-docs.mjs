#!/usr/bin/env node
// Generates docs/api/<entry>.md from the doc comments of every export of the public entry
// points, with the TypeScript compiler API (no extra dependency). Prints the exports that lack
// a doc comment; `--check` makes that an error.
import ts from 'typescript';
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ENTRIES = [
  ['sys', 'src/sys/index.ts', 'The syscall seam: the only native code.'],
  ['bpf', 'src/bpf/index.ts', 'The engine: specs, maps, programs, collections, links, events.'],
  ['asm', 'src/bpf/asm/index.ts', 'Instructions: encode, decode, disassemble, assemble, build.'],
  ['btf', 'src/bpf/btf/index.ts', 'BTF: parse, encode, CO-RE, value codec, C headers.'],
  ['net', 'src/net/index.ts', 'rtnetlink in TypeScript: namespaces, links, addresses, TC/XDP.'],
  ['toolchain', 'src/toolchain/index.ts', 'Build, bindings, conformance, packet harness.'],
  ['dataplane', 'src/dataplane/index.ts', 'IO modules, ports, chains, hot swap, topologies.'],
  ['trace', 'src/trace/index.ts', 'Tracing tools as a library.'],
  ['daemon', 'src/daemon/index.ts', 'iovisord: API, store, metrics.'],
].filter(([, file]) => existsSync(path.join(root, file)));

const program = ts.createProgram(
  ENTRIES.map(([, f]) => path.join(root, f)),
  {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    strict: true,
    skipLibCheck: true,
  },
);
const checker = program.getTypeChecker();
const out = path.join(root, 'docs', 'api');
mkdirSync(out, { recursive: true });
const missing = [];

function kindOf(decl) {
  if (!decl) return 'value';
  if (ts.isClassDeclaration(decl)) return 'class';
  if (ts.isInterfaceDeclaration(decl)) return 'interface';
  if (ts.isTypeAliasDeclaration(decl)) return 'type';
  if (ts.isEnumDeclaration(decl)) return 'enum';
  if (ts.isFunctionDeclaration(decl)) return 'function';
  if (ts.isVariableDeclaration(decl)) return 'const';
  if (ts.isModuleDeclaration(decl) || ts.isSourceFile(decl)) return 'namespace';
  return 'value';
}

function signature(sym, decl) {
  const kind = kindOf(decl);
  if (kind === 'function') {
    const type = checker.getTypeOfSymbolAtLocation(sym, decl);
    return type
      .getCallSignatures()
      .map((s) => `${sym.name}${checker.signatureToString(s)}`)
      .join('\n');
  }
  if (kind === 'const')
    return `${sym.name}: ${checker.typeToString(checker.getTypeOfSymbolAtLocation(sym, decl))}`;
  if (kind === 'type')
    return decl
      .getText()
      .replace(/^export\s+/, '')
      .slice(0, 600);
  return undefined;
}

function members(sym, decl) {
  const rows = [];
  if (!(
    ts.isClassDeclaration(decl) ||
    ts.isInterfaceDeclaration(decl) ||
    ts.isEnumDeclaration(decl)
  ))
    return rows;
  for (const m of decl.members) {
    const name = m.name && ts.isIdentifier(m.name) ? m.name.text : m.name?.getText?.();
    if (!name || name.startsWith('#')) continue;
    const mods = ts.canHaveModifiers(m) ? (ts.getModifiers(m) ?? []) : [];
    if (
      mods.some(
        (x) => x.kind === ts.SyntaxKind.PrivateKeyword || x.kind === ts.SyntaxKind.ProtectedKeyword,
      )
    )
      continue;
    const msym = m.name ? checker.getSymbolAtLocation(m.name) : undefined;
    const doc = msym
      ? ts.displayPartsToString(msym.getDocumentationComment(checker)).split('\n')[0]
      : '';
    let text = name;
    if (ts.isMethodDeclaration(m) || ts.isMethodSignature(m)) {
      const sig = checker.getSignatureFromDeclaration(m);
      text = `${name}${sig ? checker.signatureToString(sig) : '()'}`;
      if (mods.some((x) => x.kind === ts.SyntaxKind.StaticKeyword)) text = `static ${text}`;
    } else if (ts.isPropertyDeclaration(m) || ts.isPropertySignature(m) || ts.isGetAccessor(m)) {
      const t = msym ? checker.typeToString(checker.getTypeOfSymbolAtLocation(msym, m)) : '';
      text = `${name}: ${t}`;
    } else if (ts.isEnumMember(m)) {
      const v = checker.getConstantValue(m);
      text = `${name} = ${JSON.stringify(v)}`;
    } else if (ts.isConstructorDeclaration(m)) {
      continue;
    }
    rows.push(`- \`${text.replace(/`/g, "'")}\`${doc ? ` — ${doc}` : ''}`);
  }
  return rows;
}

for (const [name, file, blurb] of ENTRIES) {
  const sf = program.getSourceFile(path.join(root, file));
  const modSym = checker.getSymbolAtLocation(sf);
  if (!modSym) continue;
  const exports = checker.getExportsOfModule(modSym).sort((a, b) => a.name.localeCompare(b.name));
  const lines = [
    `# API: \`${name}\``,
    '',
    `${blurb} Generated from doc comments by \`scripts/gen-api-docs.mjs\` — do not edit.`,
    '',
    `Entry point: \`${file}\``,
    '',
  ];
  for (const exp of exports) {
    const sym = exp.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exp) : exp;
    const decl = sym.declarations?.[0];
    const doc = ts.displayPartsToString(sym.getDocumentationComment(checker)).trim();
    const kind = kindOf(decl);
    if (!doc && kind !== 'namespace')
      missing.push(
        `${name}: ${exp.name} (${decl ? path.relative(root, decl.getSourceFile().fileName) : '?'})`,
      );
    lines.push(
      `## ${exp.name}`,
      '',
      `*${kind}*${decl ? ` — \`${path.relative(root, decl.getSourceFile().fileName)}\`` : ''}`,
      '',
    );
    if (doc) lines.push(doc, '');
    const sig = decl ? signature(sym, decl) : undefined;
    if (sig) lines.push('```ts', sig, '```', '');
    const mem = decl ? members(sym, decl) : [];
    if (mem.length) lines.push(...mem, '');
  }
  writeFileSync(path.join(out, `${name}.md`), lines.join('\n'));
}
writeFileSync(
  path.join(out, 'README.md'),
  [
    '# API reference',
    '',
    'Generated from the doc comments of each public entry point.',
    '',
    ...ENTRIES.map(([n, f, b]) => `- [${n}](${n}.md) — ${b} (\`${f}\`)`),
    '',
  ].join('\n'),
);
if (missing.length) {
  process.stderr.write(
    `gen-api-docs: ${missing.length} export(s) without a doc comment:\n  ${missing.join('\n  ')}\n`,
  );
  if (process.argv.includes('--check')) process.exit(1);
}
process.stderr.write(`gen-api-docs: wrote ${ENTRIES.length} pages to docs/api\n`);
