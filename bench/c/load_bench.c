// SPDX-License-Identifier: Apache-2.0
/*
 * load_bench: the libbpf peer for iovisor's in-process object-load benchmark.
 * Opens, loads and closes OBJECT with libbpf: WARMUP untimed rounds first (steady state, as
 * in a daemon: libbpf's one-off feature probes happen there), then ITER timed rounds.
 * Prints on one JSON line the median and mean wall time of one open+load+close and the median
 * time libbpf spent inside bpf() syscalls in a round:
 *   {"tool":"libbpf","object":"...","iterations":N,"median_ms":...,"mean_ms":...,
 *    "min_ms":...,"kernel_ms":...,"overhead_ms":...,"bpf_calls":...,"syscall_ns":...}
 * overhead_ms is the median over rounds of (wall time - bpf() time) of the same round, so the
 * kernel's variance does not end up in the overhead. verify_ms is the median time a round spent
 * inside BPF_PROG_LOAD (the verifier, the JIT, and libbpf's own probe program: each load starts
 * with one, counted here as the kernel's, not libbpf's) and beyond_verify_ms the median of
 * (wall time - that time): the "load overhead, everything but the kernel's verify time".
 * open_ms, load_ovh_ms and close_ms split one round's overhead by phase (medians): bpf_object__open_file (read and parse, no bpf()),
 * bpf_object__load minus its bpf() time, bpf_object__close (its close() calls included).
 * syscall_ns is the median cost of one raw bpf(BPF_MAP_LOOKUP_ELEM) on a one-entry array map
 * (batches of 10000): the JavaScript side times the same call through its FFI, and the
 * difference is the FFI's own cost per call, which belongs to iovisor's overhead, not the kernel.
 * The bpf() time is measured by interposing syscall(2): libbpf issues every bpf() through
 * libc's syscall(), and a definition in the executable takes precedence over libc's for
 * libbpf.so. Each bpf() call is timed with two clock_gettime (vDSO, ~20 ns each).
 * Usage: load_bench OBJECT [iterations=50] [warmup=200]
 */
#define _GNU_SOURCE
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

typedef long (*syscall_fn)(long, ...);
static syscall_fn real_syscall;
static double bpf_ms;
static int bpf_calls;
/* Time inside BPF_PROG_LOAD alone. */
static double prog_load_ms;

/* Forwards every syscall; bpf() calls are timed. Six arguments cover every Linux syscall. */
long syscall(long nr, ...)
{
	va_list ap;
	long a[6];

	va_start(ap, nr);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	if (!real_syscall)
		real_syscall = (syscall_fn)dlsym(RTLD_NEXT, "syscall");
	if (nr != SYS_bpf)
		return real_syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
	double t0 = now_ms();
	long r = real_syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);

	double dt = now_ms() - t0;

	bpf_ms += dt;
	bpf_calls++;
	if (a[0] == BPF_PROG_LOAD)
		prog_load_ms += dt;
	return r;
}

static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	(void)fmt;
	(void)ap;
	return 0;
}

/* Wall time of the last load_once's phases; the load phase without its bpf() time. */
static double phase_open, phase_load, phase_close;

static void load_once(const char *path)
{
	double t0 = now_ms();
	struct bpf_object *obj = bpf_object__open_file(path, NULL);
	double t1 = now_ms();

	if (!obj) {
		fprintf(stderr, "load_bench: open %s failed\n", path);
		exit(1);
	}
	double k0 = bpf_ms;

	if (bpf_object__load(obj)) {
		fprintf(stderr, "load_bench: load %s failed\n", path);
		exit(1);
	}
	double t2 = now_ms();

	bpf_object__close(obj);
	double t3 = now_ms();

	phase_open = t1 - t0;
	phase_load = (t2 - t1) - (bpf_ms - k0);
	phase_close = t3 - t2;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *xs, int n)
{
	qsort(xs, n, sizeof(*xs), cmp);
	return n % 2 ? xs[n / 2] : (xs[n / 2 - 1] + xs[n / 2]) / 2;
}

