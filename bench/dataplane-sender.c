// SPDX-License-Identifier: Apache-2.0
/*
 * Packet generator and sink for bench/dataplane.ts, built by the benchmark with the system cc.
 *
 *   dataplane-sender send IFNAME DSTMAC SRCIP DSTIP DPORT SECONDS [BATCH]
 *     Sends one prebuilt 60-byte Ethernet/IPv4/UDP frame (source MAC = IFNAME's) again and
 *     again through an AF_PACKET socket with sendmmsg() in batches (default 256) and
 *     PACKET_QDISC_BYPASS, so the sender spends as little as possible per packet: no UDP
 *     socket, no route or neighbour lookup. Prints {"sent":N,"seconds":S,"cpuNs":T}, T being
 *     its own CPU time (getrusage: user + system, which on this kernel includes the softirq
 *     work done on its way out of the send calls).
 *   dataplane-sender sink DPORT SECONDS
 *     Binds a UDP socket to DPORT with the smallest receive buffer and never reads it, so the
 *     receiver drops at the socket (no ICMP port-unreachable per packet); exits after SECONDS.
 *
 * Run inside the namespace that owns IFNAME (ip netns exec).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint16_t csum(const uint8_t *p, int n)
{
	uint32_t s = 0;
	for (int i = 0; i + 1 < n; i += 2)
		s += (p[i] << 8) | p[i + 1];
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return ~s & 0xffff;
}

static int die(const char *what)
{
	perror(what);
	return 1;
}

static int sink(int argc, char **argv)
{
	if (argc < 4)
		return fprintf(stderr, "usage: sink DPORT SECONDS\n"), 2;
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	int one = 1;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[2])) };
	if (s < 0)
		return die("socket");
	setsockopt(s, SOL_SOCKET, SO_RCVBUF, &one, sizeof(one));
	if (bind(s, (struct sockaddr *)&a, sizeof(a)) < 0)
		return die("bind");
	usleep((useconds_t)(atof(argv[3]) * 1e6));
	return 0;
}

static int send_frames(int argc, char **argv)
{
	if (argc < 8)
		return fprintf(stderr, "usage: send IFNAME DSTMAC SRCIP DSTIP DPORT SECONDS [BATCH]\n"), 2;
	const char *ifname = argv[2];
	double secs = atof(argv[7]);
	int batch = argc > 8 ? atoi(argv[8]) : 256;
	if (batch < 1 || batch > 1024)
		batch = 256;
	int s = socket(AF_PACKET, SOCK_RAW, 0);
	if (s < 0)
		return die("socket(AF_PACKET)");
	struct ifreq ifr = { 0 };
	strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
	if (ioctl(s, SIOCGIFINDEX, &ifr) < 0)
		return die(ifname);
	int ifindex = ifr.ifr_ifindex;
	if (ioctl(s, SIOCGIFHWADDR, &ifr) < 0)
		return die("SIOCGIFHWADDR");
	int one = 1;
	setsockopt(s, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one));
	struct sockaddr_ll ll = { .sll_family = AF_PACKET, .sll_ifindex = ifindex, .sll_halen = 6 };
	if (bind(s, (struct sockaddr *)&ll, sizeof(ll)) < 0)
		return die("bind");

	uint8_t f[60] = { 0 };
	unsigned m[6];
	if (sscanf(argv[3], "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) != 6)
		return fprintf(stderr, "bad MAC %s\n", argv[3]), 2;
	for (int i = 0; i < 6; i++)
		f[i] = m[i];
	memcpy(f + 6, ifr.ifr_hwaddr.sa_data, 6);
	f[12] = 0x08;
	f[13] = 0x00;
	uint8_t *ip = f + 14;
	ip[0] = 0x45;
	ip[3] = 46; /* total length 46: 20 + 8 + 18 */
	ip[8] = 64;
	ip[9] = 17;
	if (inet_pton(AF_INET, argv[4], ip + 12) != 1 || inet_pton(AF_INET, argv[5], ip + 16) != 1)
		return fprintf(stderr, "bad address\n"), 2;
	uint16_t c = csum(ip, 20);
	ip[10] = c >> 8;
	ip[11] = c & 0xff;
	uint8_t *udp = ip + 20;
	int dport = atoi(argv[6]);
	udp[0] = 40000 >> 8;
	udp[1] = 40000 & 0xff;
	udp[2] = dport >> 8;
	udp[3] = dport & 0xff;
	udp[5] = 26; /* UDP length; checksum 0 = none */
	memset(udp + 8, 'a', 18);

	struct mmsghdr *msgs = calloc(batch, sizeof(*msgs));
	struct iovec iov = { .iov_base = f, .iov_len = sizeof(f) };
	for (int i = 0; i < batch; i++) {
		msgs[i].msg_hdr.msg_iov = &iov;
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	unsigned long long sent = 0;
	double t0 = now(), end = t0 + secs, t;
	do {
		for (int k = 0; k < 16; k++) {
			int n = sendmmsg(s, msgs, batch, 0);
			if (n > 0)
				sent += n;
		}
		t = now();
	} while (t < end);
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	printf("{\"sent\":%llu,\"seconds\":%.6f,\"cpuNs\":%.0f}\n", sent, t - t0,
	       (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e9 +
		       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e3);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "send"))
		return send_frames(argc, argv);
	if (argc > 1 && !strcmp(argv[1], "sink"))
		return sink(argc, argv);
	fprintf(stderr, "usage: dataplane-sender send|sink ...\n");
	return 2;
}
