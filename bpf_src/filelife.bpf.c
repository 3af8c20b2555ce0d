// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* filelife: files created and then deleted, with their age.
 *
 * ext4 (exact): births from ext4:ext4_allocate_inode (regular files, keyed
 * by dev+inode), deaths from ext4:ext4_unlink_enter/exit inside an
 * unlink()/unlinkat() call, the name taken from that call's path.
 * Other file systems have no such tracepoints: creations (opens that
 * created their file, mknod of regular files) and successful unlinks are
 * sent to user space as paths, which matches them.  (The programs of this
 * tracepoint variant end in __tp; variants btf and raw do the same through
 * raw_syscalls and ext4's tracepoints typed or raw.)
 *
 * kprobe variant (bcc's, any file system): births from vfs_create,
 * security_inode_create and vfs_open of a created file, deaths from
 * vfs_unlink and its return, keyed by dentry. */
#include "corebpf.bpf.h"
#include "vfs.bpf.h"
#include "filelife.h"
#include "cgroupid.bpf.h"

const volatile __s32 targ_tgid = 0;

struct dev_ino {
	__u64 ino;
	__u32 dev;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct dev_ino);
	__type(value, __u64);
} births SEC(".maps");

/* An unlink or mknod in progress, per thread. */
struct call {
	const char *fname;
	__s64 dfd;
	__u64 birth_ts;        /* of the ext4 file being unlinked, if seen born */
	struct dev_ino file;
	__u32 mode;            /* mknod */
	bool ext4;             /* ext4 handled this unlink */
	bool born;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct call);
} calls SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct life_event);
} scratch SEC(".maps");

EVENTS_RINGBUF(events, 1 << 24, struct life_event);

static __always_inline bool traced(void)
{
	return !targ_tgid || (bpf_get_current_pid_tgid() >> 32) == targ_tgid;
}

static __always_inline struct life_event *new_event(__u32 kind)
{
	__u32 zero = 0;
	struct life_event *e = bpf_map_lookup_elem(&scratch, &zero);

	if (!e)
		return NULL;
	e->ts = bpf_ktime_get_ns();
	e->age_ns = 0;
	e->pid = current_tgid();
	e->cgroup = event_cgroup_id();
	e->kind = kind;
	e->dir_size = 0;
	e->fname_size = 0;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	return e;
}

static __always_inline void send(struct life_event *e, __u32 dir_size, long fname_size)
{
	__u32 size;

	if (fname_size < 0)
		fname_size = 0;
	e->dir_size = dir_size;
	e->fname_size = fname_size;
	size = offsetof(struct life_event, buf) + dir_size + fname_size;
	if (size <= sizeof(*e))
		RINGBUF_OUTPUT(events, e, size);
}

/* Directory names for a path the caller passed (relative to dfd, or to the
 * task's root when absolute), then the path itself. */
static __always_inline void send_path(__u32 kind, const char *fname, long dfd)
{
	struct task_struct *task = current_task();
	struct life_event *e = new_event(kind);
	struct path dir;
	__u32 off = 0;
	char first = 0;
	long n;

	if (!e)
		return;
	bpf_probe_read_user(&first, 1, fname);
	if (first == '/')
		dir = BPF_CORE_READ(task, fs, root);
	else if (dir_of_dfd(dfd, &dir) != 0)
		dir.dentry = NULL;
	/* start from a value the verifier cannot see (0 here): a precise
	 * start keeps every iteration's state distinct and the load slow */
	off = e->dir_size;
	if (dir.dentry)
		off = walk_path(e->buf, off, &dir);
	off &= 2 * LIFE_PATH_BUF - 1;
	n = bpf_probe_read_user_str(&e->buf[off], LIFE_FNAME_MAX, fname);
	send(e, off, n);
}

/* -- births -------------------------------------------------------------------- */

static __always_inline int ext4_birth(__u64 ino, __u32 dev, __u32 mode)
{
	struct dev_ino key = { .ino = ino, .dev = dev };
	__u64 ts;

	if (!S_ISREG(mode) || !traced())
		return 0;
	ts = bpf_ktime_get_ns();
	bpf_map_update_elem(&births, &key, &ts, BPF_ANY);
	return 0;
}

SEC("tracepoint/ext4/ext4_allocate_inode")
int ext4_birth__tp(struct trace_event_raw_ext4_allocate_inode *ctx)
{
	return ext4_birth(ctx->ino, ctx->dev, ctx->mode);
}

