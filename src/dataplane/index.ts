/**
 * The programmable data plane as a library: IO module types and instances, ports and links,
 * the patch panel that chains them inside the kernel, transparent modules, the slow path,
 * hot swap, declarative topologies, and adoption of a running data plane after a restart.
 */
export * from './module.js';
export * from './schema.js';
export * from './paths.js';
export * from './dataplane.js';
export * from './packet.js';
export * from './topology.js';
export * from './adopt.js';
export * from './render.js';
