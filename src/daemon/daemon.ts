/**
 * iovisord as a library: {@link startDaemon} opens the state store, takes a data plane (the
 * real one by default), reconciles it to the desired state, and serves the API, the event
 * streams, /metrics and the dashboard on a unix socket (root only) and, when asked, on TCP with
 * a bearer token and optionally TLS.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { repoRoot } from '../dataplane/index.js';
import { enableStats } from '../trace/index.js';
import { context, eventTypes, match, openApi, routes, type Route } from './api.js';
import { DaemonCore, type DaemonEvent } from './core.js';
import type { DataplanePort } from './dataplane-port.js';
import { HttpError, parseTarget, sendJson, statusOf, toJson } from './http.js';
import { renderMetrics } from './metrics.js';
import { DEFAULT_STATE_DIR, StateStore } from './store.js';
import { acceptWebSocket } from './ws.js';

/** Default unix socket. */
export const DEFAULT_SOCKET = '/run/iovisor/iovisord.sock';
/** The daemon's version, reported by /api/v1/status and the OpenAPI document. */
export const DAEMON_VERSION = '0.1.0';

/** Options of {@link startDaemon}; the CLI maps its flags onto these one to one. */
export interface DaemonOptions {
  /** The data plane; default: the real one (see `openDataplane` in dataplane-adapter.ts). */
  dataplane?: DataplanePort;
  /** Where the desired state lives (default /var/lib/iovisor). `--state-dir`. */
  stateDir?: string;
  /** Unix socket path (default /run/iovisor/iovisord.sock); false: none. `--socket`. */
  socket?: string | false;
  /** "HOST:PORT" for a TCP listener (port 0: any free port). `--listen`. */
  listen?: string;
  /** File holding the bearer token for TCP; created with a random token if missing. `--token-file`. */
  tokenFile?: string;
  /** PEM certificate and key: the TCP listener speaks TLS. `--tls-cert`, `--tls-key`. */
  tlsCert?: string;
  tlsKey?: string;
  /** Name of the real data plane (pin directory and namespace; default "iovisor"). `--name`. */
  dataplaneName?: string;
  /** bpffs root of the real data plane (default /sys/fs/bpf/iovisor). `--bpffs`. */
  bpffsRoot?: string;
  /** Namespace of the real data plane's port netdevs (default: its name). `--netns`. */
  netns?: string;
  /**
   * Turn the kernel's BPF run-time statistics on while the daemon runs (BPF_ENABLE_STATS), so
   * /metrics reports program runs and run time per instance. `--bpf-stats`.
   */
  bpfStats?: boolean;
  /** Reconcile period in ms (default 10000; 0: only at start). */
  reconcileMs?: number;
  /** Period of counter snapshots on event streams, ms (default 1000). */
  countersMs?: number;
  /** Largest request body in bytes (default 1 MiB). */
  maxBodyBytes?: number;
  /** Dashboard directory (default <repo>/web). */
  webDir?: string;
  /** Log lines (default: stderr). */
  log?: (msg: string) => void;
}

/** A running daemon. */
export interface Daemon {
  /** The unix socket path, if listening on one. */
  readonly socketPath?: string;
  /** The TCP address, if listening on TCP. */
  readonly tcp?: { host: string; port: number; tls: boolean };
  /** The daemon's state machine (desired state, changes, events). */
  readonly core: DaemonCore;
  /** Runs one reconcile step now. */
  reconcile(): Promise<unknown>;
  /**
   * Stops serving. The data plane's pinned state stays (traffic keeps flowing) unless
   * `teardown` is set, which removes everything the topology created.
   */
  close(opts?: { teardown?: boolean }): Promise<void>;
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
  '.ico': 'image/x-icon',
  '.png': 'image/png',
};

/** Reads the dashboard into memory: the set of files served is fixed at start. */
function loadAssets(dir: string): Map<string, { type: string; data: Buffer }> {
  const assets = new Map<string, { type: string; data: Buffer }>();
  if (!existsSync(dir)) return assets;
  for (const f of readdirSync(dir)) {
    const ext = path.extname(f);
    const type = CONTENT_TYPES[ext];
    if (!type || !lstatSync(path.join(dir, f)).isFile()) continue;
    assets.set(f, { type, data: readFileSync(path.join(dir, f)) });
  }
  return assets;
}

function parseListen(s: string): { host: string; port: number } {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+):(\d{1,5})$/.exec(s);
  if (!m || Number(m[2]) > 65535)
    throw new Error(`--listen ${JSON.stringify(s)}: expected HOST:PORT (e.g. 127.0.0.1:9090)`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) };
}

