/* SPDX-License-Identifier: GPL-2.0 */
/*
 * iovisor patch panel: what every IO module shares to pass packets along a service chain
 * inside the kernel (after Polycube's PatchPanel and Hover's forward chains).
 *
 * A packet's position travels in skb->cb:
 *   cb[0] = global port id (gid) = instance id << 6 | local port index
 *   cb[1] = direction (IOV_DIR_IN: entering the module through the port; IOV_DIR_OUT: leaving)
 *           | position in the port's transparent chain << 8
 * Modules move on with iov_continue() (tail calls through iov_patch, slot = instance id),
 * leave to netdevs with bpf_redirect_peer/bpf_redirect, flood with clones re-entering through
 * the loop device (skb->mark carries the port), and punt to their controller through iov_pktin.
 *
 * Every map here is pinned by name: each module object declares them, and the loader pins the
 * data plane's shared copies into the instance's pin directory first, so all objects share one
 * patch panel.
 *
 * Two builds of every source (after Polycube, which compiles each cube once per hook): the tc
 * build (SEC("tc"), struct __sk_buff) and, with -DIOV_XDP, the XDP build (SEC("xdp"), struct
 * xdp_md). Modules are written once against iov_ctx_t and the accessors below. In the XDP build
 * the position travels in XDP metadata (struct iov_meta, in front of the frame, set up by the
 * XDP entry with bpf_xdp_adjust_meta), tail calls go through iov_patch_xdp, and packets leave
 * to hosts with bpf_redirect (the host-side veth carries an XDP program so that it receives
 * redirected frames). What the XDP build does not do itself — flooding, VLAN tags, the slow
 * path, netdev peers, an instance without an XDP program — it hands to the tc build of the same
 * position: the frame is passed up (XDP_PASS) with iov_meta.punt set, and the tcx entry on the
 * same netdev resumes exactly there (see iov_punt and patchpanel.bpf.c).
 */
#ifndef IOV_H
#define IOV_H

#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#ifdef IOV_XDP
typedef struct xdp_md iov_ctx_t;
#define IOV_SEC "xdp"
#define IOV_SHOT XDP_DROP
#define IOV_IS_XDP 1
#define IOV_PATCH iov_patch_xdp
#else
typedef struct __sk_buff iov_ctx_t;
#define IOV_SEC "tc"
#define IOV_SHOT TC_ACT_SHOT
#define IOV_IS_XDP 0
#define IOV_PATCH iov_patch
#endif

#define IOV_MAX_SLOTS 1024
#define IOV_PORT_BITS 6
#define IOV_PORT_MASK 63
#define IOV_CHAIN_MAX 4
#define IOV_FLOOD_MAX 16

#define IOV_DIR_IN 0
#define IOV_DIR_OUT 1

/* skb->mark of a packet re-entering through the loop device: magic | dir << 16 | gid. */
#define IOV_MARK_MAGIC 0xa5000000u
#define IOV_MARK_MAGIC_MASK 0xff000000u

/* What a port's far side is. */
#define IOV_PEER_NONE 0
#define IOV_PEER_HOST 1   /* veth whose other end is in a host namespace: bpf_redirect_peer */
#define IOV_PEER_NETDEV 2 /* a netdev in the data plane namespace: bpf_redirect to egress */
#define IOV_PEER_MODULE 3 /* another instance's port: tail call */

/* iov_port.flags */
#define IOV_PORT_USED 1   /* the gid is a port (iov_ports is an array: unused entries are zero) */
#define IOV_PORT_XDP_TX 2 /* the host side has an XDP program: XDP may redirect to it */

struct iov_port {
	__u32 ifindex;
	__u32 peer_gid;
	__u8 peer_kind;
	__u8 n_in;
	__u8 n_out;
	__u8 flags;
	__u32 in_chain[IOV_CHAIN_MAX];
	__u32 out_chain[IOV_CHAIN_MAX];
};

struct iov_stats {
	__u64 rx_packets;
	__u64 rx_bytes;
	__u64 tx_packets;
	__u64 tx_bytes;
	__u64 drops;
	__u64 xdp_tx; /* of tx_packets: sent by the XDP build (redirect, no tc) */
};

