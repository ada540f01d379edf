// SPDX-License-Identifier: GPL-2.0
/*
 * passthrough: a transparent IO module that does nothing but move the packet on. The
 * data-plane benchmark stacks it on a port to measure what the patch panel itself costs per
 * extra module in a chain (one tail call, one iov_ports lookup), apart from any module's work.
 * Built by bench/dataplane.ts (not shipped).
 */
#include "../src/dataplane/bpf/iov.h"

SEC(IOV_SEC)
int passthrough(iov_ctx_t *ctx)
{
	return iov_continue(ctx);
}

char LICENSE[] SEC("license") = "GPL";
