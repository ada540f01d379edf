/**
 * The REST API: one route table that both dispatches requests and generates the OpenAPI 3
 * document, so the two never disagree. Handlers take decoded path parameters, the query and a
 * lazily read, size-limited JSON body.
 */
import type http from 'node:http';
import type { Schema } from '../dataplane/index.js';
import type { DaemonCore } from './core.js';
import { InputError } from './dataplane-port.js';
import { HttpError, readJson } from './http.js';
import { HOST_NAME, INSTANCE_NAME, LIMITS, PORT_NAME } from './topology.js';

/** What a handler gets. */
export interface RequestContext {
  params: Record<string, string>;
  query: URLSearchParams;
  /** Reads and parses the JSON body (once). */
  body(): Promise<unknown>;
  req: http.IncomingMessage;
}

/** What a handler returns: a JSON body (status 200 unless given). */
export interface Reply {
  status?: number;
  body: unknown;
}

/** One route. `path` segments starting with ':' are parameters. */
export interface Route {
  method: 'GET' | 'PUT' | 'POST' | 'DELETE';
  path: string;
  summary: string;
  tag: string;
  /** OpenAPI schema of the request body, if any. */
  requestBody?: OpenApiSchema;
  /** OpenAPI schema of the 200/201 reply. */
  response?: OpenApiSchema;
  query?: { name: string; description: string; schema: OpenApiSchema }[];
  /** Mutating routes answer 201/200 with a change result. */
  handler(ctx: RequestContext): Promise<Reply>;
}

/** A JSON Schema fragment as OpenAPI 3.0 writes it. */
export type OpenApiSchema = Record<string, unknown>;

const ref = (name: string): OpenApiSchema => ({ $ref: `#/components/schemas/${name}` });

function limitOf(q: URLSearchParams, def: number, max: number): number {
  const s = q.get('limit');
  if (s === null) return def;
  if (!/^\d{1,6}$/.test(s) || Number(s) < 1 || Number(s) > max)
    throw new HttpError(400, `limit: must be an integer between 1 and ${max}`);
  return Number(s);
}

function checkName(v: string, re: RegExp, what: string): string {
  if (!re.test(v)) throw new InputError(`${what} ${JSON.stringify(v)}: invalid name`, 404);
  return v;
}

function entryKey(body: unknown, needValue: boolean): { key: unknown; value?: unknown } {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new InputError('entry: the body must be an object {key, value}');
  const b = body as Record<string, unknown>;
  for (const k of Object.keys(b))
    if (k !== 'key' && k !== 'value')
      throw new InputError(`entry.${k}: unknown field (known: key, value)`);
  if (!('key' in b)) throw new InputError('entry.key: is required');
  if (needValue && !('value' in b)) throw new InputError('entry.value: is required');
  if (!needValue && 'value' in b) throw new InputError('entry.value: not expected here');
  return { key: b.key, value: b.value };
}