/* An open that created a regular file outside ext4: send its path. */
static __always_inline int opened(long ret)
{
	struct life_event *e;
	struct inode *inode;
	struct file *f;
	struct path p;
	__u32 off;

	if (ret < 0 || !traced())
		return 0;
	f = fd_file(ret);
	if (!f || !(BPF_CORE_READ(f, f_mode) & FMODE_CREATED))
		return 0;
	inode = BPF_CORE_READ(f, f_inode);
	if (!S_ISREG(inode_mode(inode)) || inode_magic(inode) == EXT4_SUPER_MAGIC)
		return 0;
	e = new_event(LIFE_BIRTH_PATH);
	if (!e)
		return 0;
	p = BPF_CORE_READ(f, f_path);
	off = walk_path(e->buf, e->dir_size, &p);   /* 0: see send_path */
	send(e, off & (2 * LIFE_PATH_BUF - 1), 0);
	return 0;
}

#define OPEN_EXIT(sc)                                                          \
	SEC("tracepoint/syscalls/sys_exit_" #sc)                              \
	int sc##_exit__tp(struct trace_event_raw_sys_exit *ctx)                   \
	{                                                                      \
		return opened(ctx->ret);                                       \
	}

OPEN_EXIT(open)
OPEN_EXIT(openat)
OPEN_EXIT(openat2)
OPEN_EXIT(creat)

static __always_inline int begin(const char *fname, long dfd, __u32 mode)
{
	__u32 tid = current_tid();
	struct call c = { .fname = fname, .dfd = dfd, .mode = mode };

	if (traced())
		bpf_map_update_elem(&calls, &tid, &c, BPF_ANY);
	return 0;
}

static __always_inline int mknod_done(long ret)
{
	__u32 tid = current_tid();
	struct call *c = bpf_map_lookup_elem(&calls, &tid);

	if (!c)
		return 0;
	/* regular files only (no type bits means regular) */
	if (ret == 0 && ((c->mode & S_IFMT) == 0 || S_ISREG(c->mode)))
		send_path(LIFE_BIRTH_PATH, c->fname, c->dfd);
	bpf_map_delete_elem(&calls, &tid);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_mknod")
int mknod_enter__tp(struct trace_event_raw_sys_enter *ctx)
{
	return begin((const char *)ctx->args[0], AT_FDCWD, ctx->args[1]);
}

SEC("tracepoint/syscalls/sys_enter_mknodat")
int mknodat_enter__tp(struct trace_event_raw_sys_enter *ctx)
{
	return begin((const char *)ctx->args[1], ctx->args[0], ctx->args[2]);
}

SEC("tracepoint/syscalls/sys_exit_mknod")
int mknod_exit__tp(struct trace_event_raw_sys_exit *ctx)
{
	return mknod_done(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_mknodat")
int mknodat_exit__tp(struct trace_event_raw_sys_exit *ctx)
{
	return mknod_done(ctx->ret);
}

/* -- deaths -------------------------------------------------------------------- */

SEC("tracepoint/syscalls/sys_enter_unlink")
int unlink_enter__tp(struct trace_event_raw_sys_enter *ctx)
{
	return begin((const char *)ctx->args[0], AT_FDCWD, 0);
}

SEC("tracepoint/syscalls/sys_enter_unlinkat")
int unlinkat_enter__tp(struct trace_event_raw_sys_enter *ctx)
{
	if (ctx->args[2] & AT_REMOVEDIR)
		return 0;
	return begin((const char *)ctx->args[1], ctx->args[0], 0);
}

static __always_inline int ext4_unlink_begin(__u64 ino, __u32 dev)
{
	struct dev_ino key = { .ino = ino, .dev = dev };
	__u32 tid = current_tid();
	struct call *c;
	__u64 *ts;

	c = bpf_map_lookup_elem(&calls, &tid);
	if (!c)
		return 0;
	c->ext4 = true;
	ts = bpf_map_lookup_elem(&births, &key);
	if (ts) {
		c->born = true;
		c->birth_ts = *ts;
		c->file = key;
	}
	return 0;
}

SEC("tracepoint/ext4/ext4_unlink_enter")
int ext4_unlink_enter__tp(struct trace_event_raw_ext4_unlink_enter *ctx)
{
	return ext4_unlink_begin(ctx->ino, ctx->dev);
}

static __always_inline int ext4_unlink_end(__u64 ino, long ret)
{
	__u32 tid = current_tid();
	struct life_event *e;
	struct call *c;
	long n;

	c = bpf_map_lookup_elem(&calls, &tid);
	if (!c || !c->born || ret != 0 || ino != c->file.ino)
		return 0;
	bpf_map_delete_elem(&births, &c->file);
	c->born = false;
	e = new_event(LIFE_DEATH);
	if (!e)
		return 0;
	e->age_ns = e->ts - c->birth_ts;
	n = bpf_probe_read_user_str(e->buf, LIFE_FNAME_MAX, c->fname);
	send(e, 0, n);
	return 0;
}

SEC("tracepoint/ext4/ext4_unlink_exit")
int ext4_unlink_exit__tp(struct trace_event_raw_ext4_unlink_exit *ctx)
{
	return ext4_unlink_end(ctx->ino, ctx->ret);
}

static __always_inline int unlink_done(long ret)
{
	__u32 tid = current_tid();
	struct call *c = bpf_map_lookup_elem(&calls, &tid);

	if (!c)
		return 0;
	if (ret == 0 && !c->ext4)
		send_path(LIFE_DEATH_PATH, c->fname, c->dfd);
	bpf_map_delete_elem(&calls, &tid);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_unlink")
int unlink_exit__tp(struct trace_event_raw_sys_exit *ctx)
{
	return unlink_done(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_unlinkat")
int unlinkat_exit__tp(struct trace_event_raw_sys_exit *ctx)
{
	return unlink_done(ctx->ret);
}

/* -- variants btf and raw ------------------------------------------------------- */

/* The syscalls through raw_syscalls' sys_enter/sys_exit and a switch on the
 * number, ext4's tracepoints typed (tp_btf) or raw (raw_tp): five links
 * instead of fifteen classic tracepoints, ~40 ms each to detach.
 * sc_action[nr] = enum life_sc, filled by tools/filelife.py. */
#include "sysnr.bpf.h"

enum life_sc { SC_NONE, SC_OPEN, SC_MKNOD, SC_MKNODAT, SC_UNLINK, SC_UNLINKAT };

static __always_inline int life_sc_enter(struct pt_regs *regs, long nr)
{
	__u32 a = sc_action_of(nr);

	if (!a || sc_compat())
		return 0;
	switch (a) {
	case SC_MKNOD:
		return begin((const char *)sc_arg(regs, 0), AT_FDCWD, sc_arg(regs, 1));
	case SC_MKNODAT:
		return begin((const char *)sc_arg(regs, 1), sc_arg(regs, 0), sc_arg(regs, 2));
	case SC_UNLINK:
		return begin((const char *)sc_arg(regs, 0), AT_FDCWD, 0);
	case SC_UNLINKAT:
		if (sc_arg(regs, 2) & AT_REMOVEDIR)
			return 0;
		return begin((const char *)sc_arg(regs, 1), sc_arg(regs, 0), 0);
	}
	return 0;
}

static __always_inline int life_sc_exit(struct pt_regs *regs, long ret)
{
	__u32 a = sc_action_of(sc_regs_nr(regs));

	if (!a || sc_compat())
		return 0;
	if (a == SC_OPEN)
		return opened(ret);
	if (a == SC_MKNOD || a == SC_MKNODAT)
		return mknod_done(ret);
	return unlink_done(ret);
}

SYSNR_PROGRAMS(life_sc_enter, life_sc_exit)

/* ext4's tracepoints with their arguments: (inode, dir, mode), (parent,
 * dentry), (dentry, ret); the fields the classic events record from them.
 * Null-checked first: kernels that mark tracepoint arguments maybe-null
 * (Debian's 6.12) refuse even the address arithmetic of a read before. */
#define INODE_DEV(inode) BPF_CORE_READ(inode, i_sb, s_dev)
#define DENTRY_INO(dentry) BPF_CORE_READ(dentry, d_inode, i_ino)
#define DENTRY_DEV(dentry) BPF_CORE_READ(dentry, d_sb, s_dev)

#define EXT4_PROGRAMS(kind, suffix)                                            \
	SEC(kind "/ext4_allocate_inode")                                       \
	int BPF_PROG(ext4_birth__##suffix, struct inode *inode, struct inode *dir, int mode) \
	{                                                                      \
		if (!inode)                                                    \
			return 0;                                              \
		return ext4_birth(BPF_CORE_READ(inode, i_ino), INODE_DEV(inode), mode); \
	}                                                                      \
	SEC(kind "/ext4_unlink_enter")                                         \
	int BPF_PROG(ext4_unlink_enter__##suffix, struct inode *parent, struct dentry *dentry) \
	{                                                                      \
		if (!dentry)                                                   \
			return 0;                                              \
		return ext4_unlink_begin(DENTRY_INO(dentry), DENTRY_DEV(dentry)); \
	}                                                                      \
	SEC(kind "/ext4_unlink_exit")                                          \
	int BPF_PROG(ext4_unlink_exit__##suffix, struct dentry *dentry, int ret) \
	{                                                                      \
		if (!dentry)                                                   \
			return 0;                                              \
		return ext4_unlink_end(DENTRY_INO(dentry), ret);               \
	}

EXT4_PROGRAMS("tp_btf", btf)
EXT4_PROGRAMS("raw_tp", raw)

/* -- kprobe variant ------------------------------------------------------------ */

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct dentry *);
	__type(value, __u64);
} dentry_births SEC(".maps");

struct unlinking {
	struct dentry *dentry;
	__u64 birth_ts;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct unlinking);
} unlinks SEC(".maps");

/* vfs_create()/vfs_unlink() gained a leading user_namespace (5.12), then
 * mnt_idmap (6.3) argument: the dentry moved from the 2nd to the 3rd. */
struct renamedata___userns {
	struct user_namespace *old_mnt_userns;
};

static __always_inline struct dentry *dentry_arg(struct pt_regs *ctx)
{
	if (bpf_core_type_exists(struct mnt_idmap) ||
	    bpf_core_field_exists(struct renamedata___userns, old_mnt_userns))
		return (struct dentry *)PT_REGS_PARM3_CORE(ctx);
	return (struct dentry *)PT_REGS_PARM2_CORE(ctx);
}

static __always_inline int born(struct dentry *dentry)
{
	__u64 ts = bpf_ktime_get_ns();

	if (dentry && traced())
		bpf_map_update_elem(&dentry_births, &dentry, &ts, BPF_NOEXIST);
	return 0;
}

SEC("kprobe/vfs_create")
int create__kprobe(struct pt_regs *ctx)
{
	return born(dentry_arg(ctx));
}

SEC("kprobe/security_inode_create")
int BPF_KPROBE(security_create__kprobe, struct inode *dir, struct dentry *dentry)
{
	return born(dentry);
}

SEC("kprobe/vfs_open")
int BPF_KPROBE(open__kprobe, const struct path *path, struct file *file)
{
	if (!(BPF_CORE_READ(file, f_mode) & FMODE_CREATED))
		return 0;
	return born(BPF_CORE_READ(path, dentry));
}

SEC("kprobe/vfs_unlink")
int unlink__kprobe(struct pt_regs *ctx)
{
	struct dentry *dentry = dentry_arg(ctx);
	struct unlinking u = { .dentry = dentry };
	__u32 tid = current_tid();
	__u64 *ts;

	if (!traced())
		return 0;
	ts = bpf_map_lookup_elem(&dentry_births, &dentry);
	if (!ts)
		return 0;
	u.birth_ts = *ts;
	bpf_map_update_elem(&unlinks, &tid, &u, BPF_ANY);
	return 0;
}

SEC("kretprobe/vfs_unlink")
int BPF_KRETPROBE(unlink_ret__kprobe, int ret)
{
	__u32 tid = current_tid();
	struct life_event *e;
	struct unlinking *u;
	struct dentry *dentry;
	__u32 len;

	u = bpf_map_lookup_elem(&unlinks, &tid);
	if (!u)
		return 0;
	dentry = u->dentry;
	if (ret == 0) {
		e = new_event(LIFE_DEATH);
		if (e) {
			e->age_ns = e->ts - u->birth_ts;
			len = dentry_name(dentry, (char *)e->buf, PATH_NAME_MAX);
			send(e, 0, (len < PATH_NAME_MAX ? len : PATH_NAME_MAX - 1) + 1);
		}
		bpf_map_delete_elem(&dentry_births, &dentry);
	}
	bpf_map_delete_elem(&unlinks, &tid);
	return 0;
}
