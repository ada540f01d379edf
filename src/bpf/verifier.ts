/** Turning verifier logs into errors a person can act on. */
import type { LineInfo } from './btf/ext.js';

/** A program the verifier rejected. */
export class VerifierError extends Error {
  /** The program's name. */
  readonly program: string;
  /** The full verifier log. */
  readonly log: string;
  /** Index of the instruction the verifier stopped at, when the log names one. */
  readonly insn?: number;
  /** The C source line of that instruction, when line info exists. */
  readonly source?: { file: string; line: string; lineNum: number; col: number };
  /** The verifier's own reason (the last meaningful log line). */
  readonly reason: string;
  readonly errno: string;

  constructor(
    program: string,
    errno: string,
    log: string,
    lineInfo: (LineInfo & { slot: number })[] = [],
  ) {
    const parsed = parseVerifierLog(log, lineInfo);
    const at = parsed.insn !== undefined ? ` at insn ${parsed.insn}` : '';
    const src = parsed.source
      ? ` (${parsed.source.file}:${parsed.source.lineNum}: ${parsed.source.line.trim()})`
      : '';
    super(`load program ${program}: verifier rejected it${at}${src}: ${parsed.reason || errno}`);
    this.name = 'VerifierError';
    this.program = program;
    this.log = log;
    this.insn = parsed.insn;
    this.source = parsed.source;
    this.reason = parsed.reason;
    this.errno = errno;
  }
}

const SKIP =
  /^(processed \d+ insns|verification time|stack depth|max_states_per_insn|peak_states|mark_read|Func#|func#|\s*$)/;

/** Finds the failing instruction, its source line and the reason in a verifier log. */
export function parseVerifierLog(
  log: string,
  lineInfo: (LineInfo & { slot: number })[],
): { insn?: number; source?: VerifierError['source']; reason: string } {
  const lines = log.split('\n');
  let insn: number | undefined;
  let srcFromLog: VerifierError['source'] | undefined;
  let reasonIdx = -1;
  for (let i = lines.length - 1; i >= 0; i--) {
    const l = lines[i]!;
    if (reasonIdx < 0 && !SKIP.test(l) && !/^\d+: \(/.test(l) && !/^;/.test(l)) reasonIdx = i;
    const m = /^(\d+): \([0-9a-f]{2}\)/.exec(l);
    if (m && insn === undefined && (reasonIdx < 0 || i < reasonIdx)) insn = Number(m[1]);
    const s = /^; (.*) @ (.+):(\d+)$/.exec(l);
    if (s && srcFromLog === undefined && insn !== undefined) {
      srcFromLog = { file: s[2]!, line: s[1]!, lineNum: Number(s[3]), col: 0 };
      break;
    }
  }
  let source = srcFromLog;
  if (!source && insn !== undefined) {
    let best: (LineInfo & { slot: number }) | undefined;
    for (const li of lineInfo) if (li.slot <= insn && (!best || li.slot >= best.slot)) best = li;
    if (best)
      source = { file: best.fileName, line: best.line, lineNum: best.lineNum, col: best.col };
  }
  // The verifier often explains in two lines ("invalid access to packet, off=12 ..." then
  // "R1 offset is outside of the packet"): keep the whole trailing block, up to three lines.
  const block: string[] = [];
  for (let i = reasonIdx; i >= 0 && block.length < 3; i--) {
    const l = lines[i]!;
    if (SKIP.test(l) || /^\d+: /.test(l) || /^;/.test(l)) break;
    block.unshift(l.trim());
  }
  const reason = block.join('; ');
  return { insn, source, reason };
}
