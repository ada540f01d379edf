/**
 * The daemon's desired-state store: one JSON file under the state directory. Writes go to a
 * temporary file in the same directory, are fsynced, renamed over the old file and the
 * directory is fsynced, so a crash (kill -9, power loss) leaves either the old or the new
 * document, never a torn one.
 */
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import type { Topology } from './dataplane-port.js';
import { emptyTopology } from './topology.js';

/** Default state directory. */
export const DEFAULT_STATE_DIR = '/var/lib/iovisor';

/** What the store holds. */
export interface StoredState {
  version: 1;
  /** Bumped on every accepted change. */
  generation: number;
  /** ISO time of the last change. */
  updated: string;
  /** The desired topology. */
  topology: Topology;
}

/** See the file comment. */
export class StateStore {
  /** The state file's path. */
  readonly file: string;

  constructor(readonly dir: string = DEFAULT_STATE_DIR) {
    this.file = path.join(dir, 'state.json');
  }

  /** Reads the stored state; a missing file is an empty topology at generation 0. */
  load(): StoredState {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT')
        return {
          version: 1,
          generation: 0,
          updated: new Date(0).toISOString(),
          topology: emptyTopology(),
        };
      throw new Error(`state store: read ${this.file}: ${(err as Error).message}`, { cause: err });
    }
    let doc: StoredState;
    try {
      doc = JSON.parse(text) as StoredState;
    } catch (err) {
      throw new Error(`state store: ${this.file} is not valid JSON: ${(err as Error).message}`, {
        cause: err,
      });
    }
    if (doc.version !== 1 || typeof doc.topology !== 'object')
      throw new Error(`state store: ${this.file}: unsupported version ${String(doc.version)}`);
    return doc;
  }

  /** Writes the state atomically (see the file comment). */
  save(state: StoredState): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const tmp = path.join(this.dir, `.state.json.${process.pid}.tmp`);
    const data = Buffer.from(JSON.stringify(state, null, 2) + '\n');
    const fd = openSync(tmp, 'w', 0o600);
    try {
      let off = 0;
      while (off < data.length) off += writeSync(fd, data, off, data.length - off);
      fsyncSync(fd);
    } catch (err) {
      closeSync(fd);
      rmSync(tmp, { force: true });
      throw new Error(`state store: write ${tmp}: ${(err as Error).message}`, { cause: err });
    }
    closeSync(fd);
    renameSync(tmp, this.file);
    const dfd = openSync(this.dir, 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  }
}
