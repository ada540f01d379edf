/**
 * The XDP hook. An instance created with `hook: xdp` gets the XDP build of the patch panel's
 * entry program on its port netdevs (native mode on veth), in front of the tcx entry that every
 * port netdev has. How the XDP build works (src/dataplane/bpf/iov.h):
 *
 * - Every source is compiled twice (scripts/build-modules.sh): `<name>.bpf.o` (tc, struct
 *   __sk_buff) and `<name>.xdp.bpf.o` (-DIOV_XDP, struct xdp_md). Every instance whose object
 *   has an XDP sibling loads both over the same pinned maps (one MAC table, one set of counters)
 *   and sits in the same slot of two program arrays, `iov_patch` (tc) and `iov_patch_xdp`.
 * - The position (gid, direction and chain position: skb->cb in tc) travels in XDP metadata
 *   (`struct iov_meta`, reserved by the entry with bpf_xdp_adjust_meta). Packets leave to hosts
 *   with bpf_redirect into the port's veth; the host side of an XDP port's veth pair carries
 *   `iov_pass` (XDP_PASS), because a veth delivers frames redirected into it by XDP only when
 *   its peer runs XDP (that is what gives it the NAPI context that receives them).
 * - What the XDP build does not do itself it hands to the tc build at the same position, before
 *   it changed the frame: flooding (clones through the loop device, so that each copy passes its
 *   port's egress chain and can reach another module's port, which a DEVMAP broadcast cannot),
 *   frames entering through a VLAN trunk (veth hands XDP the frame without its out-of-band tag;
 *   tags on the way out are pushed in XDP with bpf_xdp_adjust_head), the slow path (ARP/ND, ICMP errors, packets for the
 *   router), netdev peers, hosts on tcx ports, and instances without an XDP build. The frame is
 *   passed up (XDP_PASS) with `iov_meta.punt` set, and the tcx entry on the same netdev resumes
 *   exactly there (tail call into that slot's tc program, or on along the chain). Counters are
 *   bumped after that decision, so nothing is counted twice.
 *
 * So hooks mix freely: a packet that entered through XDP runs the XDP builds of every instance
 * and transparent module on its way, and drops to tc where one of them needs it; one that
 * entered through tcx stays in tc. Packet-out (the controllers' slow path) is always tc.
 */
import { existsSync } from 'node:fs';
import type { ModuleType } from './module.js';
import { ConfigError } from './schema.js';

/** The XDP build next to an object (`x.bpf.o` → `x.xdp.bpf.o`), if there is one. */
export function xdpBuildOf(object: string): string | undefined {
  if (!object.endsWith('.bpf.o') || object.endsWith('.xdp.bpf.o')) return undefined;
  const x = object.slice(0, -'.bpf.o'.length) + '.xdp.bpf.o';
  return existsSync(x) ? x : undefined;
}

/** Refuses `hook: xdp` for a type without an XDP build, naming the field. */
export function checkXdpHook(type: ModuleType, field: string, object = type.object): void {
  if (!xdpBuildOf(object))
    throw new ConfigError(
      field,
      `hook xdp: module ${type.name} has no XDP build next to ${object} (expected ` +
        `${object.replace(/\.bpf\.o$/, '.xdp.bpf.o')}, built with -DIOV_XDP by ` +
        'scripts/build-modules.sh); use tcx',
    );
}
