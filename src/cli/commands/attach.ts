/**
 * `iovisor attach HOOK PROG ...`: attaches a loaded (pinned or by-id) program. Links outlive the
 * command only when pinned, as with bpftool, so link-based hooks require --pin.
 */
import { AttachType, type Program } from '../../bpf/index.js';
import {
  attachCgroup,
  attachRawTracepoint,
  attachTracepoint,
  attachTracing,
  attachUprobe,
  Link,
  type Attachment,
} from '../../bpf/link/index.js';
import { attachTc, attachTcx, attachXdp } from '../../net/attach.js';
import { parseArgs, stringFlag, UsageError, type Parsed } from '../args.js';
import { printJSON } from '../output.js';
import { openProgram } from '../targets.js';

/** Usage text. */
export const attachUsage = `iovisor attach xdp PROG --dev IFNAME [--netns NAME] [--mode generic|driver] --pin LINK
iovisor attach tcx PROG --dev IFNAME --direction ingress|egress [--netns NAME] [--before|--after PROG_ID] --pin LINK
iovisor attach tc PROG --dev IFNAME --direction ingress|egress [--netns NAME] [--priority N]   (legacy cls_bpf)
iovisor attach tracepoint PROG --tp GROUP/NAME --pin LINK
iovisor attach raw_tp PROG --tp NAME --pin LINK
iovisor attach tp_btf|fentry|fexit|fmod_ret PROG --pin LINK
iovisor attach uprobe PROG --binary PATH --symbol NAME [--retprobe] [--pid PID] --pin LINK
iovisor attach cgroup PROG --cgroup PATH --type ingress|egress|ATTACH_TYPE --pin LINK
  Every form takes --json. PROG is a program id, "id N", "name NAME" or a pin path.`;

const COMMON = { pin: 'string', json: 'boolean' } as const;

const CGROUP_TYPES: Record<string, AttachType> = {
  ingress: AttachType.CgroupInetIngress,
  egress: AttachType.CgroupInetEgress,
  sock_create: AttachType.CgroupInetSockCreate,
  sock_release: AttachType.CgroupInetSockRelease,
  sock_ops: AttachType.CgroupSockOps,
  device: AttachType.CgroupDevice,
  bind4: AttachType.CgroupInet4Bind,
  bind6: AttachType.CgroupInet6Bind,
  connect4: AttachType.CgroupInet4Connect,
  connect6: AttachType.CgroupInet6Connect,
  sendmsg4: AttachType.CgroupUDP4Sendmsg,
  sendmsg6: AttachType.CgroupUDP6Sendmsg,
  recvmsg4: AttachType.CgroupUDP4Recvmsg,
  recvmsg6: AttachType.CgroupUDP6Recvmsg,
  sysctl: AttachType.CgroupSysctl,
  getsockopt: AttachType.CgroupGetsockopt,
  setsockopt: AttachType.CgroupSetsockopt,
};

function cgroupType(name: string): AttachType {
  const t = CGROUP_TYPES[name];
  if (t !== undefined) return t;
  const byEnum = Object.entries(AttachType).find(
    ([k, v]) => typeof v === 'number' && k.toLowerCase() === name.toLowerCase(),
  );
  if (byEnum) return byEnum[1] as AttachType;
  throw new UsageError(
    `attach cgroup: unknown --type ${name} (one of ${Object.keys(CGROUP_TYPES).join(', ')})`,
  );
}

const TRACING: Record<string, AttachType> = {
  tp_btf: AttachType.TraceRawTp,
  fentry: AttachType.TraceFentry,
  fexit: AttachType.TraceFexit,
  fmod_ret: AttachType.ModifyReturn,
};

/** Pins (or refuses without --pin) and reports an attachment. */
function finish(a: Attachment, p: Parsed, hook: string, prog: Program): void {
  const pin = p.flags.pin as string | undefined;
  const json = p.flags.json === true;
  if (a instanceof Link) {
    if (pin === undefined) {
      a.close();
      throw new UsageError(
        `attach ${hook}: --pin PATH is required: the link would be released when iovisor exits`,
      );
    }
    try {
      a.pin(pin);
    } catch (err) {
      a.close();
      throw err;
    }
    const info = a.info();
    a.close();
    if (json) printJSON({ hook, link_id: info.id, prog_id: info.progId, pinned: pin, ...info });
    else
      process.stdout.write(
        `attached ${prog.name} to ${hook}: link id ${info.id} (${info.typeName}) pinned at ${pin}\n`,
      );
    return;
  }
  // Legacy attachments (netlink XDP, cls_bpf) stay in the kernel without a pin.
  if (pin !== undefined)
    process.stderr.write(
      `iovisor: warning: ${hook} is not a bpf_link here (legacy attachment); --pin ignored\n`,
    );
  a.close();
  if (json) printJSON({ hook, legacy: true, prog_id: prog.info().id });
  else process.stdout.write(`attached ${prog.name} to ${hook} (legacy attachment, no link)\n`);
}

