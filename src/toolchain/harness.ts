/**
 * The packet test harness: run one XDP/TC/socket program over every packet of a capture through
 * BPF_PROG_TEST_RUN, count verdicts per return code (named where the program type names them)
 * and write the packets the program let through, as it left them, to a new capture.
 */
import {
  Collection,
  loadCollectionSpec,
  Program,
  ProgramType,
  returnCodeName,
  setVariable,
  type CollectionSpec,
} from '../bpf/index.js';
import { LINKTYPE_ETHERNET, readCapture, writeCapture, type Packet } from './pcap.js';

/** What to run and on what. */
export interface PacketTestOptions {
  /** An object file, a parsed spec, or an already loaded program (e.g. from generated bindings). */
  object?: string | CollectionSpec;
  /** The program's name in the object (required with `object`). */
  program?: string | Program;
  /** Packets to run; or `pcap`, a pcap/pcapng file to read them from. */
  packets?: readonly (Packet | Uint8Array)[];
  pcap?: string;
  /** Where to write output packets (pcapng when the name ends in .pcapng). */
  out?: string;
  /** Also write packets the program dropped (default: only those it let through). */
  keepDropped?: boolean;
  /** Global variables to set before load (e.g. .rodata configuration), by name. */
  variables?: Record<string, unknown>;
}

/** The verdict for one packet. */
export interface PacketResult {
  index: number;
  retval: number;
  /** XDP_PASS, TC_ACT_SHOT, ... where the program type names return codes. */
  verdict: string;
  /** The packet as the program left it. */
  dataOut: Uint8Array;
}

/** The outcome over a whole capture. */
export interface PacketTestReport {
  program: string;
  programType: string;
  packets: number;
  /** Count per verdict name (or per decimal return code when the type has no names). */
  verdicts: Record<string, number>;
  results: PacketResult[];
  /** Number of packets written to `out`. */
  written: number;
  out?: string;
}

const DROPS = new Set(['XDP_DROP', 'XDP_ABORTED', 'TC_ACT_SHOT', 'SK_DROP']);

/** The name of a return code for a program type: a symbolic name, or the decimal value. */
export function verdictName(type: ProgramType, retval: number): string {
  return returnCodeName(type, retval) ?? String(retval | 0);
}

/**
 * Runs a program over packets and reports verdict counts. When `object` is given the object is
 * loaded (only the chosen program) and closed again afterwards; a passed-in Program stays open.
 */
export function testProgramOnPackets(opts: PacketTestOptions): PacketTestReport {
  const input: Packet[] = opts.pcap
    ? readCapture(opts.pcap).packets
    : (opts.packets ?? []).map((p) =>
        p instanceof Uint8Array ? { data: p, timestampNs: 0n, linkType: LINKTYPE_ETHERNET } : p,
      );
  if (!opts.pcap && !opts.packets) throw new Error('packet test: give packets or a pcap file');
  for (const [i, p] of input.entries()) {
    if ((p.linkType ?? LINKTYPE_ETHERNET) !== LINKTYPE_ETHERNET)
      throw new Error(
        `packet test: packet ${i}: link type ${p.linkType} is not Ethernet (XDP and TC programs see Ethernet frames)`,
      );
  }
  let coll: Collection | undefined;
  let prog: Program;
  if (opts.program instanceof Program) {
    prog = opts.program;
  } else {
    if (opts.object === undefined || opts.program === undefined)
      throw new Error('packet test: give an object and a program name, or a loaded Program');
    const spec = typeof opts.object === 'string' ? loadCollectionSpec(opts.object) : opts.object;
    if (!spec.programs.has(opts.program))
      throw new Error(
        `packet test: ${spec.name} has no program ${opts.program} (have: ${[...spec.programs.keys()].join(', ')})`,
      );
    for (const [k, v] of Object.entries(opts.variables ?? {})) setVariable(spec, k, v);
    coll = Collection.load(spec, { programs: [opts.program] });
    prog = coll.program(opts.program);
  }
  try {
    const results: PacketResult[] = [];
    const verdicts: Record<string, number> = {};
    input.forEach((p, index) => {
      let r;
      try {
        r = prog.run({ data: p.data });
      } catch (err) {
        throw new Error(`packet test: packet ${index}: ${(err as Error).message}`, { cause: err });
      }
      const verdict = verdictName(prog.type, r.retval);
      verdicts[verdict] = (verdicts[verdict] ?? 0) + 1;
      results.push({ index, retval: r.retval | 0, verdict, dataOut: r.dataOut });
    });
    let written = 0;
    if (opts.out) {
      const out: Packet[] = [];
      for (const r of results) {
        if (!opts.keepDropped && DROPS.has(r.verdict)) continue;
        const src = input[r.index]!;
        out.push({
          data: r.dataOut,
          timestampNs: src.timestampNs,
          linkType: LINKTYPE_ETHERNET,
          comment: `${prog.name}: ${r.verdict}`,
        });
      }
      writeCapture(opts.out, out);
      written = out.length;
    }
    return {
      program: prog.name,
      programType: ProgramType[prog.type] ?? String(prog.type),
      packets: input.length,
      verdicts,
      results,
      written,
      out: opts.out,
    };
  } finally {
    coll?.close();
  }
}
