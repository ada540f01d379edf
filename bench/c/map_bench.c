// SPDX-License-Identifier: Apache-2.0
/*
 * map_bench: the libbpf peer for iovisor's map-operation benchmark.
 *
 * Creates a BPF_MAP_TYPE_HASH (key u32, value u64, N entries) and measures, from user space:
 *   update        bpf_map_update_elem, one key per call, keys 0..N-1 cycled
 *   lookup        bpf_map_lookup_elem, one key per call, keys 0..N-1 cycled
 *   batch_update  bpf_map_update_batch over all N keys per call
 *   batch_lookup  bpf_map_lookup_batch walking the whole map per pass
 * Each is timed with CLOCK_MONOTONIC over ITER operations (single) or ITER / N full passes
 * (batch, at least one), and reported as operations (elements) per second on one JSON line:
 *   {"tool":"libbpf","map":"hash","entries":N,"iterations":ITER,"batch_size":B,
 *    "update_ops_per_sec":...,"lookup_ops_per_sec":...,
 *    "batch_update_ops_per_sec":...,"batch_lookup_ops_per_sec":...}
 * Usage: map_bench [entries=65536] [iterations=1000000] [batch_size=entries]
 * Needs root (or CAP_BPF); batch operations need kernel 5.6+.
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "map_bench: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(1);
}

static uint64_t arg(int argc, char **argv, int i, uint64_t def)
{
	char *end;
	uint64_t v;

	if (argc <= i)
		return def;
	v = strtoull(argv[i], &end, 0);
	if (*end || v == 0) {
		fprintf(stderr, "usage: %s [entries] [iterations] [batch_size] (positive integers)\n",
			argv[0]);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	uint32_t entries = (uint32_t)arg(argc, argv, 1, 65536);
	uint64_t iterations = arg(argc, argv, 2, 1000000);
	uint32_t batch = (uint32_t)arg(argc, argv, 3, entries);
	double t, update, lookup, bupdate, blookup;
	uint64_t passes, done, value;
	uint32_t *keys, *out_keys, key, cursor;
	uint64_t *values, *out_values;
	int fd, err;

	if (batch > entries)
		batch = entries;
	LIBBPF_OPTS(bpf_map_create_opts, copts);
	fd = bpf_map_create(BPF_MAP_TYPE_HASH, "map_bench", sizeof(uint32_t), sizeof(uint64_t),
			    entries, &copts);
	if (fd < 0)
		die("create hash map", errno);

	keys = calloc(entries, sizeof(*keys));
	values = calloc(entries, sizeof(*values));
	out_keys = calloc(entries, sizeof(*out_keys));
	out_values = calloc(entries, sizeof(*out_values));
	if (!keys || !values || !out_keys || !out_values)
		die("allocate buffers", ENOMEM);
	for (uint32_t i = 0; i < entries; i++) {
		keys[i] = i;
		values[i] = (uint64_t)i * 3;
	}

	/* Single-element updates: cycles over the keys, so the map fills then rewrites in place. */
	t = now_sec();
	for (uint64_t i = 0; i < iterations; i++) {
		key = (uint32_t)(i % entries);
		value = i;
		err = bpf_map_update_elem(fd, &key, &value, BPF_ANY);
		if (err)
			die("bpf_map_update_elem", errno);
	}
	update = iterations / (now_sec() - t);

	t = now_sec();
	for (uint64_t i = 0; i < iterations; i++) {
		key = (uint32_t)(i % entries);
		err = bpf_map_lookup_elem(fd, &key, &value);
		if (err)
			die("bpf_map_lookup_elem", errno);
	}
	lookup = iterations / (now_sec() - t);

	/* Batch: whole passes over all keys, enough passes to cover roughly ITER elements. */
	passes = iterations / entries;
	if (passes == 0)
		passes = 1;
	LIBBPF_OPTS(bpf_map_batch_opts, bopts, .elem_flags = 0, .flags = 0);

	t = now_sec();
	for (uint64_t p = 0; p < passes; p++) {
		for (uint32_t off = 0; off < entries; off += batch) {
			uint32_t count = entries - off < batch ? entries - off : batch;

			err = bpf_map_update_batch(fd, keys + off, values + off, &count, &bopts);
			if (err)
				die("bpf_map_update_batch", errno);
		}
	}
	bupdate = (double)passes * entries / (now_sec() - t);

	t = now_sec();
	for (uint64_t p = 0; p < passes; p++) {
		void *in = NULL;

		done = 0;
		for (;;) {
			uint32_t count = batch;

			err = bpf_map_lookup_batch(fd, in, &cursor, out_keys, out_values, &count, &bopts);
			done += count;
			if (err && errno == ENOENT)
				break;
			if (err)
				die("bpf_map_lookup_batch", errno);
			in = &cursor;
		}
		if (done != entries) {
			fprintf(stderr, "map_bench: lookup_batch pass saw %llu of %u entries\n",
				(unsigned long long)done, entries);
			return 1;
		}
	}
	blookup = (double)passes * entries / (now_sec() - t);

	printf("{\"tool\":\"libbpf\",\"map\":\"hash\",\"entries\":%u,\"iterations\":%llu,"
	       "\"batch_size\":%u,\"batch_passes\":%llu,\"update_ops_per_sec\":%.0f,"
	       "\"lookup_ops_per_sec\":%.0f,\"batch_update_ops_per_sec\":%.0f,"
	       "\"batch_lookup_ops_per_sec\":%.0f}\n",
	       entries, (unsigned long long)iterations, batch, (unsigned long long)passes, update,
	       lookup, bupdate, blookup);
	close(fd);
	free(keys);
	free(values);
	free(out_keys);
	free(out_values);
	return 0;
}
