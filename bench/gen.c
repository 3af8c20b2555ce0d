/* Load generator for bench/throughput: as fast as it can,
 *   gen open N PATH [RATE]    open()+close() PATH N times (openat(AT_FDCWD, ...)),
 *                             at most RATE opens a second if RATE is given
 *   gen exec N MARKER         fork+exec ./gen-child MARKER N times (gen-child beside gen)
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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	char self[PATH_MAX], child[PATH_MAX + 16], go;
	long n, i;
	double t0;
	ssize_t len;

	double rate = 0;

	if (argc < 4 || argc > 5 || (strcmp(argv[1], "open") && strcmp(argv[1], "exec"))) {
		fprintf(stderr, "usage: gen open|exec N PATH|MARKER [RATE]\n");
		return 2;
	}
	n = atol(argv[2]);
	if (argc == 5)
		rate = atof(argv[4]);
	if (read(0, &go, 1) < 0)
		return 1;
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
