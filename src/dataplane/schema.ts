/**
 * Config schemas for IO modules: a small JSON-Schema-like validator whose errors name the
 * field ("modules.r1.ports.p1.address: ..."), so a person can fix the file at once. Modules
 * declare their schema; the data plane validates before anything touches the kernel.
 */
import { isIP } from 'node:net';

/** A schema node. `format` adds string checks (addresses, prefixes, MACs). */
export type Schema =
  | { type: 'string'; enum?: string[]; format?: StringFormat; description?: string }
  | { type: 'integer'; minimum?: number; maximum?: number; description?: string }
  | { type: 'boolean'; description?: string }
  | { type: 'array'; items: Schema; maxItems?: number; description?: string }
  | {
      type: 'object';
      properties: Record<string, Schema>;
      required?: string[];
      /** Schema of keys not listed in `properties` (a map); default: unknown keys are errors. */
      additional?: Schema;
      description?: string;
    }
  | { type: 'oneOf'; options: Schema[]; description?: string };

/** String formats the validator knows. */
export type StringFormat = 'ip' | 'ipv4' | 'ipv6' | 'cidr' | 'mac' | 'duration';

/** A config value that does not fit its schema; `field` is the dotted path to it. */
export class ConfigError extends Error {
  constructor(
    readonly field: string,
    readonly problem: string,
  ) {
    super(`${field}: ${problem}`);
    this.name = 'ConfigError';
  }
}

function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return String(v);
}

/** Checks a string against a format; returns the problem or undefined. */
export function checkFormat(s: string, format: StringFormat): string | undefined {
  switch (format) {
    case 'ip':
      return isIP(s) ? undefined : `${show(s)} is not an IP address`;
    case 'ipv4':
      return isIP(s) === 4 ? undefined : `${show(s)} is not an IPv4 address`;
    case 'ipv6':
      return isIP(s) === 6 ? undefined : `${show(s)} is not an IPv6 address`;
    case 'cidr': {
      const [a, l, extra] = s.split('/');
      const v = isIP(a ?? '');
      if (!v || l === undefined || extra !== undefined || !/^\d+$/.test(l))
        return `${show(s)} is not an address with a prefix length (e.g. 198.18.1.1/24)`;
      if (Number(l) > (v === 4 ? 32 : 128)) return `${show(s)}: prefix length ${l} is too long`;
      return undefined;
    }
    case 'mac':
      return /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(s)
        ? undefined
        : `${show(s)} is not a MAC address (aa:bb:cc:dd:ee:ff)`;
    case 'duration':
      return /^\d+(ms|s|m|h)?$/.test(s) ? undefined : `${show(s)} is not a duration (e.g. 300s)`;
  }
}

/** Validates `value` against `schema`; throws a {@link ConfigError} naming the first bad field. */
export function validate(schema: Schema, value: unknown, field: string): void {
  switch (schema.type) {
    case 'string': {
      if (typeof value !== 'string')
        throw new ConfigError(field, `must be a string, got ${show(value)}`);
      if (schema.enum && !schema.enum.includes(value))
        throw new ConfigError(
          field,
          `must be one of ${schema.enum.join(', ')}, got ${show(value)}`,
        );
      const p = schema.format ? checkFormat(value, schema.format) : undefined;
      if (p) throw new ConfigError(field, p);
      return;
    }
    case 'integer': {
      if (typeof value !== 'number' || !Number.isInteger(value))
        throw new ConfigError(field, `must be an integer, got ${show(value)}`);
      if (
        (schema.minimum !== undefined && value < schema.minimum) ||
        (schema.maximum !== undefined && value > schema.maximum)
      )
        throw new ConfigError(
          field,
          `must be between ${schema.minimum ?? '-∞'} and ${schema.maximum ?? '∞'}, got ${value}`,
        );
      return;
    }
    case 'boolean':
      if (typeof value !== 'boolean')
        throw new ConfigError(field, `must be true or false, got ${show(value)}`);
      return;
    case 'array': {
      if (!Array.isArray(value)) throw new ConfigError(field, `must be a list, got ${show(value)}`);
      if (schema.maxItems !== undefined && value.length > schema.maxItems)
        throw new ConfigError(field, `at most ${schema.maxItems} entries, got ${value.length}`);
      value.forEach((v, i) => validate(schema.items, v, `${field}[${i}]`));
      return;
    }
    case 'object': {
      if (typeof value !== 'object' || value === null || Array.isArray(value))
        throw new ConfigError(field, `must be a mapping, got ${show(value)}`);
      const obj = value as Record<string, unknown>;
      for (const r of schema.required ?? [])
        if (obj[r] === undefined) throw new ConfigError(`${field}.${r}`, 'is required');
      for (const [k, v] of Object.entries(obj)) {
        const s = schema.properties[k] ?? schema.additional;
        if (!s) {
          const known = Object.keys(schema.properties);
          throw new ConfigError(
            `${field}.${k}`,
            `unknown field${known.length ? ` (known: ${known.join(', ')})` : ''}`,
          );
        }
        validate(s, v, `${field}.${k}`);
      }
      return;
    }
    case 'oneOf': {
      const problems: string[] = [];
      for (const o of schema.options) {
        try {
          validate(o, value, field);
          return;
        } catch (err) {
          if (!(err instanceof ConfigError)) throw err;
          problems.push(err.problem);
        }
      }
      throw new ConfigError(field, problems.join('; or '));
    }
  }
}

/** Parses a duration ("300s", "5m", "1500ms", or a number of seconds) into nanoseconds. */
export function durationNs(v: string | number): bigint {
  if (typeof v === 'number') return BigInt(Math.round(v * 1e9));
  const m = /^(\d+)(ms|s|m|h)?$/.exec(v);
  if (!m) throw new Error(`invalid duration ${JSON.stringify(v)}`);
  const n = BigInt(m[1]!);
  const unit = m[2] ?? 's';
  const mul = { ms: 1_000_000n, s: 1_000_000_000n, m: 60_000_000_000n, h: 3_600_000_000_000n }[
    unit as 'ms' | 's' | 'm' | 'h'
  ];
  return n * mul;
}