/** The route table of a daemon. */
export function routes(core: DaemonCore, info: () => Record<string, unknown>): Route[] {
  const inst = (ctx: RequestContext): string =>
    checkName(ctx.params.name!, INSTANCE_NAME, 'instance');
  const mustExist = (name: string): void => {
    if (
      !core.desired().topology.modules?.[name] &&
      !core.dp.show().instances.some((i) => i.name === name)
    )
      throw new InputError(`no instance ${name}`, 404);
  };
  return [
    {
      method: 'GET',
      path: '/api/v1/status',
      tag: 'daemon',
      summary: 'Daemon status: version, generation, counts, uptime',
      response: ref('Status'),
      handler: async () => ({ body: info() }),
    },
    {
      method: 'GET',
      path: '/api/v1/health',
      tag: 'daemon',
      summary: 'Liveness: answers {"ok": true} while the daemon serves',
      response: { type: 'object', properties: { ok: { type: 'boolean' } } },
      handler: async () => ({ body: { ok: true } }),
    },
    {
      method: 'GET',
      path: '/api/v1/module-types',
      tag: 'modules',
      summary: 'Module types with their config schemas',
      response: { type: 'array', items: ref('ModuleType') },
      handler: async () => ({ body: core.dp.moduleTypes() }),
    },
    {
      method: 'GET',
      path: '/api/v1/module-types/:type',
      tag: 'modules',
      summary: 'One module type',
      response: ref('ModuleType'),
      handler: async (ctx) => {
        const t = core.dp.moduleTypes().find((x) => x.name === ctx.params.type);
        if (!t) throw new InputError(`no module type ${JSON.stringify(ctx.params.type)}`, 404);
        return { body: t };
      },
    },
    {
      method: 'GET',
      path: '/api/v1/topology',
      tag: 'topology',
      summary: 'The desired topology and its generation',
      response: ref('DesiredState'),
      handler: async () => ({ body: core.desired() }),
    },
    {
      method: 'PUT',
      path: '/api/v1/topology',
      tag: 'topology',
      summary:
        'Apply a topology: the data plane becomes exactly this (serialised with other changes)',
      requestBody: ref('Topology'),
      response: ref('ChangeResult'),
      handler: async (ctx) => ({ body: await core.apply(await ctx.body()) }),
    },
    {
      method: 'POST',
      path: '/api/v1/topology/diff',
      tag: 'topology',
      summary: 'Dry run: what applying this topology would change',
      requestBody: ref('Topology'),
      response: ref('ChangeResult'),
      handler: async (ctx) => ({ body: await core.apply(await ctx.body(), true) }),
    },
    {
      method: 'POST',
      path: '/api/v1/topology/delete',
      tag: 'topology',
      summary:
        'Remove the hosts, modules (with their links and attachments) and links a topology names',
      requestBody: ref('Topology'),
      response: ref('ChangeResult'),
      handler: async (ctx) => ({ body: await core.remove(await ctx.body()) }),
    },
    {
      method: 'DELETE',
      path: '/api/v1/topology',
      tag: 'topology',
      summary: 'Delete everything: the desired topology becomes empty',
      response: ref('ChangeResult'),
      handler: async () => ({ body: await core.apply({}) }),
    },
    {
      method: 'GET',
      path: '/api/v1/topology/running',
      tag: 'topology',
      summary: 'The running graph (hosts, netdevs, instances, ports, links) with counters',
      response: ref('Graph'),
      handler: async () => ({ body: core.dp.show() }),
    },
    {
      method: 'GET',
      path: '/api/v1/counters',
      tag: 'topology',
      summary: 'Counters of every port and instance',
      response: ref('Counters'),
      handler: async () => ({ body: core.dp.counters() }),
    },
    {
      method: 'GET',
      path: '/api/v1/instances',
      tag: 'instances',
      summary: 'Running instances',
      response: { type: 'array', items: ref('Instance') },
      handler: async () => ({ body: core.dp.show().instances }),
    },
    {
      method: 'POST',
      path: '/api/v1/instances',
      tag: 'instances',
      summary: 'Create an instance',
      requestBody: ref('NewInstance'),
      response: ref('ChangeResult'),
      handler: async (ctx) => ({ status: 201, body: await core.createInstance(await ctx.body()) }),
    },
    {
      method: 'GET',
      path: '/api/v1/instances/:name',
      tag: 'instances',
      summary: 'One running instance with its ports and counters',
      response: ref('Instance'),
      handler: async (ctx) => {
        const name = inst(ctx);
        const i = core.dp.show().instances.find((x) => x.name === name);
        if (!i) throw new InputError(`no instance ${name}`, 404);
        return { body: i };
      },
    },
    {
      method: 'PUT',
      path: '/api/v1/instances/:name',
      tag: 'instances',
      summary: "Replace an instance's spec (type, config, ports, attach)",
      requestBody: ref('Module'),
      response: ref('ChangeResult'),
      handler: async (ctx) => ({ body: await core.replaceInstance(inst(ctx), await ctx.body()) }),
    },
    {
      method: 'DELETE',
      path: '/api/v1/instances/:name',
      tag: 'instances',
      summary: 'Delete an instance, its links and what is attached to it',
      response: ref('ChangeResult'),
      handler: async (ctx) => ({ body: await core.deleteInstance(inst(ctx)) }),
    },
    {
      method: 'PUT',
      path: '/api/v1/instances/:name/config',
      tag: 'instances',
      summary: "Replace an instance's config (checked against its type's schema)",
      requestBody: { type: 'object', additionalProperties: true },
      response: ref('ChangeResult'),
      handler: async (ctx) => ({ body: await core.configure(inst(ctx), await ctx.body()) }),
    },
    {
      method: 'GET',
      path: '/api/v1/instances/:name/status',
      tag: 'instances',
      summary: "The instance controller's live status",
      response: { type: 'object', additionalProperties: true },
      handler: async (ctx) => ({ body: core.dp.status(inst(ctx)) }),
    },
    {
      method: 'GET',
      path: '/api/v1/instances/:name/ports',
      tag: 'ports',
      summary: "An instance's ports with counters",
      response: { type: 'array', items: ref('Port') },
      handler: async (ctx) => {
        const name = inst(ctx);
        const i = core.dp.show().instances.find((x) => x.name === name);
        if (!i) throw new InputError(`no instance ${name}`, 404);
        return { body: i.ports };
      },
    },
    {
      method: 'POST',
      path: '/api/v1/instances/:name/ports',
      tag: 'ports',
      summary: 'Add a port',
      requestBody: ref('NewPort'),
      response: ref('ChangeResult'),
      handler: async (ctx) => ({
        status: 201,
        body: await core.addPort(inst(ctx), await ctx.body()),
      }),
    },
    {
      method: 'PUT',
      path: '/api/v1/instances/:name/ports/:port',
      tag: 'ports',
      summary: "Replace a port's config",
      requestBody: { type: 'object', additionalProperties: true },
      response: ref('ChangeResult'),
      handler: async (ctx) => ({
        body: await core.configurePort(
          inst(ctx),
          checkName(ctx.params.port!, PORT_NAME, 'port'),
          await ctx.body(),
        ),
      }),
    },
    {
      method: 'DELETE',
      path: '/api/v1/instances/:name/ports/:port',
      tag: 'ports',
      summary: 'Remove a port (and its link)',
      response: ref('ChangeResult'),
      handler: async (ctx) => ({
        body: await core.deletePort(inst(ctx), checkName(ctx.params.port!, PORT_NAME, 'port')),
      }),
    },
    {
      method: 'GET',
      path: '/api/v1/connections',
      tag: 'connections',
      summary: 'Links of the running topology',
      response: { type: 'array', items: ref('Link') },
      handler: async () => ({ body: core.dp.show().links }),
    },
    {
      method: 'POST',
      path: '/api/v1/connections',
      tag: 'connections',
      summary: 'Link two endpoints ("inst:port", a host, or "netdev:NAME")',
      requestBody: ref('NewConnection'),
      response: ref('ChangeResult'),
      handler: async (ctx) => ({ status: 201, body: await core.connect(await ctx.body()) }),
    },
    {
      method: 'DELETE',
      path: '/api/v1/connections/:endpoint',
      tag: 'connections',
      summary: 'Remove the link at an endpoint',
      response: ref('ChangeResult'),
      handler: async (ctx) => ({ body: await core.disconnect(ctx.params.endpoint!) }),
    },
    {
      method: 'GET',
      path: '/api/v1/instances/:name/maps',
      tag: 'maps',
      summary: "An instance's maps",
      response: { type: 'array', items: ref('MapSummary') },
      handler: async (ctx) => {
        const name = inst(ctx);
        mustExist(name);
        return { body: core.dp.maps(name) };
      },
    },
    {
      method: 'GET',
      path: '/api/v1/instances/:name/maps/:map/entries',
      tag: 'maps',
      summary: 'Entries of a map, decoded through BTF (64-bit integers as strings)',
      query: [
        {
          name: 'limit',
          description: 'at most this many (default 1000)',
          schema: { type: 'integer' },
        },
      ],
      response: { type: 'array', items: ref('MapEntry') },
      handler: async (ctx) => {
        const name = inst(ctx);
        mustExist(name);
        return {
          body: core.dp.mapEntries(name, ctx.params.map!, limitOf(ctx.query, 1000, 100000)),
        };
      },
    },
    {
      method: 'POST',
      path: '/api/v1/instances/:name/maps/:map/lookup',
      tag: 'maps',
      summary: 'Look one key up',
      requestBody: {
        type: 'object',
        properties: { key: {} },
        required: ['key'],
        additionalProperties: false,
      },
      response: ref('MapEntry'),
      handler: async (ctx) => {
        const name = inst(ctx);
        mustExist(name);
        const { key } = entryKey(await ctx.body(), false);
        const value = core.dp.mapGet(name, ctx.params.map!, key);
        if (value === undefined) throw new InputError('no such key', 404);
        return { body: { key, value } };
      },
    },
    {
      method: 'PUT',
      path: '/api/v1/instances/:name/maps/:map/entries',
      tag: 'maps',
      summary: 'Write one entry (key and value encoded through BTF)',
      requestBody: ref('MapEntry'),
      response: { type: 'object', properties: { ok: { type: 'boolean' } } },
      handler: async (ctx) => {
        const name = inst(ctx);
        mustExist(name);
        const { key, value } = entryKey(await ctx.body(), true);
        await core.serialize(async () => core.dp.mapSet(name, ctx.params.map!, key, value));
        return { body: { ok: true } };
      },
    },
    {
      method: 'DELETE',
      path: '/api/v1/instances/:name/maps/:map/entries',
      tag: 'maps',
      summary: 'Delete one entry (body {key})',
      requestBody: {
        type: 'object',
        properties: { key: {} },
        required: ['key'],
        additionalProperties: false,
      },
      response: { type: 'object', properties: { deleted: { type: 'boolean' } } },
      handler: async (ctx) => {
        const name = inst(ctx);
        mustExist(name);
        const { key } = entryKey(await ctx.body(), false);
        const deleted = await core.serialize(async () =>
          core.dp.mapDelete(name, ctx.params.map!, key),
        );
        if (!deleted) throw new InputError('no such key', 404);
        return { body: { deleted } };
      },
    },
    {
      method: 'GET',
      path: '/api/v1/events',
      tag: 'events',
      summary:
        'Recent events; with a WebSocket upgrade, a live stream of JSON messages. `types` filters: log, packet, change, counters (snapshots every second)',
      query: [
        { name: 'types', description: 'comma-separated event types', schema: { type: 'string' } },
        {
          name: 'limit',
          description: 'recent events to return (default 100)',
          schema: { type: 'integer' },
        },
      ],
      response: { type: 'array', items: ref('Event') },
      handler: async (ctx) => {
        const types = eventTypes(ctx.query);
        return {
          body: core.recentEvents(limitOf(ctx.query, 100, 500)).filter((e) => types.has(e.type)),
        };
      },
    },
  ];
}

