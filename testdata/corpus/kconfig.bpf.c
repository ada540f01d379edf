// SPDX-License-Identifier: GPL-2.0
/*
 * kconfig.bpf.c: __kconfig externs, resolved by the loader from the kernel's configuration
 * (/proc/config.gz or /boot/config-$(uname -r)) and its release string, stored in .kconfig.
 *
 *   LINUX_KERNEL_VERSION  unsigned int, strong: KERNEL_VERSION(a, b, min(c, 255)) from
 *                         uname -r; 6.18.44 gives (6 << 16) + (18 << 8) + 44 = 397868.
 *   CONFIG_HZ             int, __weak: 250 on this machine (CONFIG_HZ=250).
 *   CONFIG_NR_CPUS        int, strong: 256 here.
 *   CONFIG_BPF_SYSCALL    bool, strong: y -> 1.
 *   CONFIG_NET_CLS_BPF    enum libbpf_tristate, __weak: y -> TRI_YES (1); m would be 2.
 *   CONFIG_LOCALVERSION   char[16], __weak: string option; "-fc-v657" here.
 *   CONFIG_IOVISOR_NO_SUCH_OPTION  int, __weak, missing from every kernel: resolves to 0.
 *
 * Program xdp_kconfig, SEC("xdp"), copies them into the .bss struct `seen`
 * {kernel_version u32, hz s32, nr_cpus s32, bpf_syscall u32, net_cls_bpf u32, missing s32,
 * localversion char[16]} and returns XDP_PASS (2). One run leaves seen = the values above;
 * on another machine they follow that kernel's config (kconfig.expect in expect.json says
 * which option each field mirrors so a test can compute them).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

extern unsigned int LINUX_KERNEL_VERSION __kconfig;
extern int CONFIG_HZ __kconfig __weak;
extern int CONFIG_NR_CPUS __kconfig;
extern _Bool CONFIG_BPF_SYSCALL __kconfig;
extern enum libbpf_tristate CONFIG_NET_CLS_BPF __kconfig __weak;
extern char CONFIG_LOCALVERSION[16] __kconfig __weak;
extern int CONFIG_IOVISOR_NO_SUCH_OPTION __kconfig __weak;

struct seen {
	__u32 kernel_version;
	__s32 hz;
	__s32 nr_cpus;
	__u32 bpf_syscall;
	__u32 net_cls_bpf;
	__s32 missing;
	char localversion[16];
};

struct seen seen;

SEC("xdp")
int xdp_kconfig(struct xdp_md *ctx)
{
	seen.kernel_version = LINUX_KERNEL_VERSION;
	seen.hz = CONFIG_HZ;
	seen.nr_cpus = CONFIG_NR_CPUS;
	seen.bpf_syscall = CONFIG_BPF_SYSCALL;
	seen.net_cls_bpf = CONFIG_NET_CLS_BPF;
	seen.missing = CONFIG_IOVISOR_NO_SUCH_OPTION;
	__builtin_memcpy(seen.localversion, CONFIG_LOCALVERSION, sizeof(seen.localversion));
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
