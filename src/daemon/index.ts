/**
 * iovisord as a library: the daemon ({@link startDaemon}), its state store, the data plane
 * seam it is written against (with a fake for tests), the API route table and OpenAPI
 * document, Prometheus metrics and a small WebSocket client for its event streams.
 */
export * from './dataplane-port.js';
export * from './topology.js';
export * from './store.js';
export * from './core.js';
export * from './api.js';
export * from './http.js';
export * from './metrics.js';
export * from './ws.js';
export * from './daemon.js';
export * from './fake-dataplane.js';
export * from './dataplane-adapter.js';
export * from './client.js';
export * from './main.js';
