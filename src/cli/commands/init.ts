/** `iovisor init`: a new IO module project (C source, build, typed bindings, packet test). */
import path from 'node:path';
import { initProject } from '../../toolchain/init.js';
import { parseArgs, positional } from '../args.js';

/** Usage text. */
export const initUsage = `iovisor init NAME [--dir DIR] [--template xdp-counter]`;

/** Runs `init`. */
export function initCommand(argv: string[]): void {
  const p = parseArgs(argv, { dir: 'string', template: 'string' }, 'init');
  const name = positional(p, 0, 'NAME', 'init');
  const r = initProject(name, {
    dir: p.flags.dir as string | undefined,
    template: p.flags.template as string | undefined,
  });
  for (const f of r.files) process.stdout.write(`  create  ${path.join(r.dir, f)}\n`);
  const rel = path.relative(process.cwd(), r.dir) || '.';
  process.stdout.write(`\nNext: cd ${rel} && npm install && npm test\n`);
}
