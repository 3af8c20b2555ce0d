/* A target for the user-space probe tests: USDT probes where no packaged
 * program has them (MySQL's query__start/query__done, with a semaphore on
 * query__start), a MySQL-5.7-style dispatch_command() for dbslower -x,
 * pthread_create() of a named start routine, malloc() of a known size.
 *
 *   usdt_target mysql MARKER SLEEP_MS   a "query" containing MARKER every 100 ms
 *   usdt_target threads                 a thread running corebpf_worker every 100 ms
 *   usdt_target malloc SIZE             malloc(SIZE) + free every 10 ms
 *   usdt_target pycalls                 CPython's function__entry/function__return
 *                                       probes (file, function, line) every 20 ms:
 *                                       ucalls/uflow -l python where Debian's
 *                                       Python has none (3.12 dropped them)
 *   usdt_target burst N SIZE MARKER     prints "ready"; then per line read on stdin,
 *                                       N times: malloc(SIZE) + free, memccpy(),
 *                                       corebpf_nap(2 ms), corebpf_recurse(3)
 *                                       (4 nested calls, 1 ms nap), the USDT probe
 *                                       corebpf:burst (arguments of every operand
 *                                       kind: registers, stack and global memory,
 *                                       a constant; the last one is the probe's
 *                                       semaphore, non-zero while traced); then
 *                                       prints "done"
 * Build: cc -O1 -g -pthread -o usdt_target usdt_target.c (needs <sys/sdt.h>,
 * Debian package systemtap-sdt-dev). */
#define _SDT_HAS_SEMAPHORES 1
#include <sys/sdt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

unsigned short mysql_query__start_semaphore __attribute__((section(".probes"), used));
unsigned short mysql_query__done_semaphore __attribute__((section(".probes"), used));
unsigned short corebpf_burst_semaphore __attribute__((section(".probes"), used));
unsigned short python_function__entry_semaphore __attribute__((section(".probes"), used));
unsigned short python_function__return_semaphore __attribute__((section(".probes"), used));

#define COM_QUERY 3

struct COM_DATA { const char *query; unsigned int length; };

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* MySQL 5.7's mangled name: dispatch_command(THD*, COM_DATA const*, enum_server_command) */
int dispatch_command(void *thd, const struct COM_DATA *com, int command)
	__asm__("_Z16dispatch_commandP3THDPK8COM_DATA19enum_server_command");
__attribute__((noinline)) int dispatch_command(void *thd, const struct COM_DATA *com,
					       int command)
{
	long ms = (long)thd;

	if (command == COM_QUERY && mysql_query__start_semaphore)
		STAP_PROBE5(mysql, query__start, com->query, 1, "db", "user", "host");
	sleep_ms(ms);
	STAP_PROBE1(mysql, query__done, 0);
	return 0;
}

__attribute__((noinline)) void *corebpf_worker(void *arg)
{
	return arg;
}

int corebpf_counter = 1000;		/* a global: an `sym(%rip)` USDT operand */

__attribute__((noinline)) int corebpf_nap(long ms)
{
	sleep_ms(ms);
	return (int)ms;
}

/* recursion for funclatency -l: depth+1 nested calls, 1 ms at the bottom */
__attribute__((noinline)) int corebpf_recurse(int depth)
{
	if (depth <= 0)
		return corebpf_nap(1);
	return corebpf_recurse(depth - 1) + 1;
}

/* called through a pointer: the compiler cannot expand it inline */
void *(*volatile corebpf_memccpy)(void *, const void *, int, size_t) = memccpy;

static void burst(int n, size_t size, const char *marker)
{
	int i;

	for (i = 1; i <= n; i++) {
		void *volatile p = malloc(size);
		volatile short local = (short)(-3 * i);	/* lives on the stack */
		char buf[8];

		free(p);
		corebpf_memccpy(buf, "abc", 'c', 3);
		corebpf_nap(2);
		corebpf_recurse(3);
		corebpf_counter++;
		STAP_PROBE8(corebpf, burst, i, -(long)i, corebpf_counter, local, marker,
			    (unsigned char)(250 + i % 5), 7, corebpf_burst_semaphore);
	}
}

int main(int argc, char **argv)
{
	if (argc >= 4 && !strcmp(argv[1], "mysql")) {
		char query[200];
		long ms = atol(argv[3]);
		struct COM_DATA com = { query, 0 };

		snprintf(query, sizeof(query), "SELECT '%s', SLEEP(%ld)", argv[2], ms);
		com.length = strlen(query);
		for (;;) {
			dispatch_command((void *)ms, &com, COM_QUERY);
			dispatch_command((void *)0, &com, 1);	/* not a query */
			sleep_ms(100);
		}
	}
	if (argc >= 2 && !strcmp(argv[1], "threads")) {
		for (;;) {
			pthread_t t;

			if (pthread_create(&t, NULL, corebpf_worker, NULL) == 0)
				pthread_join(t, NULL);
			sleep_ms(100);
		}
	}
	if (argc >= 3 && !strcmp(argv[1], "malloc")) {
		size_t size = atol(argv[2]);

		for (;;) {
			void *volatile p = malloc(size);

			free(p);
			sleep_ms(10);
		}
	}
	if (argc >= 2 && !strcmp(argv[1], "pycalls")) {
		for (;;) {
			/* as CPython: fired only while a tracer holds the semaphore */
			if (python_function__entry_semaphore)
				STAP_PROBE3(python, function__entry, "corebpf.py", "corebpf_pyfunc", 7);
			if (python_function__return_semaphore)
				STAP_PROBE3(python, function__return, "corebpf.py", "corebpf_pyfunc", 7);
			sleep_ms(20);
		}
	}
	if (argc >= 5 && !strcmp(argv[1], "burst")) {
		char line[64];

		setvbuf(stdout, NULL, _IOLBF, 0);
		printf("ready\n");	/* stdio buffers are allocated before tracing */
		while (fgets(line, sizeof(line), stdin)) {
			burst(atoi(argv[2]), atol(argv[3]), argv[4]);
			printf("done\n");
		}
		return 0;
	}
	fprintf(stderr, "usage: usdt_target mysql MARKER MS | threads | malloc SIZE | "
		"pycalls | burst N SIZE MARKER\n");
	return 2;
}
