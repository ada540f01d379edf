/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared pieces of the tracing tools' eBPF programs: the process filters set from user space
 * through .rodata before load, and the log2 bucketing libbpf-tools' histograms use.
 */
#ifndef IOVISOR_TRACE_H
#define IOVISOR_TRACE_H

#define TASK_COMM_LEN 16
#define MAX_SLOTS 27

/* Filters: 0 / empty means "everything". Set with setVariable() before load. */
const volatile __u32 targ_tgid = 0;
const volatile __u32 targ_tid = 0;
const volatile char targ_comm[TASK_COMM_LEN] = {};
const volatile __u8 filter_comm = 0;

static __always_inline int comm_allowed(const char *comm)
{
	if (!filter_comm)
		return 1;
#pragma unroll
	for (int i = 0; i < TASK_COMM_LEN; i++) {
		if (comm[i] != targ_comm[i])
			return 0;
		if (comm[i] == 0)
			return 1;
	}
	return 1;
}

/* Whether the current task passes the pid/tid filters (comm is checked where it is known). */
static __always_inline int task_allowed(__u64 pid_tgid)
{
	__u32 tgid = pid_tgid >> 32, tid = (__u32)pid_tgid;
	if (targ_tgid && tgid != targ_tgid)
		return 0;
	if (targ_tid && tid != targ_tid)
		return 0;
	return 1;
}

static __always_inline int current_allowed(void)
{
	if (!task_allowed(bpf_get_current_pid_tgid()))
		return 0;
	if (filter_comm) {
		char comm[TASK_COMM_LEN];
		bpf_get_current_comm(comm, sizeof(comm));
		return comm_allowed(comm);
	}
	return 1;
}

/*
 * Ring-buffer wake-up policy. By default every bpf_ringbuf_submit/output wakes a consumer that
 * has caught up (an irq_work on the producing CPU, then an IPI to the sleeping reader), so
 * under a flood with a fast reader every record pays for a wake-up. Records are instead
 * submitted with BPF_RB_NO_WAKEUP, and a wake-up is forced only when RB_WAKE_BYTES are
 * waiting or RB_WAKE_NS passed since the last forced one: a flood costs a few hundred wake-ups
 * a second, a lone event still wakes the reader at once. A record that missed a wake-up
 * waits at most for the next one or the reader's poll timeout (the JS reader polls every
 * 100 ms), which bounds its delay.
 */
#define RB_WAKE_BYTES (64 * 1024)
#define RB_WAKE_NS (2 * 1000 * 1000ULL)

__u64 rb_last_wake = 0;

static __always_inline __u64 rb_wake_flags(void *ringbuf)
{
	__u64 now = bpf_ktime_get_ns();
	if (now - rb_last_wake >= RB_WAKE_NS ||
	    bpf_ringbuf_query(ringbuf, BPF_RB_AVAIL_DATA) >= RB_WAKE_BYTES) {
		rb_last_wake = now;
		return BPF_RB_FORCE_WAKEUP;
	}
	return BPF_RB_NO_WAKEUP;
}

static __always_inline __u64 log2_u32(__u32 v)
{
	__u32 shift, r;
	r = (v > 0xFFFF) << 4; v >>= r;
	shift = (v > 0xFF) << 3; v >>= shift; r |= shift;
	shift = (v > 0xF) << 2; v >>= shift; r |= shift;
	shift = (v > 0x3) << 1; v >>= shift; r |= shift;
	r |= (v >> 1);
	return r;
}

static __always_inline __u64 log2l(__u64 v)
{
	__u32 hi = v >> 32;
	if (hi)
		return log2_u32(hi) + 32;
	return log2_u32(v);
}

/* A log2 histogram with a running count and sum (user space draws it). */
struct hist {
	__u32 slots[MAX_SLOTS];
	__u32 pad;
	__u64 count;
	__u64 sum;
	char comm[TASK_COMM_LEN];
};

static __always_inline void hist_add(struct hist *h, __u64 value)
{
	__u64 slot = log2l(value);
	if (slot >= MAX_SLOTS)
		slot = MAX_SLOTS - 1;
	__sync_fetch_and_add(&h->slots[slot], 1);
	__sync_fetch_and_add(&h->count, 1);
	__sync_fetch_and_add(&h->sum, value);
}

#endif
