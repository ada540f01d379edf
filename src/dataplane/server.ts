/**
 * The data plane's daemon protocol: JSON over HTTP on a unix socket (mode 0600). The first
 * iovisord (`iovisor daemon`) serves it; the later REST daemon can keep the same paths.
 *
 *   GET  /v1/version                       {name, netns, pinDir, types}
 *   GET  /v1/topology                      TopologyView
 *   POST /v1/apply      {topology: YAML}   ApplyResult   (all or nothing)
 *   POST /v1/delete     {topology: YAML}   ApplyResult
 *   GET  /v1/instances/NAME                controller status
 *   POST /v1/instances/NAME/upgrade {object?}  hot swap
 *
 * Errors: 4xx/5xx with {error, field?}.
 */
import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { Dataplane } from './dataplane.js';
import { ConfigError } from './schema.js';
import { applyTopology, deleteTopology } from './topology.js';

/** Default socket path of iovisord. */
export const DEFAULT_SOCKET = '/run/iovisor/iovisord.sock';

async function body(req: http.IncomingMessage): Promise<Record<string, unknown>> {
  let s = '';
  for await (const chunk of req) s += chunk;
  if (!s) return {};
  const v = JSON.parse(s) as unknown;
  if (typeof v !== 'object' || v === null)
    throw new ConfigError('request', 'body must be a JSON object');
  return v as Record<string, unknown>;
}

/** Serves `dp` on a unix socket; resolves once listening. Close the returned server to stop. */
export async function serveDataplane(dp: Dataplane, socket = DEFAULT_SOCKET): Promise<http.Server> {
  mkdirSync(path.dirname(socket), { recursive: true, mode: 0o700 });
  rmSync(socket, { force: true });
  const server = http.createServer((req, res) => {
    const send = (code: number, v: unknown): void => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? Number(x) : x)));
    };
    void (async () => {
      try {
        const url = new URL(req.url ?? '/', 'http://iovisord');
        const p = url.pathname;
        if (req.method === 'GET' && p === '/v1/version')
          return send(200, {
            name: dp.name,
            netns: dp.netns,
            pinDir: dp.pinDir,
            types: dp
              .moduleTypes()
              .map((t) => ({ name: t.name, kind: t.kind, description: t.description })),
          });
        if (req.method === 'GET' && p === '/v1/topology') return send(200, dp.topology());
        if (req.method === 'POST' && (p === '/v1/apply' || p === '/v1/delete')) {
          const b = await body(req);
          if (typeof b.topology !== 'string')
            throw new ConfigError('topology', 'missing (YAML text)');
          return send(
            200,
            p === '/v1/apply' ? applyTopology(dp, b.topology) : deleteTopology(dp, b.topology),
          );
        }
        const m = /^\/v1\/instances\/([^/]+)(\/upgrade)?$/.exec(p);
        if (m && req.method === 'GET' && !m[2])
          return send(200, dp.status(decodeURIComponent(m[1]!)));
        if (m && req.method === 'POST' && m[2]) {
          const b = await body(req);
          const opts = typeof b.object === 'string' ? { object: b.object } : {};
          return send(200, dp.upgrade(decodeURIComponent(m[1]!), opts));
        }
        send(404, { error: `no such endpoint: ${req.method} ${p}` });
      } catch (err) {
        const e = err as Error;
        send(e instanceof ConfigError || e.name === 'DataplaneError' ? 400 : 500, {
          error: e.message,
          ...(e instanceof ConfigError ? { field: e.field } : {}),
        });
      }
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socket, () => resolve());
  });
  chmodSync(socket, 0o600);
  return server;
}

/** A daemon that is not there: says so plainly. */
export class DaemonNotRunningError extends Error {
  constructor(readonly socket: string) {
    super(`iovisord is not running (no daemon at ${socket}): start it with "iovisor daemon"`);
    this.name = 'DaemonNotRunningError';
  }
}

/** Calls the daemon at `socket`; rejects with the daemon's error message on failure. */
export function callDaemon<T = unknown>(
  method: 'GET' | 'POST',
  urlPath: string,
  payload?: unknown,
  socket = DEFAULT_SOCKET,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const data = payload === undefined ? undefined : JSON.stringify(payload);
    const req = http.request(
      {
        socketPath: socket,
        method,
        path: urlPath,
        headers: { 'content-type': 'application/json' },
      },
      (res) => {
        let s = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (s += c));
        res.on('end', () => {
          let v: unknown;
          try {
            v = JSON.parse(s);
          } catch {
            return reject(
              new Error(`iovisord: bad response (${res.statusCode}): ${s.slice(0, 200)}`),
            );
          }
          if ((res.statusCode ?? 500) >= 400)
            return reject(new Error((v as { error?: string }).error ?? s));
          resolve(v as T);
        });
      },
    );
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED')
        reject(new DaemonNotRunningError(socket));
      else reject(err);
    });
    req.end(data);
  });
}