function readToken(file: string): Buffer {
  if (!existsSync(file)) {
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    writeFileSync(file, randomBytes(32).toString('hex') + '\n', { mode: 0o600 });
  }
  const t = readFileSync(file, 'utf8').trim();
  if (t.length < 16)
    throw new Error(`--token-file ${file}: the token must have at least 16 characters`);
  return Buffer.from(t);
}

function tokenMatches(given: string | undefined, token: Buffer): boolean {
  if (!given) return false;
  const g = Buffer.from(given);
  return g.length === token.length && timingSafeEqual(g, token);
}

function cookie(req: http.IncomingMessage, name: string): string | undefined {
  for (const part of String(req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

/** Refuses to take over a socket another daemon still answers on; removes a stale one. */
async function prepareSocket(p: string): Promise<void> {
  mkdirSync(path.dirname(p), { recursive: true, mode: 0o755 });
  if (!existsSync(p)) return;
  if (!lstatSync(p).isSocket()) throw new Error(`--socket ${p}: exists and is not a socket`);
  const alive = await new Promise<boolean>((resolve) => {
    const c = net.connect(p);
    c.on('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.on('error', () => resolve(false));
  });
  if (alive) throw new Error(`--socket ${p}: another daemon is listening there`);
  rmSync(p, { force: true });
}

/** Starts the daemon; see {@link DaemonOptions}. */
export async function startDaemon(opts: DaemonOptions = {}): Promise<Daemon> {
  const log = opts.log ?? ((m: string) => process.stderr.write(`iovisord: ${m}\n`));
  const store = new StateStore(opts.stateDir ?? DEFAULT_STATE_DIR);
  const maxBody = opts.maxBodyBytes ?? 1024 * 1024;
  const assets = loadAssets(opts.webDir ?? path.join(repoRoot(), 'web'));
  const tcpAddr = opts.listen ? parseListen(opts.listen) : undefined;
  if (tcpAddr && !opts.tokenFile)
    throw new Error('--listen needs --token-file: every TCP request must carry the bearer token');
  if (!!opts.tlsCert !== !!opts.tlsKey) throw new Error('--tls-cert and --tls-key go together');
  const token = opts.tokenFile ? readToken(opts.tokenFile) : undefined;
  const tls =
    opts.tlsCert && opts.tlsKey
      ? { cert: readFileSync(opts.tlsCert), key: readFileSync(opts.tlsKey) }
      : undefined;

  // The statistics stay on for as long as this handle is open (the daemon's lifetime).
  const stats = opts.bpfStats ? enableStats() : undefined;
  let dp = opts.dataplane;
  if (!dp) {
    const { openDataplane } = await import('./dataplane-adapter.js');
    try {
      dp = await openDataplane({
        log,
        stateDir: store.dir,
        ...(opts.dataplaneName ? { name: opts.dataplaneName } : {}),
        ...(opts.netns ? { netns: opts.netns } : {}),
        ...(opts.bpffsRoot ? { bpffsRoot: opts.bpffsRoot } : {}),
        ...(stats ? { programStats: true } : {}),
      });
    } catch (err) {
      stats?.close();
      throw err;
    }
  }
  const core = new DaemonCore(dp, store, log);
  const started = Date.now();
  const requests = new Map<number, number>();
  const sockets = new Set<Duplex>();
  let wsClients = 0;

  const info = (): Record<string, unknown> => {
    const g = core.dp.show();
    const d = core.desired();
    return {
      version: DAEMON_VERSION,
      pid: process.pid,
      ...(g.dataplane ? { dataplane: g.dataplane } : {}),
      uptimeSeconds: Math.round((Date.now() - started) / 1000),
      generation: d.generation,
      updated: d.updated,
      hosts: g.hosts.length,
      instances: g.instances.length,
      links: g.links.length,
      reconcile: { ...core.stats },
      eventStreams: wsClients,
    };
  };
  const table: Route[] = routes(core, info);
  let openapiText: string | undefined;

  // Initial reconcile: adopt what is pinned, repair drift, or build from the stored state.
  try {
    await core.reconcile();
  } catch (err) {
    log(`initial reconcile failed (will retry): ${(err as Error).message}`);
  }

  const count = (status: number): void => {
    requests.set(status, (requests.get(status) ?? 0) + 1);
  };

  const handle = async (
    req: http.IncomingMessage,
    res: http.ServerResponse,
    viaTcp: boolean,
  ): Promise<void> => {
    const { segments, query } = parseTarget(req.url);
    if (viaTcp && token) {
      const auth = String(req.headers.authorization ?? '');
      const bearer = /^Bearer (\S+)$/i.exec(auth)?.[1];
      if (!tokenMatches(bearer, token) && !tokenMatches(cookie(req, 'iovisor_token'), token)) {
        // The dashboard's one way in: GET /?token=... sets a same-site cookie and redirects.
        if (
          req.method === 'GET' &&
          segments.length === 0 &&
          tokenMatches(query.get('token') ?? undefined, token)
        ) {
          res.writeHead(303, {
            Location: '/',
            'Set-Cookie': `iovisor_token=${token.toString()}; HttpOnly; SameSite=Strict; Path=/${tls ? '; Secure' : ''}`,
            'Cache-Control': 'no-store',
          });
          res.end();
          count(303);
          return;
        }
        throw new HttpError(
          401,
          'missing or wrong bearer token (Authorization: Bearer <token from --token-file>)',
          {
            'WWW-Authenticate': 'Bearer realm="iovisord"',
          },
        );
      }
    }
    const method = req.method ?? 'GET';
    const top = segments[0];
    if (top === 'openapi.json' && segments.length === 1) {
      if (method !== 'GET' && method !== 'HEAD')
        throw new HttpError(405, 'only GET', { Allow: 'GET' });
      openapiText ??= toJson(openApi(table, core.dp.moduleTypes(), DAEMON_VERSION));
      res.writeHead(200, {
        'Content-Type': 'application/json; charset=utf-8',
        'Cache-Control': 'no-store',
      });
      res.end(openapiText);
      count(200);
      return;
    }
    if (top === 'metrics' && segments.length === 1) {
      if (method !== 'GET' && method !== 'HEAD')
        throw new HttpError(405, 'only GET', { Allow: 'GET' });
      const g = core.dp.show();
      const types = new Map(g.instances.map((i) => [i.name, i.type]));
      const text = renderMetrics(core.dp.counters(), types, {
        generation: core.desired().generation,
        ...core.stats,
        requests,
        wsClients,
        instances: g.instances.length,
        links: g.links.length,
      });
      res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' });
      res.end(text);
      count(200);
      return;
    }
    if (top === 'api') {
      const { route, params } = match(table, method, segments);
      const r = await route.handler(context(req, params, query, maxBody));
      sendJson(res, r.status ?? 200, r.body);
      count(r.status ?? 200);
      return;
    }
    // The dashboard: a fixed set of files read at start, so no request can reach the disk.
    if (method !== 'GET' && method !== 'HEAD')
      throw new HttpError(405, 'only GET', { Allow: 'GET' });
    const file = segments.length === 0 ? 'index.html' : segments.length === 1 ? segments[0]! : '';
    const a = assets.get(file);
    if (!a) throw new HttpError(404, `no such resource: /${segments.join('/')}`);
    res.writeHead(200, {
      'Content-Type': a.type,
      'Content-Length': String(a.data.length),
      'X-Content-Type-Options': 'nosniff',
      'Content-Security-Policy':
        "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
      'Cache-Control': 'no-cache',
    });
    res.end(method === 'HEAD' ? undefined : a.data);
    count(200);
  };

  const onRequest = (viaTcp: boolean) => (req: http.IncomingMessage, res: http.ServerResponse) => {
    handle(req, res, viaTcp).catch((err: unknown) => {
      const status = statusOf(err);
      if (status >= 500) log(`${req.method} ${req.url}: ${(err as Error).stack ?? String(err)}`);
      count(status);
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const headers = err instanceof HttpError ? err.headers : {};
      sendJson(res, status, { error: (err as Error).message ?? String(err) }, headers);
    });
  };

  const streams = new Set<{ send(ev: DaemonEvent): void }>();
  const onUpgrade = (viaTcp: boolean) => (req: http.IncomingMessage, socket: Duplex) => {
    const refuse = (status: number, msg: string): void => {
      count(status);
      const body = JSON.stringify({ error: msg });
      socket.end(
        `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    };
    let types: Set<string>;
    try {
      const { segments, query } = parseTarget(req.url);
      if (viaTcp && token) {
        const bearer = /^Bearer (\S+)$/i.exec(String(req.headers.authorization ?? ''))?.[1];
        if (!tokenMatches(bearer, token) && !tokenMatches(cookie(req, 'iovisor_token'), token))
          return refuse(401, 'missing or wrong bearer token');
      }
      if (segments.join('/') !== 'api/v1/events')
        return refuse(404, 'WebSocket streams live at /api/v1/events');
      types = eventTypes(query);
    } catch (err) {
      return refuse(statusOf(err), (err as Error).message);
    }
    const ws = acceptWebSocket(req, socket);
    if (!ws) return;
    count(101);
    wsClients++;
    const stream = {
      send(ev: DaemonEvent): void {
        // A reader that falls behind by more than 4 MiB misses messages rather than growing memory.
        if (types.has(ev.type) && ws.buffered < 4 * 1024 * 1024) ws.send(toJson(ev));
      },
    };
    streams.add(stream);
    const unsub = core.subscribe((ev) => stream.send(ev));
    ws.send(toJson({ type: 'hello', time: Date.now(), generation: core.desired().generation }));
    ws.on('close', () => {
      unsub();
      streams.delete(stream);
      wsClients--;
    });
  };

  const servers: (http.Server | https.Server)[] = [];
  const setup = <S extends http.Server | https.Server>(s: S, viaTcp: boolean): S => {
    s.on('request', onRequest(viaTcp));
    s.on('upgrade', onUpgrade(viaTcp));
    s.on('connection', (c: Duplex) => {
      sockets.add(c);
      c.on('close', () => sockets.delete(c));
    });
    s.on('clientError', (err: NodeJS.ErrnoException, sock: Duplex) => {
      // A parse error in a request whose handler already runs: answer on its response.
      const res = (sock as Duplex & { _httpMessage?: http.ServerResponse })._httpMessage;
      const msg = { error: `malformed HTTP request (${err.code ?? err.message})` };
      count(400);
      if (res && !res.headersSent) {
        sendJson(res, 400, msg, { Connection: 'close' });
        return;
      }
      if (res || !sock.writable) {
        sock.destroy();
        return;
      }
      const body = JSON.stringify(msg);
      sock.end(
        `HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
    });
    s.requestTimeout = 60_000;
    s.headersTimeout = 20_000;
    s.maxHeadersCount = 100;
    servers.push(s);
    return s;
  };

  let socketPath: string | undefined;
  let tcp: Daemon['tcp'];
  try {
    const sockOpt = opts.socket === undefined ? DEFAULT_SOCKET : opts.socket;
    if (sockOpt) {
      await prepareSocket(sockOpt);
      const s = setup(http.createServer(), false);
      // The socket is created without group/other access (no window between bind and chmod).
      const old = process.umask(0o177);
      try {
        await new Promise<void>((resolve, reject) => {
          s.once('error', reject);
          s.listen(sockOpt, () => resolve());
        });
      } finally {
        process.umask(old);
      }
      chmodSync(sockOpt, 0o600);
      socketPath = sockOpt;
    }
    if (tcpAddr) {
      const s = setup(tls ? https.createServer(tls) : http.createServer(), true);
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen(tcpAddr.port, tcpAddr.host, () => resolve());
      });
      const a = s.address() as net.AddressInfo;
      tcp = { host: a.address, port: a.port, tls: !!tls };
    }
  } catch (err) {
    for (const s of servers) s.close();
    await core.close();
    // A data plane this call opened is let go again (it keeps forwarding for the next daemon).
    if (!opts.dataplane) core.dp.close({ keep: true });
    stats?.close();
    throw err;
  }

  const timers: NodeJS.Timeout[] = [];
  const reconcileMs = opts.reconcileMs ?? 10_000;
  if (reconcileMs > 0)
    timers.push(
      setInterval(() => {
        core.reconcile().catch(() => undefined);
      }, reconcileMs),
    );
  timers.push(
    setInterval(() => {
      if (!streams.size) return;
      let counters;
      try {
        counters = core.dp.counters();
      } catch (err) {
        log(`counters: ${(err as Error).message}`);
        return;
      }
      core.publish({ type: 'counters', time: Date.now(), counters });
    }, opts.countersMs ?? 1000),
  );
  log(
    `serving${socketPath ? ` on ${socketPath}` : ''}${tcp ? ` and ${tcp.tls ? 'https' : 'http'}://${tcp.host}:${tcp.port}` : ''} (state ${store.file}, generation ${core.desired().generation})`,
  );

  let closed = false;
  return {
    socketPath,
    tcp,
    core,
    reconcile: () => core.reconcile(),
    async close(o = {}) {
      if (closed) return;
      closed = true;
      for (const t of timers) clearInterval(t);
      for (const s of servers) s.close();
      for (const c of sockets) c.destroy();
      if (socketPath) rmSync(socketPath, { force: true });
      if (o.teardown) await core.dp.delete();
      await core.close();
      core.dp.close({ keep: !o.teardown });
      stats?.close();
    },
  };
}
