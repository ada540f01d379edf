/**
 * A small WebSocket (RFC 6455) server and client, enough for the daemon's event streams:
 * server-to-client text messages, client close and ping, and frame size limits. The daemon only
 * pushes JSON lines, so this avoids a dependency for the one feature it needs.
 */
import { createHash, randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import http from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/** Largest frame a peer may send us; the daemon's clients only send tiny control messages. */
const MAX_IN_FRAME = 64 * 1024;

/** Encodes one frame; clients mask theirs, servers do not. */
function frame(opcode: number, payload: Buffer, mask: boolean): Buffer {
  const len = payload.length;
  const ext = len < 126 ? 0 : len < 65536 ? 2 : 8;
  const head = Buffer.alloc(2 + ext + (mask ? 4 : 0));
  head[0] = 0x80 | opcode;
  head[1] = (mask ? 0x80 : 0) | (ext === 0 ? len : ext === 2 ? 126 : 127);
  if (ext === 2) head.writeUInt16BE(len, 2);
  if (ext === 8) head.writeBigUInt64BE(BigInt(len), 2);
  if (!mask) return Buffer.concat([head, payload]);
  const key = randomBytes(4);
  key.copy(head, 2 + ext);
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i]! ^= key[i & 3]!;
  return Buffer.concat([head, body]);
}

/** Incremental frame parser. Returns frames as they complete; throws on protocol errors. */
class FrameReader {
  private buf: Buffer = Buffer.alloc(0);
  constructor(private readonly maxFrame: number) {}

  push(chunk: Buffer): { opcode: number; payload: Buffer }[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: { opcode: number; payload: Buffer }[] = [];
    for (;;) {
      if (this.buf.length < 2) break;
      const b0 = this.buf[0]!;
      const b1 = this.buf[1]!;
      const masked = (b1 & 0x80) !== 0;
      let len = b1 & 0x7f;
      let off = 2;
      if (len === 126) {
        if (this.buf.length < 4) break;
        len = this.buf.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (this.buf.length < 10) break;
        const big = this.buf.readBigUInt64BE(2);
        if (big > BigInt(this.maxFrame))
          throw new Error(`websocket: frame of ${big} bytes is too large`);
        len = Number(big);
        off = 10;
      }
      if (len > this.maxFrame) throw new Error(`websocket: frame of ${len} bytes is too large`);
      const need = off + (masked ? 4 : 0) + len;
      if (this.buf.length < need) break;
      const payload = Buffer.from(this.buf.subarray(off + (masked ? 4 : 0), need));
      if (masked) {
        const key = this.buf.subarray(off, off + 4);
        for (let i = 0; i < payload.length; i++) payload[i]! ^= key[i & 3]!;
      }
      out.push({ opcode: b0 & 0x0f, payload });
      this.buf = this.buf.subarray(need);
    }
    return out;
  }
}

/** A server-side connection. Emits 'message' (string) and 'close'. */
export class WsConnection extends EventEmitter {
  private open = true;
  private readonly reader = new FrameReader(MAX_IN_FRAME);

  constructor(private readonly socket: Duplex) {
    super();
    socket.on('data', (chunk: Buffer) => {
      let frames;
      try {
        frames = this.reader.push(chunk);
      } catch {
        this.close(1009, 'frame too large');
        return;
      }
      for (const f of frames) {
        if (f.opcode === 0x8) this.close(1000, '');
        else if (f.opcode === 0x9) this.write(0xa, f.payload);
        else if (f.opcode === 0x1) this.emit('message', f.payload.toString('utf8'));
      }
    });
    socket.on('close', () => this.finish());
    socket.on('error', () => this.finish());
  }

  private finish(): void {
    if (!this.open) return;
    this.open = false;
    this.emit('close');
  }

  /** True until either side closed. */
  get isOpen(): boolean {
    return this.open;
  }

  /** Bytes queued but not yet written: callers drop messages for slow readers. */
  get buffered(): number {
    return this.socket.writableLength;
  }

  private write(opcode: number, payload: Buffer): void {
    if (this.open && this.socket.writable) this.socket.write(frame(opcode, payload, false));
  }

