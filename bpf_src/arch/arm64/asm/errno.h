/* uapi <asm/errno.h> of arm64 (usdt.bpf.h includes <linux/errno.h>):
 * the same as the kernel's, so no multiarch libc headers are needed to
 * build for this architecture on another. */
#include <asm-generic/errno.h>