/** The `types` query of an event request; all but counters by default. */
export function eventTypes(q: URLSearchParams): Set<string> {
  const all = ['log', 'packet', 'change', 'counters'];
  const s = q.get('types');
  if (s === null) return new Set(['log', 'packet', 'change']);
  const list = s.split(',').filter((x) => x);
  for (const t of list)
    if (!all.includes(t))
      throw new HttpError(
        400,
        `types: unknown event type ${JSON.stringify(t)} (known: ${all.join(', ')})`,
      );
  return new Set(list);
}

/** Matches a request to a route; 404 for unknown paths, 405 (with Allow) for wrong methods. */
export function match(
  table: Route[],
  method: string,
  segments: string[],
): { route: Route; params: Record<string, string> } {
  const allowed: string[] = [];
  for (const r of table) {
    const pat = r.path.split('/').slice(1);
    if (pat.length !== segments.length) continue;
    const params: Record<string, string> = {};
    let ok = true;
    for (let i = 0; i < pat.length && ok; i++) {
      if (pat[i]!.startsWith(':')) params[pat[i]!.slice(1)] = segments[i]!;
      else ok = pat[i] === segments[i];
    }
    if (!ok) continue;
    if (r.method === method || (method === 'HEAD' && r.method === 'GET'))
      return { route: r, params };
    allowed.push(r.method);
  }
  if (allowed.length)
    throw new HttpError(405, `method ${method} not allowed here (allowed: ${allowed.join(', ')})`, {
      Allow: allowed.join(', '),
    });
  throw new HttpError(404, `no such resource: /${segments.join('/')}`);
}