function directionFlag(p: Parsed, cmd: string): 'ingress' | 'egress' {
  const d = stringFlag(p, 'direction', cmd, true);
  if (d !== 'ingress' && d !== 'egress')
    throw new UsageError(`${cmd}: --direction must be ingress or egress`);
  return d;
}

/** Runs `iovisor attach`. */
export function attachCommand(argv: string[]): void {
  const [hook, ...rest] = argv;
  if (hook === undefined) throw new UsageError(`attach: missing hook\n${attachUsage}`);
  const cmd = `attach ${hook}`;
  const { prog, rest: args } = openProgram(rest);
  try {
    switch (hook) {
      case 'xdp': {
        const p = parseArgs(
          args,
          { ...COMMON, dev: 'string', netns: 'string', mode: 'string' },
          cmd,
        );
        const mode = stringFlag(p, 'mode', cmd);
        if (mode !== undefined && mode !== 'generic' && mode !== 'driver' && mode !== 'hw')
          throw new UsageError(`${cmd}: --mode must be generic, driver or hw`);
        const a = attachXdp(prog, {
          dev: stringFlag(p, 'dev', cmd, true),
          netns: stringFlag(p, 'netns', cmd),
          mode,
        });
        return finish(a, p, a.hook, prog);
      }
      case 'tcx': {
        const p = parseArgs(
          args,
          {
            ...COMMON,
            dev: 'string',
            netns: 'string',
            direction: 'string',
            before: 'number',
            after: 'number',
          },
          cmd,
        );
        const before = p.flags.before as number | undefined;
        const after = p.flags.after as number | undefined;
        const a = attachTcx(prog, {
          dev: stringFlag(p, 'dev', cmd, true),
          netns: stringFlag(p, 'netns', cmd),
          direction: directionFlag(p, cmd),
          anchor:
            before !== undefined
              ? { kind: 'before', programId: before }
              : after !== undefined
                ? { kind: 'after', programId: after }
                : undefined,
        });
        return finish(a, p, a.hook, prog);
      }
      case 'tc': {
        const p = parseArgs(
          args,
          {
            ...COMMON,
            dev: 'string',
            netns: 'string',
            direction: 'string',
            priority: 'number',
            handle: 'number',
          },
          cmd,
        );
        const a = attachTc(prog, {
          dev: stringFlag(p, 'dev', cmd, true),
          netns: stringFlag(p, 'netns', cmd),
          direction: directionFlag(p, cmd),
          priority: p.flags.priority as number | undefined,
          handle: p.flags.handle as number | undefined,
        });
        return finish(a, p, a.hook, prog);
      }
      case 'tracepoint': {
        const p = parseArgs(args, { ...COMMON, tp: 'string' }, cmd);
        const tp = stringFlag(p, 'tp', cmd, true);
        const slash = tp.indexOf('/');
        if (slash <= 0) throw new UsageError(`${cmd}: --tp must be GROUP/NAME`);
        const a = attachTracepoint(prog, tp.slice(0, slash), tp.slice(slash + 1));
        return finish(a, p, a.hook, prog);
      }
      case 'raw_tp':
      case 'raw_tracepoint': {
        const p = parseArgs(args, { ...COMMON, tp: 'string' }, cmd);
        const a = attachRawTracepoint(prog, stringFlag(p, 'tp', cmd, true));
        return finish(a, p, a.hook, prog);
      }
      case 'tp_btf':
      case 'fentry':
      case 'fexit':
      case 'fmod_ret': {
        const p = parseArgs(args, { ...COMMON }, cmd);
        const a = attachTracing(prog, { attachType: TRACING[hook] });
        return finish(a, p, a.hook, prog);
      }
      case 'uprobe':
      case 'uretprobe': {
        const p = parseArgs(
          args,
          { ...COMMON, binary: 'string', symbol: 'string', retprobe: 'boolean', pid: 'number' },
          cmd,
        );
        const a = attachUprobe(prog, stringFlag(p, 'binary', cmd, true), {
          symbol: stringFlag(p, 'symbol', cmd, true),
          retprobe: hook === 'uretprobe' || p.flags.retprobe === true,
          pid: p.flags.pid as number | undefined,
        });
        return finish(a, p, a.hook, prog);
      }
      case 'cgroup': {
        const p = parseArgs(args, { ...COMMON, cgroup: 'string', type: 'string' }, cmd);
        const a = attachCgroup(prog, stringFlag(p, 'cgroup', cmd, true), {
          attachType: cgroupType(stringFlag(p, 'type', cmd) ?? 'ingress'),
        });
        return finish(a, p, a.hook, prog);
      }
      default:
        throw new UsageError(`attach: unknown hook "${hook}"\n${attachUsage}`);
    }
  } finally {
    prog.close();
  }
}
