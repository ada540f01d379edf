/**
 * A client of the daemon's API over its unix socket or TCP (with token and TLS), for the CLI,
 * tests and benchmarks. Errors carry the daemon's message and the HTTP status.
 */
import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { WsClient } from './ws.js';
import { DEFAULT_SOCKET } from './daemon.js';

/** Where the daemon is. */
export interface ClientOptions {
  /** Unix socket (default /run/iovisor/iovisord.sock unless `url` is given). */
  socketPath?: string;
  /** "http://127.0.0.1:9090" or "https://...". */
  url?: string;
  /** Bearer token, or a file holding it. */
  token?: string;
  tokenFile?: string;
  /** CA certificate (PEM) to trust for https. */
  ca?: string | Buffer;
  /** Keep connections alive between requests (default true). */
  keepAlive?: boolean;
}

/** An API error: the daemon answered with a non-2xx status. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly body: unknown,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** Nothing answers where the daemon should be: says so, and how to start it. */
export class DaemonNotRunningError extends Error {
  constructor(
    readonly where: string,
    readonly code?: string,
  ) {
    super(`iovisord is not running at ${where}: start it with \`iovisor daemon\``);
    this.name = 'DaemonNotRunningError';
  }
}

/** A raw response. */
export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

/** See the file comment. */
export class DaemonClient {
  private readonly agent: http.Agent;
  private readonly token?: string;
  private readonly target: { socketPath?: string; host?: string; port?: number; tls: boolean };

  constructor(private readonly opts: ClientOptions = {}) {
    this.token =
      opts.token ?? (opts.tokenFile ? readFileSync(opts.tokenFile, 'utf8').trim() : undefined);
    if (opts.url) {
      const u = new URL(opts.url);
      this.target = {
        host: u.hostname.replace(/^\[|\]$/g, ''),
        port: Number(u.port || (u.protocol === 'https:' ? 443 : 80)),
        tls: u.protocol === 'https:',
      };
    } else {
      this.target = { socketPath: opts.socketPath ?? DEFAULT_SOCKET, tls: false };
    }
    const agentOpts = { keepAlive: opts.keepAlive ?? true, maxSockets: 64 };
    this.agent = this.target.tls
      ? new https.Agent({ ...agentOpts, ...(opts.ca ? { ca: opts.ca } : {}) })
      : new http.Agent(agentOpts);
  }

  /**
   * Sends one request exactly as given (the path is not normalised), for tests that probe the
   * daemon with hostile input. `body` is sent as is when it is a string or Buffer, else as JSON.
   */
  raw(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<RawResponse> {
    const data =
      body === undefined
        ? undefined
        : typeof body === 'string' || Buffer.isBuffer(body)
          ? Buffer.from(body)
          : Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const mod = this.target.tls ? https : http;
      const req = mod.request({
        method,
        path,
        agent: this.agent,
        ...(this.target.socketPath
          ? { socketPath: this.target.socketPath }
          : { host: this.target.host, port: this.target.port }),
        headers: {
          ...(data
            ? { 'Content-Type': 'application/json', 'Content-Length': String(data.length) }
            : {}),
          ...(this.token ? { Authorization: `Bearer ${this.token}` } : {}),
          ...headers,
        },
      });
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text: Buffer.concat(chunks).toString(),
          }),
        );
        res.on('error', reject);
      });
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED')
          reject(new DaemonNotRunningError(this.where(), err.code));
        else reject(err);
      });
      if (data) req.write(data);
      req.end();
    });
  }

  /** Sends a JSON request; resolves with the parsed body, rejects with {@link ApiError}. */
  async request<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
    const r = await this.raw(method, path, body);
    let parsed: unknown = r.text;
    if (String(r.headers['content-type'] ?? '').startsWith('application/json'))
      parsed = JSON.parse(r.text);
    if (r.status < 200 || r.status >= 300) {
      const msg = (parsed as { error?: string } | undefined)?.error ?? r.text;
      throw new ApiError(r.status, `${method} ${path}: ${r.status}: ${msg}`, parsed);
    }
    return parsed as T;
  }

  /** GET. */
  get<T = unknown>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  /** Opens an event stream (WebSocket) with the given types. */
  events(types: string[] = ['log', 'packet', 'change']): Promise<WsClient> {
    return WsClient.connect(`/api/v1/events?types=${types.join(',')}`, {
      ...(this.target.socketPath
        ? { socketPath: this.target.socketPath }
        : { host: this.target.host, port: this.target.port }),
      tls: this.target.tls,
      ...(this.opts.ca ? { ca: this.opts.ca } : {}),
      headers: this.token ? { Authorization: `Bearer ${this.token}` } : {},
    });
  }

  /** Where the daemon is expected: its socket path or URL. */
  where(): string {
    return this.target.socketPath ?? this.opts.url ?? '';
  }

  /** Closes kept-alive connections. */
  close(): void {
    this.agent.destroy();
  }
}
