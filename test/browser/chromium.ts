/** Launching Debian's chromium for the dashboard tests, and where artifacts go. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext } from 'playwright-core';

/** The repository root, found from this compiled file (works from any build directory). */
export function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!readdirHas(dir, 'package.json')) dir = path.dirname(dir);
  return dir;
}
function readdirHas(dir: string, f: string): boolean {
  try {
    readFileSync(path.join(dir, f));
    return true;
  } catch {
    return false;
  }
}

/** Launches Debian's chromium headless with a fresh profile (its --user-data-dir). */
export async function launchChromium(profile: string): Promise<BrowserContext> {
  return chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1400, height: 900 },
  });
}
