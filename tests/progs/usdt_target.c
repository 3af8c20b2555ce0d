/* A target for the user-space probe tests: USDT probes where no packaged
 * program has them (MySQL's query__start/query__done, with a semaphore on
 * query__start), a MySQL-5.7-style dispatch_command() for dbslower -x,
 * pthread_create() of a named start routine, malloc() of a known size.
 *
 *   usdt_target mysql MARKER SLEEP_MS   a "query" containing MARKER every 100 ms
 *   usdt_target threads                 a thread running corebpf_worker every 100 ms
 *   usdt_target malloc SIZE             malloc(SIZE) + free every 10 ms
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
	fprintf(stderr, "usage: usdt_target mysql MARKER MS | threads | malloc SIZE\n");
	return 2;
}
