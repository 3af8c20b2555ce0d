/* Test target for DWARF unwinding, built without frame pointers
 * (cc -O2 -fomit-frame-pointer): an 8-deep chain of functions
 * unwind_f1 -> unwind_f2 -> ... -> unwind_f8, each keeping a stack frame of
 * its own (a local array the compiler cannot drop, work after the call so
 * no call becomes a jump), and a leaf that either burns CPU or blocks.
 *   unwindprog spin [SECONDS]   burn CPU in unwind_f8
 *   unwindprog nap [SECONDS]    block in nanosleep() under unwind_f8
 *   unwindprog leak [SECONDS]   as nap, leaking malloc(1000) before each nap
 * Prints "ready PID" once the chain is entered. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

volatile unsigned long sink;
static int mode_nap, mode_leak;
static double seconds = 30;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

#define NOINLINE __attribute__((noinline, noclone))

NOINLINE unsigned long unwind_f8(unsigned long x)
{
	volatile unsigned long pad[6];
	double end = now() + seconds;
	unsigned long i;

	pad[0] = x;
	printf("ready %d\n", getpid());
	while (now() < end) {
		if (mode_nap) {
			struct timespec ts = { 0, 50 * 1000000L };

			if (mode_leak)
				sink += (unsigned long)malloc(1000);
			nanosleep(&ts, NULL);
		} else {
			for (i = 0; i < 200000; i++)
				sink += i * pad[0];
		}
	}
	return pad[0] + sink;
}

/* Each level: a frame (the volatile array), a call, then work on its result. */
#define LEVEL(n, next)                                                         \
	NOINLINE unsigned long unwind_f##n(unsigned long x)                    \
	{                                                                      \
		volatile unsigned long pad[n + 2];                             \
		pad[0] = x + n;                                                \
		pad[n + 1] = next(pad[0]) * 3;                                 \
		return pad[n + 1] + pad[0];                                    \
	}

LEVEL(7, unwind_f8)
LEVEL(6, unwind_f7)
LEVEL(5, unwind_f6)
LEVEL(4, unwind_f5)
LEVEL(3, unwind_f4)
LEVEL(2, unwind_f3)
LEVEL(1, unwind_f2)

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2 || (strcmp(argv[1], "spin") && strcmp(argv[1], "nap") &&
			 strcmp(argv[1], "leak"))) {
		fprintf(stderr, "usage: unwindprog spin|nap|leak [SECONDS]\n");
		return 2;
	}
	mode_leak = !strcmp(argv[1], "leak");
	mode_nap = mode_leak || !strcmp(argv[1], "nap");
	if (argc > 2)
		seconds = atof(argv[2]);
	sink = unwind_f1(argc);
	return 0;
}
