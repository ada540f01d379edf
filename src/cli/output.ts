/** Human tables and machine-readable JSON, chosen by --json. */

/** Converts values JSON cannot hold (bigint, bytes, Maps) into plain JSON. */
export function toJSONValue(v: unknown): unknown {
  if (typeof v === 'bigint')
    return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= -BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(v)
      : v.toString();
  if (v instanceof Uint8Array) return Array.from(v, (b) => '0x' + b.toString(16).padStart(2, '0'));
  if (Array.isArray(v)) return v.map(toJSONValue);
  if (v instanceof Map)
    return Object.fromEntries([...v].map(([k, x]) => [String(k), toJSONValue(x)]));
  if (v && typeof v === 'object')
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toJSONValue(x)]));
  return v;
}

/** Prints one JSON document. */
export function printJSON(v: unknown): void {
  process.stdout.write(JSON.stringify(toJSONValue(v), null, 2) + '\n');
}

/** Formats a value compactly for a table cell or a line. */
export function formatValue(v: unknown): string {
  if (v instanceof Uint8Array)
    return Array.from(v, (b) => b.toString(16).padStart(2, '0')).join(' ');
  if (typeof v === 'string') return v;
  return JSON.stringify(toJSONValue(v));
}

/** Prints rows as an aligned table with a header. */
export function printTable(headers: string[], rows: (string | number)[][]): void {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  for (const r of cells) {
    process.stdout.write(
      r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ') + '\n',
    );
  }
}