#define IOV_PKTIN_MAX 1536
struct iov_pktin {
	__u32 instance;
	__u32 gid;
	__u32 reason;
	__u32 arg;
	__u32 len;
	__u32 vlan;
	__u8 data[IOV_PKTIN_MAX];
};

/* iov_cfg slots. */
#define IOV_CFG_LOOP_IFINDEX 0

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, IOV_MAX_SLOTS);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} iov_patch SEC(".maps");

/* The XDP builds of the same instances, same slots (a program array holds one program type). */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, IOV_MAX_SLOTS);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} iov_patch_xdp SEC(".maps");

/*
 * Indexed by gid (every possible gid has an entry; unused ones are zero, i.e. no peer and no
 * chain): an array lookup is inlined by the verifier, so each hop of a chain costs a bounds
 * check and a load instead of a hash lookup.
 */
#define IOV_MAX_GIDS (IOV_MAX_SLOTS << IOV_PORT_BITS)
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, IOV_MAX_GIDS);
	__type(key, __u32);
	__type(value, struct iov_port);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} iov_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct iov_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} iov_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} iov_pktin SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} iov_cfg SEC(".maps");

/*
 * XDP metadata in front of the frame: the position (what cb[0]/cb[1] hold in the tc build) and,
 * when the XDP build hands a packet to the tc build, where tc resumes (see iov_punt).
 */
#define IOV_META_PUNT 0x706e7669u /* "ivnp" */
struct iov_meta {
	__u32 gid;
	__u32 cb1;
	__u32 punt; /* IOV_META_PUNT: the tcx entry resumes at gid/cb1 */
	__u32 slot; /* ...by tail-calling this slot's tc program (0: iov_continue) */
};

#ifdef IOV_XDP
/*
 * xdp_md's data pointers loaded afresh each time through asm (a 32-bit load the verifier turns
 * into a packet pointer): clang would otherwise hoist the loads out of iov_continue's loop and
 * zero-extend the kept value with shifts, which the verifier refuses on a pointer.
 */
