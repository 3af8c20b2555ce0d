/* Test target for the stack tools (built by the tests with frame pointers:
 * cc -O1 -fno-omit-frame-pointer).  Function names are unique markers.
 *   stackprog spin [SECONDS]   burn CPU in corebpf_spin_marker()
 *   stackprog nap [SECONDS]    block in nanosleep() under corebpf_nap_marker()
 *   stackprog wake [SECONDS]   a child process writes a pipe every 100 ms under
 *                              corebpf_waker_marker(); this one blocks reading it
 *                              under corebpf_wait_marker() (prints "ready PID CHILD")
 *   stackprog addr             print marker addresses, then wait for stdin EOF */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

volatile unsigned long sink;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

__attribute__((noinline)) void corebpf_spin_marker(double seconds)
{
	double end = now() + seconds;
	unsigned long i;

	while (now() < end)
		for (i = 0; i < 1000000; i++)
			sink += i * i;
}

/* nanosleep's libc wrapper keeps no frame of its own, so the frame-pointer
 * walk skips the function that calls it: the marker calls a helper. */
__attribute__((noinline)) void nap_helper(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
	sink++;
}

__attribute__((noinline)) void corebpf_nap_marker(double seconds)
{
	double end = now() + seconds;

	while (now() < end)
		nap_helper(100);
	sink++;
}

/* Helpers for the same reason as nap_helper: read()/write() keep no frame. */
__attribute__((noinline)) void write_helper(int fd)
{
	char c = 'w';

	if (write(fd, &c, 1) != 1)
		_exit(1);
	sink++;
}

__attribute__((noinline)) int read_helper(int fd)
{
	char c;
	int n = read(fd, &c, 1);

	sink++;
	return n;
}

__attribute__((noinline)) void corebpf_waker_marker(int fd, double seconds)
{
	double end = now() + seconds;

	while (now() < end) {
		nap_helper(100);
		write_helper(fd);
	}
	sink++;
}

__attribute__((noinline)) void corebpf_wait_marker(int fd)
{
	while (read_helper(fd) == 1)
		;
	sink++;
}

int main(int argc, char **argv)
{
	double secs = argc > 2 ? atof(argv[2]) : 30;
	char buf[64];

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 1 && !strcmp(argv[1], "spin")) {
		printf("ready %d\n", getpid());
		corebpf_spin_marker(secs);
	} else if (argc > 1 && !strcmp(argv[1], "nap")) {
		printf("ready %d\n", getpid());
		corebpf_nap_marker(secs);
	} else if (argc > 1 && !strcmp(argv[1], "wake")) {
		int fds[2];
		pid_t child;

		if (pipe(fds))
			return 1;
		child = fork();
		if (child == 0) {
			close(fds[0]);
			corebpf_waker_marker(fds[1], secs);
			_exit(0);
		}
		close(fds[1]);
		printf("ready %d %d\n", getpid(), child);
		corebpf_wait_marker(fds[0]);
	} else if (argc > 1 && !strcmp(argv[1], "addr")) {
		printf("%p %p %p\n", (void *)corebpf_spin_marker, (void *)corebpf_nap_marker,
		       (void *)main);
		while (fgets(buf, sizeof(buf), stdin))
			;
	} else {
		fprintf(stderr, "usage: stackprog spin|nap|wake|addr [SECONDS]\n");
		return 2;
	}
	return 0;
}
