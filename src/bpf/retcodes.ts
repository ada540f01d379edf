/** Names of program return codes, where the program type gives them names. */
import { ProgramType } from './types.js';

const XDP = ['XDP_ABORTED', 'XDP_DROP', 'XDP_PASS', 'XDP_TX', 'XDP_REDIRECT'];
const TC: Record<number, string> = {
  [-1]: 'TC_ACT_UNSPEC',
  0: 'TC_ACT_OK',
  1: 'TC_ACT_RECLASSIFY',
  2: 'TC_ACT_SHOT',
  3: 'TC_ACT_PIPE',
  4: 'TC_ACT_STOLEN',
  5: 'TC_ACT_QUEUED',
  6: 'TC_ACT_REPEAT',
  7: 'TC_ACT_REDIRECT',
};
const SK = ['SK_DROP', 'SK_PASS'];

/** The symbolic name of `retval` for programs of `type`, or undefined when it has none. */
export function returnCodeName(type: ProgramType, retval: number): string | undefined {
  const v = retval | 0;
  switch (type) {
    case ProgramType.XDP:
      return XDP[v];
    case ProgramType.SchedCls:
    case ProgramType.SchedAct:
      return TC[v];
    case ProgramType.CgroupSKB:
    case ProgramType.SkSKB:
    case ProgramType.SkMsg:
    case ProgramType.SkLookup:
      return SK[v];
    default:
      return undefined;
  }
}
