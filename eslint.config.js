// One linter for the whole tree. Besides the usual TypeScript rules it enforces the layer
// order of DESIGN.md: a file under src/<layer>/ may import only from layers listed before it.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import path from 'node:path';

const LAYERS = ['sys', 'bpf', 'net', 'toolchain', 'dataplane', 'modules', 'trace', 'daemon', 'cli'];
const root = path.dirname(new URL(import.meta.url).pathname);

/** The layer a file belongs to, or undefined when it is outside src/ and modules/. */
function layerOf(file) {
  const rel = path.relative(root, file).split(path.sep);
  if (rel[0] === 'modules') return 'modules';
  if (rel[0] === 'src' && LAYERS.includes(rel[1])) return rel[1];
  return undefined;
}

const layerRule = {
  meta: {
    type: 'problem',
    messages: { up: "layer '{{from}}' may not import layer '{{to}}' (see DESIGN.md)" },
  },
  create(context) {
    const from = layerOf(context.filename);
    if (from === undefined) return {};
    const check = (node) => {
      const spec = node.source?.value;
      if (typeof spec !== 'string' || !spec.startsWith('.')) return;
      const to = layerOf(path.resolve(path.dirname(context.filename), spec));
      if (to !== undefined && LAYERS.indexOf(to) > LAYERS.indexOf(from)) {
        context.report({ node, messageId: 'up', data: { from, to } });
      }
    };
    return {
      ImportDeclaration: check,
      ExportNamedDeclaration: check,
      ExportAllDeclaration: check,
      ImportExpression: check,
    };
  },
};

export default tseslint.config(
  { ignores: ['dist/**', '.dist-*/**', 'node_modules/**', 'web/dist/**', 'docs/api/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    plugins: { iovisor: { rules: { layers: layerRule } } },
    rules: {
      'iovisor/layers': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/sys/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        { paths: [{ name: 'koffi', message: 'koffi lives only in src/sys' }] },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: { globals: { console: 'readonly', process: 'readonly', URL: 'readonly' } },
  },
);
