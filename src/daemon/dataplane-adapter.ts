/**
 * The adapter from the daemon's {@link DataplanePort} to the real data plane library.
 */
import type { DataplanePort } from './dataplane-port.js';

/** Options of {@link openDataplane}. */
export interface OpenDataplaneOptions {
  log?: (msg: string) => void;
}

/** Opens the real data plane for the daemon. */
export async function openDataplane(_opts: OpenDataplaneOptions = {}): Promise<DataplanePort> {
  throw new Error('iovisord: the real data plane adapter is not wired yet');
}
