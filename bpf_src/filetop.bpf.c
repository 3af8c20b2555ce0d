// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* filetop: reads and writes by thread and file, summed in the kernel.
 * kprobe variant (bcc's): vfs_read/vfs_write entry with their struct file.
 * tracepoint variant: the read/write syscall families at entry, the fd
 * resolved to its struct file; bytes are the sizes requested. */
#include "corebpf.bpf.h"
#include "vfs.bpf.h"
#include "filetop.h"

const volatile __s32 targ_tgid = 0;
const volatile bool targ_all_files = false;
const volatile bool targ_reads = true;
const volatile bool targ_writes = true;
const volatile __u64 targ_dir_ino = 0;   /* only files directly in this directory */
const volatile __u32 targ_dir_dev = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct file_key);
	__type(value, struct file_val);
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct file_key);
} scratch SEC(".maps");

static __always_inline int account(struct file *file, __u64 bytes, bool is_read)
{
	__u64 id = bpf_get_current_pid_tgid();
	static const struct file_val zero;
	struct file_key *key;
	struct file_val *val;
	struct inode *inode;
	struct dentry *de;
	__u32 mode, k = 0;

	if (is_read ? !targ_reads : !targ_writes)
		return 0;
	if (targ_tgid && (id >> 32) != targ_tgid)
		return 0;
	if (!file)
		return 0;
	inode = BPF_CORE_READ(file, f_inode);
	de = BPF_CORE_READ(file, f_path.dentry);
	mode = inode_mode(inode);
	if (!targ_all_files && !S_ISREG(mode))
		return 0;
	if (targ_dir_ino) {
		struct inode *dir = BPF_CORE_READ(de, d_parent, d_inode);

		if (BPF_CORE_READ(dir, i_ino) != targ_dir_ino || inode_dev(dir) != targ_dir_dev)
			return 0;
	}
	key = bpf_map_lookup_elem(&scratch, &k);
	if (!key)
		return 0;
	__builtin_memset(key, 0, sizeof(*key));
	key->name_len = dentry_name(de, key->name, sizeof(key->name));
	if (!key->name_len)
		return 0;              /* I/O without a file name (anonymous) */
	key->ino = BPF_CORE_READ(inode, i_ino);
	key->dev = inode_dev(inode);
	key->rdev = BPF_CORE_READ(inode, i_rdev);
	key->tid = (__u32)id;
	bpf_get_current_comm(key->comm, sizeof(key->comm));
	key->type = S_ISREG(mode) ? 'R' : S_ISSOCK(mode) ? 'S' : 'O';
	val = map_lookup_or_init(&counts, key, &zero);
	if (!val)
		return 0;
	if (is_read) {
		__sync_fetch_and_add(&val->reads, 1);
		__sync_fetch_and_add(&val->rbytes, bytes);
	} else {
		__sync_fetch_and_add(&val->writes, 1);
		__sync_fetch_and_add(&val->wbytes, bytes);
	}
	return 0;
}

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

/* every read/write-family syscall, at entry */
VFS_RW_SYSCALLS(account)

/* Variants btf and raw: the same syscalls through raw_syscalls' sys_enter
 * and a switch on the number (one link instead of ten classic tracepoints,
 * ~40 ms each to detach); sc_action filled by tools/filetop.py. */
#include "sysnr.bpf.h"
VFS_RW_SYSCALLS_RAW(account)
