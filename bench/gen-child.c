/* The program bench/gen execs in its fork/exec storm: exits at once.
 * Built static (when libc.a is there) so exec costs no dynamic loading. */
int main(void)
{
	return 0;
}
