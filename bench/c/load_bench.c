// SPDX-License-Identifier: Apache-2.0
/*
 * load_bench: the libbpf peer for iovisor's in-process object-load benchmark.
 * Opens, loads and closes OBJECT with libbpf ITER times and prints the mean wall time of one
 * open+load+close on one JSON line:
 *   {"tool":"libbpf","object":"...","iterations":N,"mean_ms":...,"min_ms":...}
 * Usage: load_bench OBJECT [iterations=20]
 */
#include <bpf/libbpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	(void)fmt;
	(void)ap;
	return 0;
}

int main(int argc, char **argv)
{
	int iters = argc > 2 ? atoi(argv[2]) : 20;
	double total = 0, min = 1e18;

	if (argc < 2 || iters <= 0) {
		fprintf(stderr, "usage: %s OBJECT [iterations]\n", argv[0]);
		return 2;
	}
	libbpf_set_print(quiet);
	for (int i = 0; i < iters; i++) {
		double t0 = now_ms();
		struct bpf_object *obj = bpf_object__open_file(argv[1], NULL);

		if (!obj) {
			fprintf(stderr, "load_bench: open %s failed\n", argv[1]);
			return 1;
		}
		if (bpf_object__load(obj)) {
			fprintf(stderr, "load_bench: load %s failed\n", argv[1]);
			return 1;
		}
		bpf_object__close(obj);
		double dt = now_ms() - t0;

		total += dt;
		if (dt < min)
			min = dt;
	}
	printf("{\"tool\":\"libbpf\",\"object\":\"%s\",\"iterations\":%d,\"mean_ms\":%.4f,\"min_ms\":%.4f}\n",
	       argv[1], iters, total / iters, min);
	return 0;
}