#define IOV_XDP_PTR(ctx, off)                                                            \
	({                                                                               \
		__u64 __v;                                                               \
		asm volatile("%0 = *(u32 *)(%1 + " #off ")" : "=r"(__v) : "r"(ctx));     \
		(void *)__v;                                                             \
	})

static __always_inline struct iov_meta *iov_meta_of(struct xdp_md *ctx)
{
	struct iov_meta *m = IOV_XDP_PTR(ctx, 8);
	if ((void *)(m + 1) > IOV_XDP_PTR(ctx, 0))
		return 0;
	return m;
}

static __always_inline __u32 iov_cb_get0(struct xdp_md *ctx)
{
	struct iov_meta *m = iov_meta_of(ctx);
	return m ? m->gid : 0;
}

static __always_inline __u32 iov_cb_get1(struct xdp_md *ctx)
{
	struct iov_meta *m = iov_meta_of(ctx);
	return m ? m->cb1 : 0;
}

static __always_inline void iov_cb_set0(struct xdp_md *ctx, __u32 v)
{
	struct iov_meta *m = iov_meta_of(ctx);
	if (m)
		m->gid = v;
}

static __always_inline void iov_cb_set1(struct xdp_md *ctx, __u32 v)
{
	struct iov_meta *m = iov_meta_of(ctx);
	if (m)
		m->cb1 = v;
}

static __always_inline __u32 iov_len(struct xdp_md *ctx)
{
	return (__u32)((long)ctx->data_end - (long)ctx->data);
}

static __always_inline __u32 iov_ifindex(struct xdp_md *ctx)
{
	return ctx->ingress_ifindex;
}

static __always_inline __u32 iov_hash(struct xdp_md *ctx)
{
	return 0;
}

/* veth hands XDP the frame without the out-of-band VLAN tag: the XDP build never sees one. */
static __always_inline int iov_vlan_present(struct xdp_md *ctx)
{
	return 0;
}

static __always_inline __u32 iov_vlan_tci(struct xdp_md *ctx)
{
	return 0;
}

static __always_inline long iov_load_bytes(struct xdp_md *ctx, __u32 off, void *to, __u32 len)
{
	return bpf_xdp_load_bytes(ctx, off, to, len);
}
#else
/*
 * cb[0] and cb[1] through explicit loads and stores: clang likes to fold &skb->cb[i] into a
 * derived pointer, and the verifier refuses context accesses through a modified pointer.
 */
static __always_inline __u32 iov_cb_get0(struct __sk_buff *skb)
{
	__u32 v;
	asm volatile("%0 = *(u32 *)(%1 + 48)" : "=r"(v) : "r"(skb));
	return v;
}

static __always_inline __u32 iov_cb_get1(struct __sk_buff *skb)
{
	__u32 v;
	asm volatile("%0 = *(u32 *)(%1 + 52)" : "=r"(v) : "r"(skb));
	return v;
}

static __always_inline void iov_cb_set0(struct __sk_buff *skb, __u32 v)
{
	asm volatile("*(u32 *)(%0 + 48) = %1" : : "r"(skb), "r"(v) : "memory");
}

static __always_inline void iov_cb_set1(struct __sk_buff *skb, __u32 v)
{
	asm volatile("*(u32 *)(%0 + 52) = %1" : : "r"(skb), "r"(v) : "memory");
}

static __always_inline __u32 iov_len(struct __sk_buff *skb)
{
	return skb->len;
}

static __always_inline __u32 iov_ifindex(struct __sk_buff *skb)
{
	return skb->ifindex;
}

static __always_inline __u32 iov_hash(struct __sk_buff *skb)
{
	return skb->hash;
}

static __always_inline int iov_vlan_present(struct __sk_buff *skb)
{
	return skb->vlan_present;
}

static __always_inline __u32 iov_vlan_tci(struct __sk_buff *skb)
{
	return skb->vlan_tci;
}

static __always_inline long iov_load_bytes(struct __sk_buff *skb, __u32 off, void *to, __u32 len)
{
	return bpf_skb_load_bytes(skb, off, to, len);
}
#endif

static __always_inline void *iov_data(iov_ctx_t *ctx)
{
	return (void *)(long)ctx->data;
}

static __always_inline void *iov_data_end(iov_ctx_t *ctx)
{
	return (void *)(long)ctx->data_end;
}

/*
 * Trace points, read by `iovisor trace packets`. Each instance's object (and the patch panel)
 * has its own iov_tracebuf ring and iov_trace_on switch, pinned by name in its pin directory; the
 * tracer sets the switch while it runs. Off (the default), a trace point costs one array lookup.
 */
#define IOV_TR_IN 1        /* the module got the packet on port gid */
#define IOV_TR_OUT 2       /* the module sends it out of port gid */
#define IOV_TR_CLONE 3     /* a flooded copy goes out of port gid */
#define IOV_TR_DROP 4      /* dropped (counted) */
#define IOV_TR_PKTIN 5     /* handed to the controller, arg = reason */
#define IOV_TR_TO_HOST 6   /* leaves port gid to its host, arg = ifindex */
#define IOV_TR_TO_NETDEV 7 /* leaves port gid to a netdev, arg = ifindex */
#define IOV_TR_FILTER 8    /* dropped as not for this port (not counted) */

#define IOV_TRACE_HEAD 64
struct iov_trace_rec {
	__u64 ts;
	__u32 gid;
	__u32 hook;
	__u32 arg;
	__u32 len;
	__u32 hash;
	__u32 ifindex;
	__u32 cb1;
	__u32 caplen;
	__u8 head[IOV_TRACE_HEAD];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} iov_trace_on SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 18);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} iov_tracebuf SEC(".maps");

/* Keeps struct iov_trace_rec in the object's BTF (the tracer checks its layout). */
struct iov_trace_rec *iov_unused_trace_rec __attribute__((unused));

