"""cffi (ABI mode) declarations for the system libbpf, and nothing else.

Only this module and its close neighbours touch cffi.  Declarations follow
libbpf 1.x's public headers; option structs are declared up to the last field
corebpf uses and passed with `sz` = our size, which libbpf accepts from older
callers.  Symbols newer than libbpf 1.0 are probed at import (`HAS`) rather
than assumed.
"""
from __future__ import annotations

import os


MIN_VERSION = (1, 0)

CDEF = r"""
typedef int8_t __s8; typedef uint8_t __u8; typedef int16_t __s16; typedef uint16_t __u16;
typedef int32_t __s32; typedef uint32_t __u32; typedef int64_t __s64; typedef uint64_t __u64;

struct bpf_object; struct bpf_program; struct bpf_map; struct bpf_link;
struct ring_buffer; struct perf_buffer; struct btf;

typedef int (*libbpf_print_fn_t)(int level, const char *fmt, void *ap);
libbpf_print_fn_t libbpf_set_print(libbpf_print_fn_t fn);
__u32 libbpf_major_version(void);
__u32 libbpf_minor_version(void);
const char *libbpf_version_string(void);
int libbpf_strerror(int err, char *buf, size_t size);
int libbpf_num_possible_cpus(void);
int libbpf_probe_bpf_prog_type(int prog_type, const void *opts);
int libbpf_probe_bpf_map_type(int map_type, const void *opts);
int libbpf_probe_bpf_helper(int prog_type, int helper_id, const void *opts);

struct bpf_object_open_opts {
    size_t sz;
    const char *object_name;
    bool relaxed_maps;
    const char *pin_root_path;
    __u32 _removed_attach_prog_fd;
    const char *kconfig;
    const char *btf_custom_path;
    char *kernel_log_buf;
    size_t kernel_log_size;
    __u32 kernel_log_level;
};
struct bpf_object *bpf_object__open_file(const char *path, const struct bpf_object_open_opts *opts);
struct bpf_object *bpf_object__open_mem(const void *obj_buf, size_t obj_buf_sz, const struct bpf_object_open_opts *opts);
int bpf_object__load(struct bpf_object *obj);
void bpf_object__close(struct bpf_object *obj);
const char *bpf_object__name(const struct bpf_object *obj);
struct btf *bpf_object__btf(const struct bpf_object *obj);
struct bpf_program *bpf_object__next_program(const struct bpf_object *obj, struct bpf_program *prog);
struct bpf_map *bpf_object__next_map(const struct bpf_object *obj, const struct bpf_map *map);
struct bpf_program *bpf_object__find_program_by_name(const struct bpf_object *obj, const char *name);
struct bpf_map *bpf_object__find_map_by_name(const struct bpf_object *obj, const char *name);

const char *bpf_program__name(const struct bpf_program *prog);
const char *bpf_program__section_name(const struct bpf_program *prog);
bool bpf_program__autoload(const struct bpf_program *prog);
int bpf_program__set_autoload(struct bpf_program *prog, bool autoload);
int bpf_program__fd(const struct bpf_program *prog);
int bpf_program__type(const struct bpf_program *prog);
int bpf_program__set_type(struct bpf_program *prog, int type);
int bpf_program__expected_attach_type(const struct bpf_program *prog);
int bpf_program__set_expected_attach_type(struct bpf_program *prog, int type);
int bpf_program__set_attach_target(struct bpf_program *prog, int attach_prog_fd, const char *attach_func_name);
size_t bpf_program__insn_cnt(const struct bpf_program *prog);
const void *bpf_program__insns(const struct bpf_program *prog);
int bpf_program__set_log_level(struct bpf_program *prog, __u32 log_level);
int bpf_program__set_log_buf(struct bpf_program *prog, char *log_buf, size_t log_size);

struct bpf_link *bpf_program__attach(const struct bpf_program *prog);
struct bpf_link *bpf_program__attach_tracepoint(const struct bpf_program *prog, const char *tp_category, const char *tp_name);
struct bpf_link *bpf_program__attach_raw_tracepoint(const struct bpf_program *prog, const char *tp_name);
struct bpf_link *bpf_program__attach_trace(const struct bpf_program *prog);
struct bpf_kprobe_opts { size_t sz; __u64 bpf_cookie; size_t offset; bool retprobe; };
struct bpf_link *bpf_program__attach_kprobe_opts(const struct bpf_program *prog, const char *func_name, const struct bpf_kprobe_opts *opts);
struct bpf_uprobe_opts { size_t sz; size_t ref_ctr_offset; __u64 bpf_cookie; bool retprobe; const char *func_name; };
struct bpf_link *bpf_program__attach_uprobe_opts(const struct bpf_program *prog, int pid, const char *binary_path, size_t func_offset, const struct bpf_uprobe_opts *opts);
struct bpf_usdt_opts { size_t sz; __u64 usdt_cookie; };
struct bpf_link *bpf_program__attach_usdt(const struct bpf_program *prog, int pid, const char *binary_path, const char *usdt_provider, const char *usdt_name, const struct bpf_usdt_opts *opts);
struct bpf_link *bpf_program__attach_perf_event(const struct bpf_program *prog, int pfd);
struct bpf_link *bpf_program__attach_xdp(const struct bpf_program *prog, int ifindex);
int bpf_link__destroy(struct bpf_link *link);
int bpf_link__fd(const struct bpf_link *link);
int bpf_link__detach(struct bpf_link *link);

const char *bpf_map__name(const struct bpf_map *map);
int bpf_map__fd(const struct bpf_map *map);
int bpf_map__type(const struct bpf_map *map);
__u32 bpf_map__key_size(const struct bpf_map *map);
__u32 bpf_map__value_size(const struct bpf_map *map);
__u32 bpf_map__max_entries(const struct bpf_map *map);
int bpf_map__set_max_entries(struct bpf_map *map, __u32 max_entries);
__u32 bpf_map__map_flags(const struct bpf_map *map);
__u32 bpf_map__btf_key_type_id(const struct bpf_map *map);
__u32 bpf_map__btf_value_type_id(const struct bpf_map *map);
void *bpf_map__initial_value(struct bpf_map *map, size_t *psize);
int bpf_map__set_initial_value(struct bpf_map *map, const void *data, size_t size);
bool bpf_map__is_internal(const struct bpf_map *map);
int bpf_map__set_autocreate(struct bpf_map *map, bool autocreate);
int bpf_map__reuse_fd(struct bpf_map *map, int fd);
int bpf_obj_get(const char *pathname);

int bpf_map_lookup_elem(int fd, const void *key, void *value);
int bpf_map_lookup_elem_flags(int fd, const void *key, void *value, __u64 flags);
int bpf_map_update_elem(int fd, const void *key, const void *value, __u64 flags);
int bpf_map_delete_elem(int fd, const void *key);
int bpf_map_get_next_key(int fd, const void *key, void *next_key);
struct bpf_map_batch_opts { size_t sz; __u64 elem_flags; __u64 flags; };
int bpf_map_lookup_batch(int fd, void *in_batch, void *out_batch, void *keys, void *values, __u32 *count, const struct bpf_map_batch_opts *opts);
int bpf_map_delete_batch(int fd, const void *keys, __u32 *count, const struct bpf_map_batch_opts *opts);

typedef int (*ring_buffer_sample_fn)(void *ctx, void *data, size_t size);
struct ring_buffer *ring_buffer__new(int map_fd, ring_buffer_sample_fn sample_cb, void *ctx, const void *opts);
int ring_buffer__add(struct ring_buffer *rb, int map_fd, ring_buffer_sample_fn sample_cb, void *ctx);
int ring_buffer__poll(struct ring_buffer *rb, int timeout_ms);
int ring_buffer__consume(struct ring_buffer *rb);
int ring_buffer__epoll_fd(const struct ring_buffer *rb);
void ring_buffer__free(struct ring_buffer *rb);

typedef void (*perf_buffer_sample_fn)(void *ctx, int cpu, void *data, __u32 size);
typedef void (*perf_buffer_lost_fn)(void *ctx, int cpu, __u64 cnt);
struct perf_buffer *perf_buffer__new(int map_fd, size_t page_cnt, perf_buffer_sample_fn sample_cb, perf_buffer_lost_fn lost_cb, void *ctx, const void *opts);
int perf_buffer__poll(struct perf_buffer *pb, int timeout_ms);
int perf_buffer__consume(struct perf_buffer *pb);
int perf_buffer__epoll_fd(const struct perf_buffer *pb);
void perf_buffer__free(struct perf_buffer *pb);

struct btf *btf__load_vmlinux_btf(void);
struct btf *btf__parse(const char *path, void *btf_ext);
void btf__free(struct btf *btf);
const void *btf__raw_data(const struct btf *btf, __u32 *size);
__u32 btf__type_cnt(const struct btf *btf);
int btf__find_by_name_kind(const struct btf *btf, const char *type_name, __u32 kind);

/* low-level API: programs and maps built at run time (corebpf.compiler.genprog) */
struct bpf_prog_load_opts {
    size_t sz; int attempts; int expected_attach_type; __u32 prog_btf_fd; __u32 prog_flags;
    __u32 prog_ifindex; __u32 kern_version; __u32 attach_btf_id; __u32 attach_prog_fd;
    __u32 attach_btf_obj_fd; const int *fd_array; const void *func_info; __u32 func_info_cnt;
    __u32 func_info_rec_size; const void *line_info; __u32 line_info_cnt;
    __u32 line_info_rec_size; __u32 log_level; __u32 log_size; char *log_buf;
};
int bpf_prog_load(int prog_type, const char *prog_name, const char *license, const void *insns, size_t insn_cnt, const struct bpf_prog_load_opts *opts);
struct bpf_map_create_opts {
    size_t sz; __u32 btf_fd; __u32 btf_key_type_id; __u32 btf_value_type_id;
    __u32 btf_vmlinux_value_type_id; __u32 inner_map_fd; __u32 map_flags; __u64 map_extra;
    __u32 numa_node; __u32 map_ifindex;
};
int bpf_map_create(int map_type, const char *map_name, __u32 key_size, __u32 value_size, __u32 max_entries, const struct bpf_map_create_opts *opts);
struct bpf_link_create_opts {
    size_t sz; __u32 flags; void *iter_info; __u32 iter_info_len; __u32 target_btf_id;
    union { struct { __u64 bpf_cookie; } perf_event; struct { __u64 cookie; } tracing; };
};
int bpf_link_create(int prog_fd, int target_fd, int attach_type, const struct bpf_link_create_opts *opts);
int bpf_raw_tracepoint_open(const char *name, int prog_fd);

/* kernel BTF, read through libbpf one type at a time (corebpf.core.kbtf) */
struct btf_type { __u32 name_off; __u32 info; __u32 size_or_type; };
struct btf_member { __u32 name_off; __u32 type; __u32 offset; };
struct btf_param { __u32 name_off; __u32 type; };
struct btf_array { __u32 type; __u32 index_type; __u32 nelems; };
const struct btf_type *btf__type_by_id(const struct btf *btf, __u32 id);
const char *btf__name_by_offset(const struct btf *btf, __u32 offset);
__s64 btf__resolve_size(const struct btf *btf, __u32 type_id);
int btf__resolve_type(const struct btf *btf, __u32 type_id);
/* perf_event_open(2) has no libc wrapper (corebpf/core/perf.py calls it through
 * syscall()).  Declared up to config2 (PERF_ATTR_SIZE_VER1, 72 bytes, Linux
 * 2.6.39): kprobe/uprobe PMU events carry the probe offset there.
 * `flags` is the u64 of single-bit fields (disabled = bit 0, ... freq = bit 10). */
struct perf_event_attr {
    __u32 type;
    __u32 size;
    __u64 config;
    __u64 sample_period_or_freq;
    __u64 sample_type;
    __u64 read_format;
    __u64 flags;
    __u32 wakeup_events;
    __u32 bp_type;
    __u64 config1;
    __u64 config2;
};
"""

