// SPDX-License-Identifier: Apache-2.0
/*
 * ringbuf_consumer: the libbpf peer for iovisor's ring-buffer reader benchmark.
 *
 * Opens a BPF_MAP_TYPE_RINGBUF pinned in bpffs, consumes records with libbpf's ring_buffer
 * API (epoll + mmap) until a record count or a duration is reached, and prints one JSON line:
 *   {"tool":"libbpf-ringbuf","events":N,"bytes":B,"seconds":S,"events_per_sec":R}
 * Usage: ringbuf_consumer <pinned-map-path> [--count N] [--duration-ms MS] [--dump]
 * With neither --count nor --duration-ms it stops after 10 s. --dump prints each record as
 * {"len":L,"hex":"..."} on its own line before the summary (used to check corpus records).
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static uint64_t events, bytes, want_count;
static int dump;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static double now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int on_record(void *ctx, void *data, size_t len)
{
	(void)ctx;
	events++;
	bytes += len;
	if (dump) {
		const unsigned char *p = data;

		printf("{\"len\":%zu,\"hex\":\"", len);
		for (size_t i = 0; i < len; i++)
			printf("%02x", p[i]);
		printf("\"}\n");
	}
	/* A positive return stops ring_buffer__poll/consume early once the count is reached. */
	return want_count && events >= want_count ? 1 : 0;
}

static void usage(const char *argv0)
{
	fprintf(stderr, "usage: %s <pinned-ringbuf> [--count N] [--duration-ms MS] [--dump]\n",
		argv0);
	exit(2);
}

int main(int argc, char **argv)
{
	uint64_t duration_ms = 0;
	struct ring_buffer *rb;
	double start, elapsed;
	int fd, err;

	if (argc < 2)
		usage(argv[0]);
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--count") && i + 1 < argc)
			want_count = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--duration-ms") && i + 1 < argc)
			duration_ms = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--dump"))
			dump = 1;
		else
			usage(argv[0]);
	}
	if (!want_count && !duration_ms)
		duration_ms = 10000;

	fd = bpf_obj_get(argv[1]);
	if (fd < 0) {
		fprintf(stderr, "ringbuf_consumer: open pinned map %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	rb = ring_buffer__new(fd, on_record, NULL, NULL);
	if (!rb) {
		fprintf(stderr, "ringbuf_consumer: ring_buffer__new on %s: %s\n", argv[1],
			strerror(errno));
		return 1;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	start = now_sec();
	while (!stop) {
		err = ring_buffer__poll(rb, 100);
		if (err < 0 && err != -EINTR) {
			fprintf(stderr, "ringbuf_consumer: ring_buffer__poll: %s\n", strerror(-err));
			ring_buffer__free(rb);
			return 1;
		}
		if (want_count && events >= want_count)
			break;
		if (duration_ms && (now_sec() - start) * 1000.0 >= (double)duration_ms)
			break;
	}
	elapsed = now_sec() - start;
	ring_buffer__free(rb);
	close(fd);

	printf("{\"tool\":\"libbpf-ringbuf\",\"events\":%llu,\"bytes\":%llu,\"seconds\":%.6f,"
	       "\"events_per_sec\":%.1f}\n",
	       (unsigned long long)events, (unsigned long long)bytes, elapsed,
	       elapsed > 0 ? events / elapsed : 0.0);
	return 0;
}