static __noinline int iov_trace_emit(iov_ctx_t *ctx, __u32 hook, __u32 gid, __u32 arg)
{
	struct iov_trace_rec *t = bpf_ringbuf_reserve(&iov_tracebuf, sizeof(*t), 0);
	if (!t)
		return 0;
	__u64 n = iov_len(ctx);
	t->ts = bpf_ktime_get_ns();
	t->gid = gid;
	t->hook = hook;
	t->arg = arg;
	t->len = iov_len(ctx);
	t->hash = iov_hash(ctx);
	t->ifindex = iov_ifindex(ctx);
	t->cb1 = iov_cb_get1(ctx);
	/* Clamp to [1, IOV_TRACE_HEAD] in one register the verifier follows (see iov_packet_in). */
	asm volatile("if %[n] <= %[max] goto +1\n\t"
		     "%[n] = %[max]\n\t"
		     "if %[n] >= 1 goto +1\n\t"
		     "%[n] = 1"
		     : [n] "+r"(n)
		     : [max] "i"(IOV_TRACE_HEAD));
	if (iov_load_bytes(ctx, 0, t->head, n) < 0)
		n = 0;
	t->caplen = n;
	bpf_ringbuf_submit(t, 0);
	return 0;
}

/* Records a trace point when tracing is on: one array lookup when it is off. */
static __always_inline void iov_trace_at(iov_ctx_t *ctx, __u32 hook, __u32 gid, __u32 arg)
{
	__u32 k = 0;
	__u32 *on = bpf_map_lookup_elem(&iov_trace_on, &k);
	if (on && *on)
		iov_trace_emit(ctx, hook, gid, arg);
}

/* A trace point at the packet's current port. */
static __always_inline void iov_trace(iov_ctx_t *ctx, __u32 hook, __u32 arg)
{
	iov_trace_at(ctx, hook, iov_cb_get0(ctx), arg);
}

static __always_inline __u32 iov_gid(iov_ctx_t *ctx)
{
	return iov_cb_get0(ctx);
}

static __always_inline __u32 iov_instance(iov_ctx_t *ctx)
{
	return iov_cb_get0(ctx) >> IOV_PORT_BITS;
}

/* The local index of the port the packet came in on (standard modules). */
static __always_inline __u32 iov_in_port(iov_ctx_t *ctx)
{
	return iov_cb_get0(ctx) & IOV_PORT_MASK;
}

static __always_inline __u32 iov_dir(iov_ctx_t *ctx)
{
	return iov_cb_get1(ctx) & 0xff;
}

static __always_inline struct iov_stats *iov_stats_of(__u32 gid)
{
	return bpf_map_lookup_elem(&iov_stats, &gid);
}

/* Drops the packet, counted against the port it is at. */
static __always_inline int iov_drop(iov_ctx_t *ctx)
{
	struct iov_stats *s = iov_stats_of(iov_cb_get0(ctx));
	iov_trace(ctx, IOV_TR_DROP, 0);
	if (s)
		s->drops++;
	return IOV_SHOT;
}

/*
 * XDP build: hands the packet to the tc build at its current position. The frame goes up the
 * stack unchanged (XDP_PASS) with iov_meta.punt set; the tcx entry on the same netdev resumes
 * by tail-calling slot's tc program (the instance re-runs from its start: every XDP module punts
 * before it changes the frame) or, with slot 0, by iov_continue (leaving through a port the XDP
 * build cannot send to). Nothing is counted twice: counters are bumped after the decision.
 * tc build: never needed (drops, for symmetry).
 */
static __always_inline int iov_punt(iov_ctx_t *ctx, __u32 slot)
{
#ifdef IOV_XDP
	struct iov_meta *m = iov_meta_of(ctx);
	if (!m)
		return XDP_DROP;
	m->punt = IOV_META_PUNT;
	m->slot = slot;
	return XDP_PASS;
#else
	return iov_drop(ctx);
#endif
}

/* Hands the packet to the tc build of the current instance (XDP build; see iov_punt). */
static __always_inline int iov_punt_here(iov_ctx_t *ctx)
{
	return iov_punt(ctx, iov_instance(ctx));
}

/*
 * Moves the packet on from where cb says it is: through the rest of the port's transparent
 * chain, into the owning module, or out to the port's peer. Every step that leaves this
 * program is a tail call or a redirect. A failed tail call (empty slot) drops and counts in the
 * tc build; the XDP build hands the packet to the tc build of that slot instead.
 */
