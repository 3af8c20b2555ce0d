/* Test target for memleak (built by the tests with frame pointers:
 * cc -O1 -fno-omit-frame-pointer).  Function names are unique markers.
 *   allocs leak N   after a line on stdin, N rounds of: malloc(1000) in
 *                   corebpf_leak_malloc, calloc(25, 40) in corebpf_leak_calloc,
 *                   posix_memalign(64, 512) in corebpf_leak_memalign,
 *                   malloc(100) grown by realloc to 3000 in corebpf_leak_realloc;
 *                   nothing is freed
 *   allocs free N   the same, each block freed at once
 * Then "done\n" on stdout, and it waits for stdin EOF.  With a third
 * argument SECONDS it starts at once and exits SECONDS after (memleak -c).
 * Only read() and write(): stdio would allocate its buffers while memleak
 * watches. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define KEEP 4096
static void *kept[KEEP];
static int nkept;
static int keep;

static void hold(void *p)
{
	if (!keep)
		free(p);
	else if (nkept < KEEP)
		kept[nkept++] = p;
}

__attribute__((noinline)) void corebpf_leak_malloc(void)
{
	hold(malloc(1000));
}

__attribute__((noinline)) void corebpf_leak_calloc(void)
{
	hold(calloc(25, 40));
}

__attribute__((noinline)) void corebpf_leak_memalign(void)
{
	void *p = NULL;

	if (posix_memalign(&p, 64, 512) == 0)
		hold(p);
}

__attribute__((noinline)) void corebpf_leak_realloc(void)
{
	void *p = malloc(100);

	hold(realloc(p, 3000));
}

int main(int argc, char **argv)
{
	char buf[64];
	int i, n;

	if (argc < 3)
		return 2;
	keep = strcmp(argv[1], "leak") == 0;
	n = atoi(argv[2]);
	if (argc < 4 && read(0, buf, sizeof(buf)) <= 0)
		return 1;
	for (i = 0; i < n; i++) {
		corebpf_leak_malloc();
		corebpf_leak_calloc();
		corebpf_leak_memalign();
		corebpf_leak_realloc();
	}
	if (write(1, "done\n", 5) != 5)
		return 1;
	if (argc >= 4) {
		sleep(atoi(argv[3]));
		return 0;
	}
	while (read(0, buf, sizeof(buf)) > 0)
		;
	return 0;
}
