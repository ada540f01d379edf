/** C workloads the tracing tests compile with gcc: each waits for a line on stdin, then works. */

/** N getppid() calls, then M opens of a missing path, then exits. argv: N M PATH. */
export const SYSCALLS_C = `
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/syscall.h>
int main(int argc, char **argv) {
  char line[8];
  if (!fgets(line, sizeof line, stdin)) return 1;
  int n = atoi(argv[1]), m = atoi(argv[2]);
  for (int i = 0; i < n; i++) syscall(SYS_getppid);
  for (int i = 0; i < m; i++) { int fd = open(argv[3], O_RDONLY); if (fd >= 0) close(fd); }
  return 0;
}`;

/** Calls work() N times; each sleeps >= 100 us. argv: N. */
export const FUNC_C = `
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
__attribute__((noinline)) int work(int i) {
  struct timespec ts = { 0, 100000 };
  nanosleep(&ts, 0);
  return i * 2;
}
int main(int argc, char **argv) {
  char line[8];
  if (!fgets(line, sizeof line, stdin)) return 1;
  int n = atoi(argv[1]), sum = 0;
  for (int i = 0; i < n; i++) sum += work(i);
  printf("%d\\n", sum);
  return 0;
}`;

/** Spins in spin_here() until stdin closes (a reader thread flips the flag). */
export const SPIN_C = `
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>
static volatile int stop;
static void *reader(void *a) { char b[8]; while (read(0, b, sizeof b) > 0) {} stop = 1; return a; }
__attribute__((noinline)) unsigned long spin_here(void) {
  unsigned long x = 0;
  while (!stop) x += 1;
  return x;
}
int main(void) {
  pthread_t t;
  pthread_create(&t, 0, reader, 0);
  printf("%lu\\n", spin_here());
  return 0;
}`;

/** Burns CPU for argv[1] milliseconds, then exits. */
export const BUSY_C = `
#include <stdlib.h>
#include <time.h>
int main(int argc, char **argv) {
  struct timespec a, b;
  long ms = atol(argv[1]);
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (;;) {
    clock_gettime(CLOCK_MONOTONIC, &b);
    if ((b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000 >= ms) return 0;
  }
}`;