static __always_inline int iov_continue(iov_ctx_t *ctx)
{
	for (int hop = 0; hop < 4; hop++) {
		__u32 gid = iov_cb_get0(ctx);
		__u32 cb1 = iov_cb_get1(ctx);
		__u32 dir = cb1 & 0xff;
		__u32 pos = (cb1 >> 8) & 0xff;
		struct iov_port *p = bpf_map_lookup_elem(&iov_ports, &gid);
		struct iov_stats *s;
		__u32 slot;
		if (!p)
			return IOV_SHOT;
		if (dir == IOV_DIR_IN) {
			if (pos < p->n_in && pos < IOV_CHAIN_MAX) {
				slot = p->in_chain[pos];
				iov_cb_set1(ctx, IOV_DIR_IN | ((pos + 1) << 8));
				bpf_tail_call(ctx, &IOV_PATCH, slot);
				return IOV_IS_XDP ? iov_punt(ctx, slot) : iov_drop(ctx);
			}
			s = iov_stats_of(gid);
			if (s) {
				s->rx_packets++;
				s->rx_bytes += iov_len(ctx);
			}
			slot = gid >> IOV_PORT_BITS;
			iov_cb_set1(ctx, IOV_DIR_IN | (0xff << 8));
			bpf_tail_call(ctx, &IOV_PATCH, slot);
			return IOV_IS_XDP ? iov_punt(ctx, slot) : iov_drop(ctx);
		}
		if (pos < p->n_out && pos < IOV_CHAIN_MAX) {
			slot = p->out_chain[pos];
			iov_cb_set1(ctx, IOV_DIR_OUT | ((pos + 1) << 8));
			bpf_tail_call(ctx, &IOV_PATCH, slot);
			return IOV_IS_XDP ? iov_punt(ctx, slot) : iov_drop(ctx);
		}
#ifdef IOV_XDP
		/* A netdev, or a host without an XDP program on its side: tc sends it. */
		if (p->peer_kind == IOV_PEER_NETDEV ||
		    (p->peer_kind == IOV_PEER_HOST && !(p->flags & IOV_PORT_XDP_TX)))
			return iov_punt(ctx, 0);
#endif
		s = iov_stats_of(gid);
		if (s) {
			s->tx_packets++;
			s->tx_bytes += iov_len(ctx);
			if (IOV_IS_XDP && p->peer_kind != IOV_PEER_MODULE)
				s->xdp_tx++;
		}
		switch (p->peer_kind) {
		case IOV_PEER_HOST:
			iov_trace(ctx, IOV_TR_TO_HOST, p->ifindex);
#ifdef IOV_XDP
			return bpf_redirect(p->ifindex, 0);
#else
			return bpf_redirect_peer(p->ifindex, 0);
#endif
		case IOV_PEER_NETDEV:
			iov_trace(ctx, IOV_TR_TO_NETDEV, p->ifindex);
			return bpf_redirect(p->ifindex, 0);
		case IOV_PEER_MODULE:
			iov_cb_set0(ctx, p->peer_gid);
			iov_cb_set1(ctx, IOV_DIR_IN);
			continue;
		default:
			return iov_drop(ctx);
		}
	}
	return iov_drop(ctx);
}

/* Sends the packet out of local port `port` of the current (standard) instance. */
static __always_inline int iov_out(iov_ctx_t *ctx, __u32 port)
{
	iov_cb_set0(ctx, (iov_cb_get0(ctx) & ~(__u32)IOV_PORT_MASK) | (port & IOV_PORT_MASK));
	iov_cb_set1(ctx, IOV_DIR_OUT);
	iov_trace(ctx, IOV_TR_OUT, 0);
	return iov_continue(ctx);
}

#ifdef IOV_XDP
/*
 * The XDP build floods, reads tags and punts to the controller by handing the packet to the tc
 * build (iov_punt_here, before anything changed the frame); these are never reached there.
 */
static __always_inline int iov_clone_out(iov_ctx_t *ctx, __u32 port)
{
	return -1;
}