# Symbols a libbpf 1.x may lack; probed once (libbpf 1.1.2 lacks some).
OPTIONAL = ("bpf_program__attach_uprobe_multi", "ring_buffer__consume_n",
            "bpf_map__set_autocreate", "bpf_program__set_log_buf")

LIBC_CDEF = """
int vsnprintf(char *str, size_t size, const char *format, void *ap);
int vasprintf(char **strp, const char *fmt, void *ap);
void free(void *ptr);
int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const void *data);
long syscall(long number, ...);
int close(int fd);
int ioctl(int fd, unsigned long request, ...);
char *__cxa_demangle(const char *mangled_name, char *output_buffer, size_t *length, int *status);
int pthread_spin_init(int *lock, int pshared);
int pthread_spin_lock(int *lock);
int pthread_spin_unlock(int *lock);
int signalfd(int fd, const void *mask, int flags);
"""


def make_ffi():
    """An FFI with every declaration parsed (pycparser: ~60 ms)."""
    from cffi import FFI
    f = FFI()
    f.cdef(CDEF)
    f.cdef(LIBC_CDEF)
    return f


def emit_module(path):
    """Write the declarations pre-parsed, as cffi's out-of-line ABI module
    (pure Python, no C compiler): importing it skips pycparser."""
    f = make_ffi()
    f.set_source("corebpf.core._libbpf_ffi", None)
    f.emit_python_code(str(path))


