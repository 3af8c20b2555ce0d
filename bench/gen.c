/* Load generator for bench/throughput: as fast as it can,
 *   gen open N PATH [RATE]    open()+close() PATH N times (openat(AT_FDCWD, ...)),
 *                             at most RATE opens a second if RATE is given
 *   gen exec N MARKER         fork+exec ./gen-child MARKER N times (gen-child beside gen)
 *   gen mix N FILE            a mixed workload, N rounds of: a pipe ping-pong with a
 *                             child (wakeups, context switches), open+read+close of
 *                             FILE, ~10 us of computation; every 32nd round a 4 KiB
 *                             O_DIRECT write to FILE (block I/O when FILE is on a disk)
 * It waits for one byte (or EOF) on stdin before starting, so the caller can
 * start the tracer first, then prints "SECONDS" (wall time of the loop) on
 * stdout.  Built by bench/throughput and the soak test with cc -O2. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static volatile uint64_t sink;

static int mix(long n, const char *file)
{
	int to_child[2], to_parent[2], dfd;
	char buf[512], c = 'x';
	void *block;
	double t0;
	pid_t pid;
	long i;

	if (pipe(to_child) || pipe(to_parent) || posix_memalign(&block, 4096, 4096))
		return 1;
	memset(block, 'b', 4096);
	dfd = open(file, O_WRONLY | O_CREAT | O_DIRECT, 0600);
	if (dfd < 0)        /* no O_DIRECT here (tmpfs): buffered writes */
		dfd = open(file, O_WRONLY | O_CREAT, 0600);
	if (dfd < 0) {
		perror(file);
		return 1;
	}
	pid = fork();
	if (pid == 0) {
		close(to_child[1]);
		close(to_parent[0]);
		while (read(to_child[0], &c, 1) == 1)
			if (write(to_parent[1], &c, 1) != 1)
				break;
		_exit(0);
	}
	close(to_child[0]);
	close(to_parent[1]);
	t0 = now();
	for (i = 0; i < n; i++) {
		uint64_t h = i;
		int fd, k;

		if (write(to_child[1], &c, 1) != 1 || read(to_parent[0], &c, 1) != 1)
			return 1;
		fd = open(file, O_RDONLY);
		if (fd < 0 || read(fd, buf, sizeof(buf)) < 0)
			return 1;
		close(fd);
		for (k = 0; k < 4000; k++)
			h = h * 6364136223846793005ULL + 1442695040888963407ULL;
		sink = h;
		if (i % 32 == 0 && pwrite(dfd, block, 4096, (i / 32 % 256) * 4096) != 4096)
			return 1;
	}
	printf("%.6f\n", now() - t0);
	fflush(stdout);
	close(to_child[1]);
	waitpid(pid, NULL, 0);
	close(dfd);
	return 0;
}

int main(int argc, char **argv)
{
	char self[PATH_MAX], child[PATH_MAX + 16], go;
	long n, i;
	double t0;
	ssize_t len;

	double rate = 0;

	if (argc < 4 || argc > 5 ||
	    (strcmp(argv[1], "open") && strcmp(argv[1], "exec") && strcmp(argv[1], "mix"))) {
		fprintf(stderr, "usage: gen open|exec|mix N PATH|MARKER|FILE [RATE]\n");
		return 2;
	}
	n = atol(argv[2]);
	if (argc == 5)
		rate = atof(argv[4]);
	if (read(0, &go, 1) < 0)
		return 1;
	if (!strcmp(argv[1], "mix"))
		return mix(n, argv[3]);
	if (!strcmp(argv[1], "open")) {
		t0 = now();
		for (i = 0; i < n; i++) {
			int fd = openat(AT_FDCWD, argv[3], O_RDONLY);

			if (fd < 0) {
				perror(argv[3]);
				return 1;
			}
			close(fd);
			if (rate > 0 && i % 100 == 99) {
				double ahead = t0 + (i + 1) / rate - now();

				if (ahead > 0) {
					struct timespec ts = { (time_t)ahead,
							       (long)((ahead - (time_t)ahead) * 1e9) };
					nanosleep(&ts, NULL);
				}
			}
		}
	} else {
		len = readlink("/proc/self/exe", self, sizeof(self) - 1);
		if (len < 0)
			return 1;
		self[len] = 0;
		snprintf(child, sizeof(child), "%s-child", self);
		t0 = now();
		for (i = 0; i < n; i++) {
			char *args[] = { child, argv[3], NULL };
			int status;
			pid_t pid = vfork();

			if (pid == 0) {
				execv(child, args);
				_exit(127);
			}
			if (pid < 0 || waitpid(pid, &status, 0) < 0 || status) {
				fprintf(stderr, "gen: child failed\n");
				return 1;
			}
		}
	}
	printf("%.6f\n", now() - t0);
	return 0;
}
