/**
 * Where the data plane's files are: the repository root (found from this compiled file, so a
 * private build directory works too) and the patch panel's prebuilt object.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: the nearest ancestor of this file holding package.json. */
export function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    dir = path.dirname(dir);
  }
  throw new Error('dataplane: cannot find the repository root (no package.json above this file)');
}

/** The patch panel's prebuilt object. */
export function patchPanelObject(): string {
  return path.join(repoRoot(), 'src/dataplane/bpf/patchpanel.bpf.o');
}

/** Default bpffs directory under which each data plane pins its state. */
export const DEFAULT_BPFFS_ROOT = '/sys/fs/bpf/iovisor';

/**
 * The patch panel's maps every object shares (pinned in the data plane's `shared` directory and
 * into each instance's pin directory before its object loads).
 */
export const SHARED_MAPS: readonly string[] = [
  'iov_patch',
  'iov_patch_xdp',
  'iov_ports',
  'iov_stats',
  'iov_pktin',
  'iov_cfg',
  'iov_ifports',
];