static __always_inline int iov_packet_in(iov_ctx_t *ctx, __u32 reason, __u32 arg)
{
	return iov_punt_here(ctx);
}

/*
 * Pushes an 802.1Q tag into the frame: 4 bytes more headroom (bpf_xdp_adjust_head moves the
 * metadata along), the MACs moved to the front, TPID and TCI after them.
 */
static __always_inline long iov_vlan_push(iov_ctx_t *ctx, __u16 vid)
{
	if (bpf_xdp_adjust_head(ctx, -4))
		return -1;
	__u16 *h = iov_data(ctx);
	if ((void *)(h + 8) > iov_data_end(ctx))
		return -1;
#pragma clang loop unroll(full)
	for (int i = 0; i < 6; i++)
		h[i] = h[i + 2];
	h[6] = bpf_htons(ETH_P_8021Q);
	h[7] = bpf_htons(vid & 0xfff);
	return 0;
}

static __always_inline long iov_vlan_pop(iov_ctx_t *ctx)
{
	return -1;
}
#else
/*
 * Sends a copy out of local port `port`: the clone re-enters through the loop device with the
 * port in skb->mark, so it still passes that port's egress chain. The original is untouched.
 */
static __always_inline int iov_clone_out(struct __sk_buff *skb, __u32 port)
{
	__u32 k = IOV_CFG_LOOP_IFINDEX;
	__u32 *loop = bpf_map_lookup_elem(&iov_cfg, &k);
	__u32 gid = (iov_cb_get0(skb) & ~(__u32)IOV_PORT_MASK) | (port & IOV_PORT_MASK);
	__u32 mark = skb->mark;
	int r;
	if (!loop || !*loop)
		return -1;
	iov_trace_at(skb, IOV_TR_CLONE, gid, 0);
	skb->mark = IOV_MARK_MAGIC | (IOV_DIR_OUT << 16) | gid;
	r = bpf_clone_redirect(skb, *loop, BPF_F_INGRESS);
	skb->mark = mark;
	return r;
}

static __always_inline long iov_vlan_push(struct __sk_buff *skb, __u16 vid)
{
	return bpf_skb_vlan_push(skb, bpf_htons(ETH_P_8021Q), vid);
}

static __always_inline long iov_vlan_pop(struct __sk_buff *skb)
{
	return bpf_skb_vlan_pop(skb);
}

/* Hands the packet to the instance's controller (slow path) and consumes it. */
static __always_inline int iov_packet_in(struct __sk_buff *skb, __u32 reason, __u32 arg)
{
	struct iov_pktin *rec = bpf_ringbuf_reserve(&iov_pktin, sizeof(*rec), 0);
	__u32 len = skb->len;
	iov_trace(skb, IOV_TR_PKTIN, reason);
	if (!rec)
		return iov_drop(skb);
	if (len > IOV_PKTIN_MAX)
		len = IOV_PKTIN_MAX;
	rec->instance = iov_cb_get0(skb) >> IOV_PORT_BITS;
	rec->gid = iov_cb_get0(skb);
	rec->reason = reason;
	rec->arg = arg;
	rec->len = len;
	rec->vlan = skb->vlan_present ? (0x10000 | skb->vlan_tci) : 0;
	/*
	 * Clamp to [ETH_HLEN, IOV_PKTIN_MAX] in one register the verifier follows (clang would
	 * otherwise test a copy); a frame shorter than ETH_HLEN fails the load below.
	 */
	__u64 n = len;
	asm volatile("if %[n] <= %[max] goto +1\n\t"
		     "%[n] = %[max]\n\t"
		     "if %[n] >= %[min] goto +1\n\t"
		     "%[n] = %[min]"
		     : [n] "+r"(n)
		     : [max] "i"(IOV_PKTIN_MAX), [min] "i"(ETH_HLEN));
	if (bpf_skb_load_bytes(skb, 0, rec->data, n) < 0) {
		bpf_ringbuf_discard(rec, 0);
		return iov_drop(skb);
	}
	bpf_ringbuf_submit(rec, 0);
	return TC_ACT_SHOT;
}
#endif

#endif
