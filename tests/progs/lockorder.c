/* Test target for deadlock (built with frame pointers).  After a line on
 * stdin, one thread locks corebpf_mutex_a then corebpf_mutex_b (in
 * corebpf_lock_ab); once it is done, a second thread locks them in the
 * other order (corebpf_lock_ba, mode "inversion") or the same order (mode
 * "ordered").  The threads never overlap, so nothing deadlocks: deadlock
 * reports the potential one.  Then "done" on stdout; exits at stdin EOF. */
#include <pthread.h>
#include <string.h>
#include <unistd.h>

pthread_mutex_t corebpf_mutex_a = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t corebpf_mutex_b = PTHREAD_MUTEX_INITIALIZER;
static int inversion;

__attribute__((noinline)) void corebpf_lock_ab(void)
{
	pthread_mutex_lock(&corebpf_mutex_a);
	pthread_mutex_lock(&corebpf_mutex_b);
	pthread_mutex_unlock(&corebpf_mutex_b);
	pthread_mutex_unlock(&corebpf_mutex_a);
}

__attribute__((noinline)) void corebpf_lock_ba(void)
{
	pthread_mutex_lock(&corebpf_mutex_b);
	pthread_mutex_lock(&corebpf_mutex_a);
	pthread_mutex_unlock(&corebpf_mutex_a);
	pthread_mutex_unlock(&corebpf_mutex_b);
}

static void *first(void *arg)
{
	corebpf_lock_ab();
	return arg;
}

static void *second(void *arg)
{
	if (inversion)
		corebpf_lock_ba();
	else
		corebpf_lock_ab();
	return arg;
}

int main(int argc, char **argv)
{
	pthread_t t;
	char buf[64];

	inversion = argc > 1 && strcmp(argv[1], "inversion") == 0;
	if (read(0, buf, sizeof(buf)) <= 0)
		return 1;
	pthread_create(&t, NULL, first, NULL);
	pthread_join(t, NULL);
	pthread_create(&t, NULL, second, NULL);
	pthread_join(t, NULL);
	if (write(1, "done\n", 5) != 5)
		return 1;
	while (read(0, buf, sizeof(buf)) > 0)
		;
	return 0;
}
