/** `iovisor link list|show|detach`: bpftool-like link inspection. */
import { existsSync } from 'node:fs';
import { Link, type LinkInfo } from '../../bpf/link/index.js';
import { isErrno } from '../../sys/index.js';
import { parseArgs, positional, UsageError } from '../args.js';
import { formatValue, printJSON, printTable } from '../output.js';

/** Usage text. */
export const linkUsage = `iovisor link list [--json]
iovisor link show LINK [--json]
iovisor link detach LINK
  LINK is a link id or a pin path; detaching a pin path also removes the pin.`;

function openLink(arg: string): { link: Link; pin?: string } {
  if (/^\d+$/.test(arg)) return { link: Link.fromId(Number(arg)) };
  if (!existsSync(arg)) throw new Error(`no link pinned at ${arg} (and not a link id)`);
  return { link: Link.openPinned(arg), pin: arg };
}

function row(i: LinkInfo): (string | number)[] {
  const d = Object.entries(i.details)
    .map(([k, v]) => `${k} ${formatValue(v)}`)
    .join('  ');
  return [i.id, i.typeName, i.progId, d || '-'];
}

function json(i: LinkInfo): Record<string, unknown> {
  return { id: i.id, type: i.typeName, prog_id: i.progId, ...i.details };
}

/** Runs a `link` subcommand. */
export function linkCommand(argv: string[]): void {
  const [sub, ...rest] = argv;
  switch (sub) {
    case 'list':
    case undefined: {
      const p = parseArgs(rest, { json: 'boolean' }, 'link list');
      const infos: LinkInfo[] = [];
      for (const id of Link.ids()) {
        try {
          const l = Link.fromId(id);
          try {
            infos.push(l.info());
          } finally {
            l.close();
          }
        } catch {
          // The link went away between listing and opening it.
        }
      }
      if (p.flags.json) printJSON(infos.map(json));
      else printTable(['ID', 'TYPE', 'PROG', 'DETAILS'], infos.map(row));
      return;
    }
    case 'show': {
      const p = parseArgs(rest, { json: 'boolean' }, 'link show');
      const { link } = openLink(positional(p, 0, 'LINK', 'link show'));
      try {
        const i = link.info();
        if (p.flags.json) printJSON(json(i));
        else printTable(['ID', 'TYPE', 'PROG', 'DETAILS'], [row(i)]);
      } finally {
        link.close();
      }
      return;
    }
    case 'detach': {
      const p = parseArgs(rest, {}, 'link detach');
      const { link, pin } = openLink(positional(p, 0, 'LINK', 'link detach'));
      try {
        const info = link.info();
        try {
          link.detach();
        } catch (err) {
          // Some link types (perf_event, raw_tp...) have no BPF_LINK_DETACH: dropping the pin
          // releases them once no other process holds them.
          if (!isErrno(err, 'EOPNOTSUPP', 'ENOTSUP', 'ENOTSUPP') || !pin) throw err;
          link.unpin(pin);
          process.stdout.write(
            `removed pin ${pin}: link ${info.id} (${info.typeName}) has no forced detach; it goes away with its last holder\n`,
          );
          return;
        }
        if (pin) link.unpin(pin);
        process.stdout.write(`detached link ${info.id}${pin ? ` and removed pin ${pin}` : ''}\n`);
      } finally {
        link.close();
      }
      return;
    }
    default:
      throw new UsageError(`link: unknown subcommand "${sub}"\n${linkUsage}`);
  }
}
