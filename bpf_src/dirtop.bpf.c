// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* dirtop: reads and writes of files under chosen directories, summed per
 * directory in the kernel.  Variant "tp": the read/write syscall families
 * at entry (variants "btf" and "raw": the same through raw_syscalls) (bytes asked for), the fd resolved to its file; variant "kprobe"
 * (bcc's): vfs_read/vfs_write.  A file counts for the outermost chosen
 * directory above it (bcc's walk, up to DIR_DEPTH parents). */
#include "corebpf.bpf.h"
#include "vfs.bpf.h"
#include "dirtop.h"

#define DIR_DEPTH 50

const volatile __u32 targ_tgid = 0;

/* the directories Python chose: key -> 1 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, struct dir_key);
	__type(value, __u8);
} dirs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, struct dir_key);
	__type(value, struct dir_val);
} counts SEC(".maps");

static __always_inline int account(struct file *file, __u64 bytes, bool is_read)
{
	static const struct dir_val zero;
	struct dir_key key = {}, found = {};
	struct dentry *d, *parent;
	struct dir_val *v;
	struct inode *inode;
	int i;

	if (!file || (targ_tgid && current_tgid() != targ_tgid))
		return 0;
	d = BPF_CORE_READ(file, f_path.dentry);
	for (i = 0; i < DIR_DEPTH; i++) {
		parent = BPF_CORE_READ(d, d_parent);
		if (!parent || parent == d)
			break;
		d = parent;
		inode = BPF_CORE_READ(d, d_inode);
		key.ino = BPF_CORE_READ(inode, i_ino);
		key.dev = inode_dev(inode);
		if (bpf_map_lookup_elem(&dirs, &key))
			found = key;
	}
	if (!found.ino)
		return 0;
	v = map_lookup_or_init(&counts, &found, &zero);
	if (!v)
		return 0;
	if (is_read) {
		__sync_fetch_and_add(&v->reads, 1);
		__sync_fetch_and_add(&v->rbytes, bytes);
	} else {
		__sync_fetch_and_add(&v->writes, 1);
		__sync_fetch_and_add(&v->wbytes, bytes);
	}
	return 0;
}

VFS_RW_SYSCALLS(account)

/* Variants btf and raw: the same syscalls through raw_syscalls' sys_enter
 * (one link instead of ten classic tracepoints, ~40 ms each to detach). */
#include "sysnr.bpf.h"
VFS_RW_SYSCALLS_RAW(account)

SEC("kprobe/vfs_read")
int BPF_KPROBE(read__kprobe, struct file *file, char *buf, size_t count)
{
	return account(file, count, true);
}

SEC("kprobe/vfs_write")
int BPF_KPROBE(write__kprobe, struct file *file, const char *buf, size_t count)
{
	return account(file, count, false);
}
