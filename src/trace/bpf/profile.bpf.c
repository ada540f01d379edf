// SPDX-License-Identifier: GPL-2.0
/*
 * profile: samples what each CPU runs on a perf event (CPU clock by default) and counts
 * (pid, comm, user stack, kernel stack) tuples; the stacks live in a stack trace map and are
 * symbolized in user space. The idle task (pid 0) is skipped unless include_idle.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "trace.h"

#define MAX_STACK_DEPTH 127

const volatile __u8 include_idle = 0;
const volatile __u8 user_stacks_only = 0;
const volatile __u8 kernel_stacks_only = 0;

struct key_t {
	__u32 pid;
	__u32 tid;
	__s32 user_stack_id;
	__s32 kern_stack_id;
	char comm[TASK_COMM_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 16384);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, MAX_STACK_DEPTH * sizeof(__u64));
} stacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct key_t);
	__type(value, __u64);
} counts SEC(".maps");

__u64 samples = 0;
__u64 missing = 0;

SEC("perf_event")
int do_sample(struct bpf_perf_event_data *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 pid = id >> 32, tid = (__u32)id;
	if (!include_idle && tid == 0)
		return 0;
	if (!current_allowed())
		return 0;
	struct key_t key = {};
	key.pid = pid;
	key.tid = tid;
	bpf_get_current_comm(key.comm, sizeof(key.comm));
	key.user_stack_id = kernel_stacks_only ? -1 : bpf_get_stackid(ctx, &stacks, BPF_F_USER_STACK);
	key.kern_stack_id = user_stacks_only ? -1 : bpf_get_stackid(ctx, &stacks, 0);
	if (key.user_stack_id < 0 && key.kern_stack_id < 0)
		__sync_fetch_and_add(&missing, 1);
	__sync_fetch_and_add(&samples, 1);
	__u64 one = 1;
	__u64 *v = bpf_map_lookup_elem(&counts, &key);
	if (v)
		__sync_fetch_and_add(v, 1);
	else
		bpf_map_update_elem(&counts, &key, &one, BPF_NOEXIST);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
