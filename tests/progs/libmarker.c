/* A shared library with a uniquely named function (user symbolization tests). */
volatile unsigned long corebpf_lib_sink;

__attribute__((noinline)) unsigned long corebpf_lib_marker(unsigned long n)
{
	unsigned long i, s = 0;

	for (i = 0; i < n; i++)
		s += i ^ corebpf_lib_sink;
	corebpf_lib_sink = s;
	return s;
}

/* A second function so the marker has a neighbour in the symbol table. */
unsigned long corebpf_lib_other(void)
{
	return corebpf_lib_marker(3) + 1;
}

/* Named like the C++ function corebpf::marker(int): shows demangling. */
int cxx_named(int x) __asm__("_ZN7corebpf6markerEi");
__attribute__((noinline)) int cxx_named(int x)
{
	return x * 3 + (int)corebpf_lib_sink;
}
