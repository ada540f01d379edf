/**
 * Leak checks for bpf links that other processes on the machine cannot disturb: the kernel's
 * global link list (Link.ids()) also shows links that concurrent processes create, so tests
 * assert on the links this process still holds a file descriptor of.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Ids of the bpf links this process holds an fd of (from /proc/self/fdinfo). */
export function heldLinkIds(): number[] {
  const ids: number[] = [];
  for (const fd of readdirSync('/proc/self/fdinfo')) {
    let info: string;
    try {
      info = readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
    } catch {
      continue; // closed meanwhile (e.g. the fd readdir itself used)
    }
    const m = /^link_id:\s*(\d+)/m.exec(info);
    if (m) ids.push(Number(m[1]));
  }
  return ids.sort((a, b) => a - b);
}
