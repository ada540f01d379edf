/**
 * HTTP plumbing for the API: strict path parsing (path tricks are refused before routing),
 * bounded JSON bodies, and the mapping from errors to status codes. Everything the caller got
 * wrong becomes a 4xx with a message; only the daemon's own faults are 5xx.
 */
import type http from 'node:http';
import { InputError } from './dataplane-port.js';

/** An error with an HTTP status, thrown by handlers. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** True if `s` holds a C0 control character or DEL. */
function hasControl(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

/** The most characters a request target may have. */
const MAX_URL = 4096;
/** Deepest nesting accepted in a JSON body. */
const MAX_DEPTH = 32;

/**
 * Splits a request target into decoded path segments and its query, refusing anything that
 * could name something other than what it spells: dot segments (raw or percent-encoded), empty
 * segments, encoded slashes and backslashes, NUL and control characters.
 */
export function parseTarget(raw: string | undefined): {
  segments: string[];
  query: URLSearchParams;
} {
  if (!raw || raw.length > MAX_URL) throw new HttpError(414, 'request target missing or too long');
  if (!raw.startsWith('/')) throw new HttpError(400, 'request target must be an absolute path');
  const qi = raw.indexOf('?');
  const pathPart = qi < 0 ? raw : raw.slice(0, qi);
  const queryPart = qi < 0 ? '' : raw.slice(qi + 1);
  if (hasControl(raw) || raw.includes('\\'))
    throw new HttpError(400, 'invalid characters in the request target');
  const segments: string[] = [];
  const parts = pathPart.split('/').slice(1);
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    if (p === '') {
      if (i === parts.length - 1) break; // one trailing slash is harmless
      throw new HttpError(400, 'empty path segment (//) in the request target');
    }
    let d: string;
    try {
      d = decodeURIComponent(p);
    } catch {
      throw new HttpError(400, `malformed percent-encoding in path segment ${JSON.stringify(p)}`);
    }
    if (d === '.' || d === '..' || /[/\\]/.test(d) || hasControl(d))
      throw new HttpError(
        400,
        `path segment ${JSON.stringify(p)} is not allowed (dot segment or separator)`,
      );
    if (d.length > 256) throw new HttpError(400, 'path segment longer than 256 characters');
    segments.push(d);
  }
  let query: URLSearchParams;
  try {
    if (/%(?![0-9a-fA-F]{2})/.test(queryPart)) throw new Error('bad escape');
    query = new URLSearchParams(queryPart);
    for (const [k, v] of query) if (hasControl(k + v)) throw new Error('control character');
  } catch {
    throw new HttpError(400, 'malformed query string');
  }
  return { segments, query };
}

function depthOk(v: unknown): boolean {
  const stack: [unknown, number][] = [[v, 0]];
  while (stack.length) {
    const [x, d] = stack.pop()!;
    if (typeof x !== 'object' || x === null) continue;
    if (d >= MAX_DEPTH) return false;
    for (const y of Object.values(x)) stack.push([y, d + 1]);
  }
  return true;
}

/**
 * Reads a JSON body of at most `max` bytes. Refuses other content types (415), oversize bodies
 * (413, without buffering them), invalid JSON, keys that could reach a prototype, and nesting
 * deeper than 32 levels (400).
 */
export async function readJson(req: http.IncomingMessage, max: number): Promise<unknown> {
  const type = String(req.headers['content-type'] ?? '')
    .split(';')[0]!
    .trim()
    .toLowerCase();
  const declared = req.headers['content-length'];
  if (declared !== undefined && !/^\d+$/.test(declared))
    throw new HttpError(400, 'invalid Content-Length');
  if (declared !== undefined && Number(declared) > max)
    throw new HttpError(
      413,
      `request body of ${declared} bytes is larger than the limit of ${max}`,
      {
        Connection: 'close',
      },
    );
  const chunks: Buffer[] = [];
  let size = 0;
  await new Promise<void>((resolve, reject) => {
    const onData = (c: Buffer): void => {
      size += c.length;
      if (size > max) {
        req.off('data', onData);
        req.resume();
        reject(
          new HttpError(413, `request body larger than the limit of ${max} bytes`, {
            Connection: 'close',
          }),
        );
        return;
      }
      chunks.push(c);
    };
    req.on('data', onData);
    req.on('end', () => resolve());
    req.on('error', (err) =>
      reject(new HttpError(400, `reading the request body: ${err.message}`)),
    );
  });
  if (size === 0) throw new HttpError(400, 'a JSON request body is required');
  if (type !== 'application/json')
    throw new HttpError(
      415,
      `request body must be application/json, got ${JSON.stringify(type || 'none')}`,
    );
  const text = Buffer.concat(chunks).toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(text, (k, v: unknown) => {
      if (k === '__proto__' || k === 'constructor' || k === 'prototype')
        throw new HttpError(400, `key ${JSON.stringify(k)} is not allowed in a request body`);
      return v;
    });
  } catch (err) {
    if (err instanceof HttpError) throw err;
    throw new HttpError(400, `request body is not valid JSON: ${(err as Error).message}`);
  }
  if (!depthOk(value))
    throw new HttpError(400, `request body nests deeper than ${MAX_DEPTH} levels`);
  return value;
}

/** Status code for an error thrown while handling a request. */
export function statusOf(err: unknown): number {
  if (err instanceof HttpError) return err.status;
  if (err instanceof InputError) return err.status;
  const name = (err as Error | undefined)?.name;
  if (name === 'ConfigError') return 400;
  if (name === 'DataplaneError') {
    const m = (err as Error).message;
    return /^no |: no |not found/.test(m) ? 404 : 409;
  }
  return 500;
}

/** JSON with bigints as decimal strings (map values may hold 64-bit counters). */
export function toJson(v: unknown, pretty = false): string {
  return JSON.stringify(
    v,
    (_k, x: unknown) =>
      typeof x === 'bigint' ? x.toString() : x instanceof Uint8Array ? [...x] : x,
    pretty ? 2 : undefined,
  );
}

/** Writes a JSON response. */
export function sendJson(
  res: http.ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const data = Buffer.from(toJson(body) + '\n');
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': String(data.length),
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    ...headers,
  });
  res.end(data);
}