try:
    from ._libbpf_ffi import ffi        # generated by build.py
except ImportError:                      # a source checkout not built yet
    ffi = make_ffi()


class LibbpfUnavailable(Exception):
    """libbpf could not be loaded or is too old (message is user-facing)."""


def _open():
    path = os.environ.get("COREBPF_LIBBPF") or "libbpf.so.1"
    try:
        lib = ffi.dlopen(path)
    except OSError as e:
        where = "COREBPF_LIBBPF=" + path if os.environ.get("COREBPF_LIBBPF") else path
        raise LibbpfUnavailable(
            f"cannot load {where} ({e.args[0] if e.args else e}); "
            "install libbpf 1.x (Debian: apt-get install libbpf1)") from None
    try:
        ver = (lib.libbpf_major_version(), lib.libbpf_minor_version())
    except (AttributeError, ffi.error):     # cffi raises ffi.error for a missing symbol
        raise LibbpfUnavailable(f"{path} is not libbpf >= 1.0 "
                                "(no libbpf_major_version)") from None
    if ver < MIN_VERSION:
        raise LibbpfUnavailable(
            f"libbpf {ver[0]}.{ver[1]} is too old; corebpf needs >= "
            f"{MIN_VERSION[0]}.{MIN_VERSION[1]}")
    return lib, ver


def _has(lib, name: str) -> bool:
    try:
        getattr(lib, name)
        return True
    except AttributeError:
        return False


_lib = None
VERSION = None
HAS = {}
libc = ffi.dlopen(None)


def lib():
    """Return the loaded libbpf; raise LibbpfUnavailable."""
    global _lib, VERSION, HAS
    if _lib is None:
        _lib, VERSION = _open()
        HAS = {n: _has(_lib, n) for n in OPTIONAL}
    return _lib


_cxx = None


def cxa_demangle(name: str):
    """C++ symbol `name` demangled by libstdc++ (None if it is not a mangled
    name or libstdc++ is absent)."""
    global _cxx
    if _cxx is None:
        try:
            _cxx = ffi.dlopen("libstdc++.so.6")
        except OSError:
            _cxx = False
    if not _cxx:
        return None
    status = ffi.new("int *")
    p = _cxx.__cxa_demangle(name.encode(), ffi.NULL, ffi.NULL, status)
    if p == ffi.NULL:
        return None
    try:
        return ffi.string(p).decode("utf-8", "replace") if status[0] == 0 else None
    finally:
        libc.free(p)
