/**
 * The programmable data plane as a library: IO module types and instances, ports and links,
 * the patch panel that chains them inside the kernel, transparent modules, the slow path,
 * hot swap, declarative topologies, and the small daemon protocol that fronts it.
 */
export * from './module.js';
export * from './schema.js';
export * from './paths.js';
export * from './dataplane.js';
export * from './packet.js';
export * from './topology.js';
export * from './server.js';
export * from './render.js';
