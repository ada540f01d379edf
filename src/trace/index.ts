/**
 * Tracing and monitoring tools as a library (bcc / libbpf-tools equivalents on CO-RE and
 * stable hooks). Event tools return an async-iterable {@link EventStream}; aggregating tools a
 * {@link Sampler} with `read()` and `intervals(ms)`. Both stop with `stop()` or an AbortSignal.
 *
 * ```ts
 * const s = opensnoop({ pid: 1234 });
 * for await (const e of s) console.log(e.path, e.fd, e.error);
 * ```
 */
export * from './core.js';
export * from './histogram.js';
export * from './events.js';
export * from './samplers.js';
export * from './packets.js';
export * from './symbols.js';
export * from './syscalls.js';
export * from './progstats.js';
export * from './dptrace.js';