/* Median ns of one raw bpf(BPF_MAP_LOOKUP_ELEM), bypassing the timing in syscall() above. */
static double syscall_ns(void)
{
	double batches[15];
	union bpf_attr attr;
	uint32_t key = 0;
	uint64_t value = 0;
	int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "calib", 4, 8, 1, NULL);

	if (fd < 0) {
		fprintf(stderr, "load_bench: create calibration map failed\n");
		exit(1);
	}
	if (!real_syscall)
		real_syscall = (syscall_fn)dlsym(RTLD_NEXT, "syscall");
	memset(&attr, 0, sizeof(attr));
	attr.map_fd = fd;
	attr.key = (uint64_t)(uintptr_t)&key;
	attr.value = (uint64_t)(uintptr_t)&value;
	for (int b = 0; b < 15; b++) {
		double t0 = now_ms();

		for (int i = 0; i < 10000; i++)
			if (real_syscall(SYS_bpf, BPF_MAP_LOOKUP_ELEM, &attr, sizeof(attr)) != 0)
				exit(1);
		batches[b] = (now_ms() - t0) * 1e6 / 10000;
	}
	close(fd);
	return median(batches, 15);
}

int main(int argc, char **argv)
{
	int iters = argc > 2 ? atoi(argv[2]) : 50;
	int warmup = argc > 3 ? atoi(argv[3]) : 200;
	double total = 0, min = 1e18;

	if (argc < 2 || iters <= 0 || warmup < 0) {
		fprintf(stderr, "usage: %s OBJECT [iterations] [warmup]\n", argv[0]);
		return 2;
	}
	double *walls = calloc(iters, sizeof(double));
	double *kernels = calloc(iters, sizeof(double));
	double *overheads = calloc(iters, sizeof(double));
	double *opens = calloc(iters, sizeof(double));
	double *loads = calloc(iters, sizeof(double));
	double *closes = calloc(iters, sizeof(double));
	double *verifies = calloc(iters, sizeof(double));
	double *beyonds = calloc(iters, sizeof(double));

	if (!walls || !kernels || !overheads || !opens || !loads || !closes || !verifies || !beyonds)
		return 1;
	libbpf_set_print(quiet);
	for (int i = 0; i < warmup; i++)
		load_once(argv[1]);
	int calls0 = bpf_calls;

	for (int i = 0; i < iters; i++) {
		double k0 = bpf_ms;
		double v0 = prog_load_ms;
		double t0 = now_ms();

		load_once(argv[1]);
		double dt = now_ms() - t0;

		walls[i] = dt;
		kernels[i] = bpf_ms - k0;
		overheads[i] = dt - kernels[i];
		verifies[i] = prog_load_ms - v0;
		beyonds[i] = dt - verifies[i];
		opens[i] = phase_open;
		loads[i] = phase_load;
		closes[i] = phase_close;
		total += dt;
		if (dt < min)
			min = dt;
	}
	double calls = (double)(bpf_calls - calls0) / iters;

	double calib = syscall_ns();

	printf("{\"tool\":\"libbpf\",\"object\":\"%s\",\"iterations\":%d,\"median_ms\":%.4f,"
	       "\"mean_ms\":%.4f,\"min_ms\":%.4f,\"kernel_ms\":%.4f,\"overhead_ms\":%.4f,"
	       "\"bpf_calls\":%.1f,\"syscall_ns\":%.1f,\"open_ms\":%.4f,\"load_ovh_ms\":%.4f,"
	       "\"close_ms\":%.4f,\"verify_ms\":%.4f,\"beyond_verify_ms\":%.4f}\n",
	       argv[1], iters, median(walls, iters), total / iters, min, median(kernels, iters),
	       median(overheads, iters), calls, calib, median(opens, iters), median(loads, iters),
	       median(closes, iters), median(verifies, iters), median(beyonds, iters));
	return 0;
}
