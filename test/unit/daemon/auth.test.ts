// TCP needs the bearer token for every request (API, metrics, OpenAPI, dashboard, WebSocket);
// the unix socket is not world-accessible; TLS works with --tls-cert/--tls-key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import http from 'node:http';
import path from 'node:path';
import {
  DaemonClient,
  WsClient,
  routes,
  DaemonCore,
  FakeDataplane,
  StateStore,
} from '../../../src/daemon/index.js';
import { SMALL, testDaemon } from './harness.js';

function get(
  port: number,
  p: string,
  headers: Record<string, string> = {},
  method = 'GET',
): Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: p, method, headers }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
    });
    req.on('error', reject);
    req.end(method === 'GET' || method === 'DELETE' ? undefined : '{}');
  });
}

test('without the token the TCP API refuses every request', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'iovisord-auth-'));
  const tokenFile = path.join(dir, 'token');
  const t = await testDaemon({ listen: '127.0.0.1:0', tokenFile, dir });
  try {
    // The socket is private to root; the token file too.
    assert.equal(statSync(t.daemon.socketPath!).mode & 0o077, 0);
    assert.equal(statSync(tokenFile).mode & 0o077, 0);
    const token = readFileSync(tokenFile, 'utf8').trim();
    assert.ok(token.length >= 32);
    await t.client.request('PUT', '/api/v1/topology', SMALL);
    const port = t.daemon.tcp!.port;
    const table = routes(
      new DaemonCore(new FakeDataplane(), new StateStore(path.join(t.dir, 'x'))),
      () => ({}),
    );
    const paths = table.map((r) => [
      r.method,
      r.path
        .replace(':name', 'br0')
        .replace(':port', 'p1')
        .replace(':map', 'fdb')
        .replace(':type', 'bridge')
        .replace(':endpoint', 'h1'),
    ]);
    paths.push(
      ['GET', '/metrics'],
      ['GET', '/openapi.json'],
      ['GET', '/'],
      ['GET', '/app.js'],
      ['GET', '/nope'],
      ['GET', '/?token=wrong'],
    );
    const wrong: Record<string, string>[] = [
      {},
      { Authorization: 'Bearer wrong' },
      { Authorization: `Bearer ${token}x` },
      { Authorization: `Basic ${token}` },
      { Cookie: 'iovisor_token=nope' },
      { Authorization: `Bearer ${token.slice(0, -1)}` },
    ];
    for (const [method, p] of paths)
      for (const h of wrong) {
        const r = await get(port, p!, h, method);
        assert.equal(r.status, 401, `${method} ${p} ${JSON.stringify(h)}: ${r.status}`);
        assert.match(r.text, /bearer token/);
      }
    await assert.rejects(WsClient.connect('/api/v1/events', { host: '127.0.0.1', port }), /401/);
    // Nothing changed through the refused requests.
    const d = await t.client.get<{ generation: number }>('/api/v1/topology');
    assert.equal(d.generation, 1);

    // With the token: everything works, including the event stream.
    const c = new DaemonClient({ url: `http://127.0.0.1:${port}`, tokenFile });
    assert.equal((await c.get<{ generation: number }>('/api/v1/status')).generation, 1);
    const ws = await c.events();
    ws.close();
    c.close();
    // The dashboard login: /?token= sets a same-site HttpOnly cookie, which then works.
    const login = await get(port, `/?token=${token}`);
    assert.equal(login.status, 303);
    const cookie = String(login.headers['set-cookie']);
    assert.match(cookie, /HttpOnly; SameSite=Strict/);
    const page = await get(port, '/', { Cookie: cookie.split(';')[0]! });
    assert.equal(page.status, 200);
  } finally {
    await t.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('TLS listener with --tls-cert/--tls-key', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'iovisord-tls-'));
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  const tokenFile = path.join(dir, 'token');
  const t = await testDaemon({
    listen: '127.0.0.1:0',
    tokenFile,
    tlsCert: cert,
    tlsKey: key,
    socket: false,
  });
  try {
    assert.equal(t.daemon.tcp!.tls, true);
    const url = `https://127.0.0.1:${t.daemon.tcp!.port}`;
    const c = new DaemonClient({ url, tokenFile, ca: readFileSync(cert) });
    assert.equal((await c.get<{ ok: boolean }>('/api/v1/health')).ok, true);
    const anon = new DaemonClient({ url, ca: readFileSync(cert) });
    assert.equal((await anon.raw('GET', '/api/v1/health')).status, 401);
    c.close();
    anon.close();
  } finally {
    await t.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--listen without --token-file is refused', async () => {
  await assert.rejects(testDaemon({ listen: '127.0.0.1:0' }), /--listen needs --token-file/);
});
