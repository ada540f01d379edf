/**
 * `iovisor events MAP`: streams records from a pinned ring buffer or perf event array as JSON
 * lines, decoded through a BTF type from an object file when --type/--object are given.
 */
import { BpfMap, BtfKind, loadCollectionSpec, MapType, type Btf } from '../../bpf/index.js';
import { PerfBuffer } from '../../bpf/perf.js';
import { makeDecoder, RingBuffer } from '../../bpf/ringbuf.js';
import { parseArgs, positional, stringFlag, UsageError } from '../args.js';
import { toJSONValue } from '../output.js';

/** Usage text. */
export const eventsUsage = `iovisor events MAP_PIN [--count N] [--timeout SECONDS] [--type NAME --object FILE.o]
  Prints one JSON line per record ({"len","hex"}, or the decoded value with --type).`;

function findType(btf: Btf, name: string): number {
  for (const kind of [BtfKind.Struct, BtfKind.Union, BtfKind.Typedef, BtfKind.Int]) {
    const ids = btf.findByName(name, kind);
    if (ids.length > 0) return ids[0]!;
  }
  throw new Error(`no type named ${name} in the object's BTF`);
}

/** Runs `events`. */
export async function eventsCommand(argv: string[]): Promise<void> {
  const p = parseArgs(
    argv,
    { count: 'number', timeout: 'number', type: 'string', object: 'string' },
    'events',
  );
  const pin = positional(p, 0, 'MAP_PIN', 'events');
  const count = p.flags.count as number | undefined;
  const timeout = p.flags.timeout as number | undefined;
  const typeName = stringFlag(p, 'type', 'events');
  const object = stringFlag(p, 'object', 'events');
  if ((typeName === undefined) !== (object === undefined))
    throw new UsageError('events: --type and --object go together');
  let decode: ((b: Uint8Array) => unknown) | undefined;
  let btfOpts: { btf: Btf; typeId: number } | undefined;
  if (typeName && object) {
    const btf = loadCollectionSpec(object).btf;
    if (!btf) throw new Error(`events: ${object} has no BTF`);
    btfOpts = { btf, typeId: findType(btf, typeName) };
  } else {
    decode = (b) => ({ len: b.byteLength, hex: Buffer.from(b).toString('hex') });
  }
  const map = BpfMap.openPinned(pin);
  const type = map.type;
  let n = 0;
  let done = false;
  const out = (v: unknown, cpu?: number): void => {
    if (done) return;
    const value = toJSONValue(v);
    const line =
      cpu === undefined ? value : { cpu, ...(typeof value === 'object' ? value : { value }) };
    process.stdout.write(JSON.stringify(line) + '\n');
    n++;
    if (count !== undefined && n >= count) done = true;
  };
  const reader =
    type === MapType.RingBuf
      ? new RingBuffer(map)
      : type === MapType.PerfEventArray
        ? new PerfBuffer(map)
        : undefined;
  if (!reader) {
    map.close();
    throw new Error(
      `events: map ${pin} is a ${map.info().typeName}, not a ringbuf or perf_event_array`,
    );
  }
  const dec = makeDecoder<unknown>(decode ? { decode } : btfOpts!);
  const stopAt = timeout === undefined ? Infinity : Date.now() + timeout * 1000;
  const onSignal = (): void => {
    done = true;
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    while (!done && Date.now() < stopAt) {
      if (reader instanceof RingBuffer) {
        await reader.poll((r) => {
          if (!done) out(dec(r));
          return !done;
        });
      } else {
        await reader.poll((r, cpu) => out(dec(r), cpu));
      }
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    const lost = reader.lost;
    reader.close();
    map.close();
    process.stderr.write(`iovisor events: ${n} record(s), ${lost} lost\n`);
  }
}
