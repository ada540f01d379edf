/**
 * Developer tools: the clang driver, typed bindings, object disassembly, the ISA conformance
 * runner, pcap/pcapng files, the packet test harness and project scaffolding.
 */
export * from './build.js';
export * from './gen.js';
export * from './pcap.js';
export * from './packets.js';
export * from './harness.js';
export * from './disasm.js';
export * from './conformance.js';
export * from './init.js';
