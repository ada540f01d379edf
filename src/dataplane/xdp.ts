/**
 * The XDP hook, and why instances are refused on it for now.
 *
 * The model accepts `hook: xdp`, but a working XDP data plane is more than attaching
 * `iov_entry` with XDP instead of tcx:
 *
 * - Every IO module and the patch panel are `SEC("tc")` programs on `struct __sk_buff`:
 *   the packet's position travels in `skb->cb`, flooding uses `bpf_clone_redirect`, VLANs use
 *   `bpf_skb_vlan_push/pop`, the router uses `bpf_l3_csum_replace`. None of these exist for
 *   `struct xdp_md`, and a program array (`iov_patch`) holds one program type only, so an XDP
 *   entry cannot tail-call the tc modules. XDP needs its own build of the patch panel (position
 *   in XDP metadata, flooding through a DEVMAP with `BPF_F_BROADCAST`, ports leaving through
 *   `bpf_redirect_map` on a DEVMAP) and of every module, kept in a second program array.
 * - On veth (every port of a host is one), XDP_REDIRECT into a veth delivers only if the
 *   receiving veth has an XDP program or GRO enabled (its NAPI must run), and XDP on
 *   skb-originated veth traffic adds a conversion per packet; the design notes and the
 *   published anchors (docs/benchmarks-dataplane.md, DESIGN.md) say it pays only on physical
 *   NICs or when frames arrive by redirect. Hosts behind `bpf_redirect_peer` from tcx are
 *   already the cheap path here.
 *
 * Until that second build exists, creating an instance with `hook: xdp` fails with
 * {@link xdpRefusal}'s error and changes nothing.
 */
import { ConfigError } from './schema.js';

/** The error for an instance asked to run on the XDP hook (see the file comment). */
export function xdpRefusal(field: string): ConfigError {
  return new ConfigError(
    field,
    'hook xdp is not supported yet: IO modules are tc programs chained by tail calls ' +
      '(skb->cb, clone-redirect flooding, VLAN and checksum helpers) and an XDP entry cannot ' +
      'tail-call them; use tcx (the default, and the cheaper hook on veth ports)',
  );
}
