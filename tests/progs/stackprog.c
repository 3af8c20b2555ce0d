/* Test target for the stack tools (built by the tests with frame pointers:
 * cc -O1 -fno-omit-frame-pointer).  Function names are unique markers.
 *   stackprog spin [SECONDS]   burn CPU in corebpf_spin_marker()
 *   stackprog nap [SECONDS]    block in nanosleep() under corebpf_nap_marker()
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
	} else if (argc > 1 && !strcmp(argv[1], "addr")) {
		printf("%p %p %p\n", (void *)corebpf_spin_marker, (void *)corebpf_nap_marker,
		       (void *)main);
		while (fgets(buf, sizeof(buf), stdin))
			;
	} else {
		fprintf(stderr, "usage: stackprog spin|nap|addr [SECONDS]\n");
		return 2;
	}
	return 0;
}
