// SPDX-License-Identifier: GPL-2.0
/*
 * core_tp_btf.bpf.c: CO-RE relocations in BTF-enabled tracepoint programs.
 *
 * Built against vmlinux.h, which scripts/build-testdata.sh generates from this machine's
 * /sys/kernel/btf/vmlinux. Uses BPF_CORE_READ (field-offset relocations through pointer
 * chains), bpf_core_field_exists, bpf_core_field_size, bpf_core_type_exists and
 * bpf_core_enum_value, so a loader must apply field, type and enum-value relocations.
 *
 * handle_exec, SEC("tp_btf/sched_process_exec") (args: task, old_pid, linux_binprm): for
 *   every exec, builds struct exec_event {pid = task->tgid, ppid = task->real_parent->tgid,
 *   old_pid, comm (task->comm, 16 bytes), filename (bprm->filename, up to 127 bytes + NUL),
 *   core_flags, comm_size, pidtype_tgid}. It reserves and submits the event into the ring
 *   buffer `events` and stores it in the hash `execs` under key pid (latest exec wins).
 *   core_flags bit 0: bpf_core_field_exists(task->pid) (1 here), bit 1:
 *   bpf_core_type_exists(struct linux_binprm) (1 here), bit 2:
 *   bpf_core_field_exists(struct task_struct___iovisor_fake, no_such_field) (0: a local
 *   flavour with a field the kernel lacks). comm_size = bpf_core_field_size(task->comm) = 16.
 *   pidtype_tgid = bpf_core_enum_value(enum pid_type, PIDTYPE_TGID) = 1 on this kernel.
 *   .bss exec_count += 1.
 * handle_exit, SEC("tp_btf/sched_process_exit") (args: task, group_dead on 6.16+): when the
 *   thread-group leader exits (task->pid == task->tgid), stores exit_code >> 8 in the hash
 *   `exits` under key pid. .bss exit_count += 1 for every exiting thread.
 *
 * Not test-runnable (tracing programs); a test triggers them by running a process, e.g.
 * /bin/true, then expects a ring-buffer record and an `execs` entry whose pid is the child's,
 * whose comm is "true" and whose filename is the exec path, and an `exits` entry for that pid
 * with value 0. Needs kernel BTF (5.5+ for tp_btf; ring buffer 5.8+).
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#define CORE_HAS_PID 1u
#define CORE_HAS_BINPRM 2u
#define CORE_HAS_FAKE 4u

struct exec_event {
	__u32 pid;
	__u32 ppid;
	__u32 old_pid;
	__u32 core_flags;
	__u32 comm_size;
	__u32 pidtype_tgid;
	char comm[16];
	char filename[128];
};

/* A local flavour of task_struct with a field no kernel has: exists() must relocate to 0. */
struct task_struct___iovisor_fake {
	int no_such_field;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct exec_event);
} execs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, __u32);
} exits SEC(".maps");

__u64 exec_count;
__u64 exit_count;

static __always_inline void fill_event(struct exec_event *e, struct task_struct *task,
				       pid_t old_pid, struct linux_binprm *bprm)
{
	const char *filename;
	__u32 flags = 0;

	e->pid = BPF_CORE_READ(task, tgid);
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	e->old_pid = old_pid;
	if (bpf_core_field_exists(task->pid))
		flags |= CORE_HAS_PID;
	if (bpf_core_type_exists(struct linux_binprm))
		flags |= CORE_HAS_BINPRM;
	if (bpf_core_field_exists(struct task_struct___iovisor_fake, no_such_field))
		flags |= CORE_HAS_FAKE;
	e->core_flags = flags;
	e->comm_size = bpf_core_field_size(task->comm);
	e->pidtype_tgid = bpf_core_enum_value(enum pid_type, PIDTYPE_TGID);
	BPF_CORE_READ_STR_INTO(&e->comm, task, comm);
	filename = BPF_CORE_READ(bprm, filename);
	bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), filename);
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(handle_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	struct exec_event *e;
	__u32 pid;

	__sync_fetch_and_add(&exec_count, 1);
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	__builtin_memset(e, 0, sizeof(*e));
	fill_event(e, task, old_pid, bprm);
	/* The key is copied to the stack: the verifier allows one ring-buffer argument per call. */
	pid = e->pid;
	bpf_map_update_elem(&execs, &pid, e, BPF_ANY);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(handle_exit, struct task_struct *task)
{
	__u32 pid = BPF_CORE_READ(task, pid);
	__u32 tgid = BPF_CORE_READ(task, tgid);
	__u32 code;

	__sync_fetch_and_add(&exit_count, 1);
	if (pid != tgid)
		return 0;
	code = (__u32)BPF_CORE_READ(task, exit_code) >> 8;
	bpf_map_update_elem(&exits, &tgid, &code, BPF_ANY);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