  /** Sends one text message. */
  send(text: string): void {
    this.write(0x1, Buffer.from(text));
  }

  /** Closes with a status code. */
  close(code = 1000, reason = ''): void {
    if (!this.open) return;
    const p = Buffer.alloc(2 + Buffer.byteLength(reason));
    p.writeUInt16BE(code, 0);
    p.write(reason, 2);
    this.write(0x8, p);
    this.socket.end();
    this.finish();
  }
}

/**
 * Completes a WebSocket handshake on an HTTP upgrade request. Returns undefined (after
 * answering 400) when the request is not a valid WebSocket upgrade.
 */
export function acceptWebSocket(
  req: http.IncomingMessage,
  socket: Duplex,
): WsConnection | undefined {
  const key = req.headers['sec-websocket-key'];
  const valid =
    req.method === 'GET' &&
    String(req.headers.upgrade ?? '').toLowerCase() === 'websocket' &&
    req.headers['sec-websocket-version'] === '13' &&
    typeof key === 'string' &&
    /^[A-Za-z0-9+/]{22}==$/.test(key);
  if (!valid) {
    const body = JSON.stringify({ error: 'not a WebSocket upgrade request (version 13 expected)' });
    socket.end(
      `HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
    return undefined;
  }
  const accept = createHash('sha1')
    .update(key + GUID)
    .digest('base64');
  socket.write(
    'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      `Sec-WebSocket-Accept: ${accept}\r\n\r\n`,
  );
  return new WsConnection(socket);
}

/** Where and how a client connects. */
export interface WsClientOptions {
  /** Unix socket path, or host+port for TCP. */
  socketPath?: string;
  host?: string;
  port?: number;
  tls?: boolean;
  /** CA for a self-signed server certificate. */
  ca?: string | Buffer;
  headers?: Record<string, string>;
}

/** A client connection: emits 'message' (string) and 'close'. */
export class WsClient extends EventEmitter {
  private readonly reader = new FrameReader(64 * 1024 * 1024);

  private constructor(private readonly socket: Duplex) {
    super();
    socket.on('close', () => this.emit('close'));
    socket.on('error', () => undefined);
  }

  private feed(chunk: Buffer): void {
    for (const f of this.reader.push(chunk)) {
      if (f.opcode === 0x1) this.emit('message', f.payload.toString('utf8'));
      else if (f.opcode === 0x8) this.socket.end();
    }
  }

  /** Opens a WebSocket to `path` on the daemon. */
  static connect(path: string, opts: WsClientOptions): Promise<WsClient> {
    return new Promise((resolve, reject) => {
      const key = randomBytes(16).toString('base64');
      const mod = opts.tls ? https : http;
      const req = mod.request({
        path,
        ...(opts.socketPath
          ? { socketPath: opts.socketPath }
          : { host: opts.host, port: opts.port }),
        ...(opts.ca ? { ca: opts.ca } : {}),
        headers: {
          Connection: 'Upgrade',
          Upgrade: 'websocket',
          'Sec-WebSocket-Key': key,
          'Sec-WebSocket-Version': '13',
          ...opts.headers,
        },
      });
      req.on('upgrade', (_res, socket, head) => {
        const c = new WsClient(socket);
        resolve(c);
        // Frames that arrived with the handshake, then the rest, after the caller's listeners.
        setImmediate(() => {
          if (head.length) c.feed(head);
          socket.on('data', (chunk: Buffer) => c.feed(chunk));
        });
      });
      req.on('response', (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () =>
          reject(new Error(`websocket ${path}: HTTP ${res.statusCode}: ${body}`)),
        );
      });
      req.on('error', reject);
      req.end();
    });
  }

  /** Sends a text message (masked, as clients must). */
  send(text: string): void {
    this.socket.write(frame(0x1, Buffer.from(text), true));
  }

  /** Sends a close frame and ends the connection. */
  close(): void {
    this.socket.write(frame(0x8, Buffer.from([0x03, 0xe8]), true));
    this.socket.end();
  }
}