/** Builds a handler context for one request. */
export function context(
  req: http.IncomingMessage,
  params: Record<string, string>,
  query: URLSearchParams,
  maxBody: number,
): RequestContext {
  let body: Promise<unknown> | undefined;
  return { params, query, req, body: () => (body ??= readJson(req, maxBody)) };
}

/** Converts a module config schema to OpenAPI. */
export function schemaToOpenApi(s: Schema): OpenApiSchema {
  const d = s.description ? { description: s.description } : {};
  switch (s.type) {
    case 'string':
      return {
        type: 'string',
        ...(s.enum ? { enum: s.enum } : {}),
        ...(s.format ? { format: s.format } : {}),
        ...d,
      };
    case 'integer':
      return {
        type: 'integer',
        ...(s.minimum !== undefined ? { minimum: s.minimum } : {}),
        ...(s.maximum !== undefined ? { maximum: s.maximum } : {}),
        ...d,
      };
    case 'boolean':
      return { type: 'boolean', ...d };
    case 'array':
      return {
        type: 'array',
        items: schemaToOpenApi(s.items),
        ...(s.maxItems !== undefined ? { maxItems: s.maxItems } : {}),
        ...d,
      };
    case 'object':
      return {
        type: 'object',
        properties: Object.fromEntries(
          Object.entries(s.properties).map(([k, v]) => [k, schemaToOpenApi(v)]),
        ),
        ...(s.required?.length ? { required: s.required } : {}),
        additionalProperties: s.additional ? schemaToOpenApi(s.additional) : false,
        ...d,
      };
    case 'oneOf':
      return { oneOf: s.options.map(schemaToOpenApi), ...d };
  }
}

