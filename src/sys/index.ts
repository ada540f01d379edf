/** The system-call layer: the only code that touches native functions. */
import './libc.js';
export * from './bpf-cmd.js';
export * from './errors.js';
export * from './sys.js';
export * from './fake.js';
export * from './cpus.js';
export * from './slab.js';