const counters: OpenApiSchema = {
  type: 'object',
  properties: {
    rxPackets: { type: 'integer' },
    rxBytes: { type: 'integer' },
    txPackets: { type: 'integer' },
    txBytes: { type: 'integer' },
    drops: { type: 'integer' },
  },
};

/** The OpenAPI 3 document of a route table, with each module type's config schema. */
export function openApi(
  table: Route[],
  types: { name: string; schema: Schema; portSchema?: Schema }[],
  version: string,
): unknown {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of table) {
    const p = r.path.replace(/:([a-z]+)/g, '{$1}');
    const params = [...r.path.matchAll(/:([a-z]+)/g)].map((m) => ({
      name: m[1],
      in: 'path',
      required: true,
      schema: { type: 'string' },
    }));
    const op: Record<string, unknown> = {
      summary: r.summary,
      tags: [r.tag],
      operationId: `${r.method.toLowerCase()}${r.path.replace(/[/:-]+(\w)/g, (_m, c: string) => c.toUpperCase())}`,
      parameters: [
        ...params,
        ...(r.query ?? []).map((q) => ({
          name: q.name,
          in: 'query',
          description: q.description,
          schema: q.schema,
        })),
      ],
      responses: {
        [r.method === 'POST' &&
        !r.path.endsWith('/diff') &&
        !r.path.endsWith('/lookup') &&
        !r.path.endsWith('/topology/delete')
          ? '201'
          : '200']: {
          description: 'success',
          content: { 'application/json': { schema: r.response ?? {} } },
        },
        '4XX': {
          description: 'the request was refused; nothing changed',
          content: { 'application/json': { schema: ref('Error') } },
        },
      },
    };
    if (r.requestBody)
      op.requestBody = {
        required: true,
        content: { 'application/json': { schema: r.requestBody } },
      };
    (paths[p] ??= {})[r.method.toLowerCase()] = op;
  }
  paths['/metrics'] = {
    get: {
      summary: 'Prometheus metrics (text exposition format)',
      tags: ['daemon'],
      responses: {
        '200': {
          description: 'metrics',
          content: { 'text/plain': { schema: { type: 'string' } } },
        },
      },
    },
  };
  const moduleSchemas: Record<string, OpenApiSchema> = {};
  for (const t of types) {
    moduleSchemas[`config.${t.name}`] = schemaToOpenApi(t.schema);
    if (t.portSchema) moduleSchemas[`portConfig.${t.name}`] = schemaToOpenApi(t.portSchema);
  }
  const name = (re: RegExp): OpenApiSchema => ({ type: 'string', pattern: re.source });
  return {
    openapi: '3.0.3',
    info: {
      title: 'iovisord',
      version,
      description:
        'The iovisor daemon: desired topology, module instances, ports, connections, maps, events and metrics. Errors are JSON {"error": message}; a refused request changes nothing.',
    },
    servers: [{ url: '/' }],
    components: {
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          description: 'required on TCP listeners (--token-file)',
        },
      },
      schemas: {
        Error: { type: 'object', properties: { error: { type: 'string' } }, required: ['error'] },
        Status: { type: 'object', additionalProperties: true },
        Topology: {
          type: 'object',
          additionalProperties: false,
          properties: {
            hosts: {
              type: 'object',
              maxProperties: LIMITS.hosts,
              additionalProperties: ref('Host'),
              'x-key-pattern': HOST_NAME.source,
            },
            modules: {
              type: 'object',
              maxProperties: LIMITS.modules,
              additionalProperties: ref('Module'),
            },
            links: { type: 'array', maxItems: LIMITS.links, items: ref('Link') },
          },
        },
        Host: {
          type: 'object',
          additionalProperties: false,
          properties: {
            address: { type: 'string', format: 'cidr' },
            gateway: { type: 'string', format: 'ip' },
            address6: { type: 'string', format: 'cidr' },
            gateway6: { type: 'string', format: 'ip' },
          },
        },
        Module: {
          type: 'object',
          additionalProperties: false,
          required: ['type'],
          properties: {
            type: { type: 'string', enum: types.map((t) => t.name) },
            config: { type: 'object', description: 'see config.<type>' },
            ports: {
              type: 'object',
              additionalProperties: { type: 'object', description: 'see portConfig.<type>' },
            },
            attach: { type: 'array', items: { type: 'string', description: 'inst:port' } },
          },
        },
        NewInstance: {
          allOf: [
            ref('Module'),
            { type: 'object', required: ['name'], properties: { name: name(INSTANCE_NAME) } },
          ],
        },
        NewPort: {
          type: 'object',
          additionalProperties: false,
          required: ['name'],
          properties: { name: name(PORT_NAME), config: { type: 'object' } },
        },
        NewConnection: {
          type: 'object',
          additionalProperties: false,
          required: ['a', 'b'],
          properties: { a: { type: 'string' }, b: { type: 'string' } },
        },
        Link: { type: 'array', items: { type: 'string' }, minItems: 2, maxItems: 2 },
        Change: {
          type: 'object',
          properties: {
            op: { type: 'string', enum: ['add', 'remove', 'update'] },
            kind: { type: 'string', enum: ['host', 'module', 'port', 'link', 'attach'] },
            name: { type: 'string' },
          },
        },
        ChangeResult: {
          type: 'object',
          properties: {
            generation: { type: 'integer' },
            changes: { type: 'array', items: ref('Change') },
          },
        },
        DesiredState: {
          type: 'object',
          properties: {
            generation: { type: 'integer' },
            updated: { type: 'string' },
            topology: ref('Topology'),
          },
        },
        PortCounters: counters,
        Port: {
          type: 'object',
          properties: {
            name: { type: 'string' },
            id: { type: 'string' },
            peer: { type: 'string' },
            stack: { type: 'array', items: { type: 'string' } },
            config: { type: 'object' },
            counters: ref('PortCounters'),
          },
        },
        Instance: {
          type: 'object',
          properties: {
            name: { type: 'string' },
            type: { type: 'string' },
            kind: { type: 'string', enum: ['standard', 'transparent'] },
            config: { type: 'object' },
            ports: { type: 'array', items: ref('Port') },
            attachedTo: { type: 'array', items: { type: 'string' } },
          },
        },
        Graph: {
          type: 'object',
          properties: {
            hosts: { type: 'array', items: { type: 'object' } },
            netdevs: { type: 'array', items: { type: 'object' } },
            instances: { type: 'array', items: ref('Instance') },
            links: { type: 'array', items: ref('Link') },
          },
        },
        Counters: {
          type: 'object',
          properties: {
            ports: { type: 'object', additionalProperties: ref('PortCounters') },
            modules: { type: 'object', additionalProperties: { type: 'object' } },
          },
        },
        ModuleType: {
          type: 'object',
          properties: {
            name: { type: 'string' },
            kind: { type: 'string' },
            description: { type: 'string' },
            schema: { type: 'object' },
            portSchema: { type: 'object' },
          },
        },
        MapSummary: {
          type: 'object',
          properties: {
            name: { type: 'string' },
            type: { type: 'string' },
            keySize: { type: 'integer' },
            valueSize: { type: 'integer' },
            maxEntries: { type: 'integer' },
          },
        },
        MapEntry: {
          type: 'object',
          required: ['key'],
          additionalProperties: false,
          properties: { key: {}, value: {} },
        },
        Event: {
          type: 'object',
          properties: {
            type: { type: 'string', enum: ['log', 'packet', 'change', 'counters'] },
            time: { type: 'integer' },
          },
          additionalProperties: true,
        },
        ...moduleSchemas,
      },
    },
    paths,
  };
}
