"""What the file system latency tools share: bcc's ext4slower/ext4dist,
xfsslower/xfsdist, btrfsslower/btrfsdist, nfsslower/nfsdist, f2fsslower,
zfsslower/zfsdist and libbpf-tools' fsslower/fsdist -t TYPE.

One BPF object per kind serves every file system (fsslower, fsdist; ext4 has
its own, with its exact fsync tracepoint): Python tells it the superblock
magic to keep, the operations to trace and, for the function-probe variants,
the file system's own functions (bcc's and libbpf-tools' choices).
"""
from __future__ import annotations

import os
import sys
import time
from typing import NamedTuple

import corebpf
from corebpf import features, histogram, sysactions

from . import _cli, _containers, _heatmap, _jsonl

READ, WRITE, OPEN, FSYNC, GETATTR, COMMIT = range(6)     # enum fsop (fsops.h)
OP_NAMES = ("read", "write", "open", "fsync", "getattr", "commit")
BCC_LETTERS = "RWOSGC"
LIBBPF_LETTERS = "RWOF"
ALL = (READ, WRITE, OPEN, FSYNC)

SYSCALL_OPS = {
    **dict.fromkeys(("read", "readv", "pread64", "preadv", "preadv2"), READ),
    **dict.fromkeys(("write", "writev", "pwrite64", "pwritev", "pwritev2"), WRITE),
    **dict.fromkeys(("open", "openat", "openat2", "creat"), OPEN),
    **dict.fromkeys(("fsync", "fdatasync"), FSYNC),
}
SYSNR = "sysnr"        # _program_op() of the raw_syscalls variants' programs
FN_OPS = {"read": READ, "write": WRITE, "open": OPEN, "open2": OPEN, "fsync": FSYNC,
          "getattr": GETATTR}


class FileSystem(NamedTuple):
    name: str           # fsslower -t NAME
    title: str          # bcc's word in headers ("XFS", "btrfs", ...)
    magic: int          # superblock s_magic
    fstypes: tuple      # names in /proc/filesystems
    funcs: dict         # fn_* hook -> kernel functions to probe, first found wins


FILESYSTEMS = {fs.name: fs for fs in (
    FileSystem("ext4", "ext4", 0xEF53, ("ext4",), {}),      # own object: ext4ops.bpf.h
    FileSystem("xfs", "XFS", 0x58465342, ("xfs",), {
        "read": ("xfs_file_read_iter",), "write": ("xfs_file_write_iter",),
        "open": ("xfs_file_open",), "fsync": ("xfs_file_fsync",)}),
    FileSystem("btrfs", "btrfs", 0x9123683E, ("btrfs",), {
        "read": ("btrfs_file_read_iter", "generic_file_read_iter"),
        "write": ("btrfs_file_write_iter", "btrfs_do_write_iter"),
        "open": ("btrfs_file_open", "generic_file_open"), "fsync": ("btrfs_sync_file",)}),
    FileSystem("nfs", "NFS", 0x6969, ("nfs", "nfs4"), {
        "read": ("nfs_file_read",), "write": ("nfs_file_write",),
        "open": ("nfs_file_open",), "open2": ("nfs4_file_open",),
        "fsync": ("nfs_file_fsync",), "getattr": ("nfs_getattr",)}),
    FileSystem("f2fs", "f2fs", 0xF2F52010, ("f2fs",), {
        "read": ("f2fs_file_read_iter", "generic_file_read_iter"),
        "write": ("f2fs_file_write_iter",), "open": ("f2fs_file_open",),
        "fsync": ("f2fs_sync_file",), "getattr": ("f2fs_getattr",)}),
    FileSystem("zfs", "ZFS", 0x2FC12FC1, ("zfs",), {
        "read": ("zpl_iter_read", "zpl_aio_read"), "write": ("zpl_iter_write", "zpl_aio_write"),
        "open": ("zpl_open",), "fsync": ("zpl_fsync",)}),
    FileSystem("fuse", "fuse", 0x65735546, ("fuse", "fuseblk"), {
        "read": ("fuse_file_read_iter",), "write": ("fuse_file_write_iter",),
        "open": ("fuse_open",), "fsync": ("fuse_fsync",), "getattr": ("fuse_getattr",)}),
    FileSystem("bcachefs", "bcachefs", 0xCA451A4E, ("bcachefs",), {
        "read": ("bch2_read_iter",), "write": ("bch2_write_iter",), "open": ("bch2_open",),
        "fsync": ("bch2_fsync",), "getattr": ("bch2_getattr",)}),
)}

def check_kernel_has(fs: FileSystem):
    """MissingFeature unless the kernel knows `fs` (built in or its module loaded)."""
    if not any(features.filesystem(t) for t in fs.fstypes):
        raise corebpf.MissingFeature(
            f"this kernel has no {fs.name} file system ({'/'.join(fs.fstypes)} not in "
            "/proc/filesystems: load its module or mount one first)")


# -- the object --------------------------------------------------------------------

def _program_op(p):
    """(fn hook or None, op) of a program of the fsslower/fsdist objects."""
    if p.name.startswith("fn_"):
        hook = p.name.split("_")[1]
        return hook, FN_OPS[hook]
    if p.name.startswith("commit_"):
        return None, COMMIT
    if p.hook.startswith("getattr_"):
        return None, GETATTR
    if p.hook in ("sys_enter", "sys_exit"):
        return None, SYSNR             # every syscall op: sc_action says which
    return None, SYSCALL_OPS.get(p.hook.rsplit("_", 1)[0])


def open_object(prog: str, kind: str, fs: FileSystem, ops, a, fsync_range: bool = False):
    """Tool `prog`'s configured (not yet loaded) object of `kind` ("slower",
    "dist") tracing operations `ops` of file system `fs`; see attach()."""
    check_kernel_has(fs)
    if fs.name == "ext4":
        obj = corebpf.Object.open(f"ext4{kind}")
        targets = {}
    else:
        obj = corebpf.Object.open(f"fs{kind}")
        obj.rodata.targ_fs_magic = fs.magic
        targets = _configure(obj, fs, set(ops))
    obj.name = prog             # in messages
    obj.fs_targets = targets
    obj.fs_ops = set(ops)
    obj.fs_name = fs.name
    if a.pid:
        obj.rodata.targ_tgid = a.pid
    obj.rodata.targ_self_tgid = os.getpid()
    if fsync_range and "targ_fsync_range" in obj.rodata:
        obj.rodata.targ_fsync_range = True
    _cli.drop_missing_syscalls(obj)
    return obj


def _configure(obj, fs, ops) -> dict:
    """Turn off the programs of operations not traced; find the functions of
    the function-probe variants, where they may be used (forced, or no
    syscall tracepoints: looking names up in /proc/kallsyms costs time).
    Returns {program name: kernel function}."""
    forced = features.forced_probe()
    functions = forced in ("fentry", "kprobe") or \
        not features.tracepoint_exists("syscalls", "sys_enter_read")
    fentry = functions and forced != "kprobe" and features.fentry()
    found, targets, missing = {}, {}, []
    for p in obj.programs.values():
        hook, op = _program_op(p)
        if op == SYSNR:
            # NFS's getattr has programs in the tp variant only: keep it there
            p.autoload = fs.name != "nfs"
            continue
        if op not in ops or (op in (GETATTR, COMMIT) and fs.name != "nfs" and hook is None):
            p.autoload = False
            continue
        if hook is None:
            continue
        if not functions:
            p.autoload = False
            continue
        cands = fs.funcs.get(hook, ())
        if hook not in found:
            found[hook] = next((f for f in cands if features.kernel_function_exists(f)), None)
        func = found[hook]
        if func is None:
            p.autoload = False
            if cands and hook != "open2" and p.variant == forced:
                missing.append(f"{hook} ({', '.join(cands)})")
            continue
        targets[p.name] = func
        if p.kind == "fentry" and fentry:
            _cli.fentry_target(p, func)
    if missing:
        raise corebpf.MissingFeature(f"no {fs.name} kernel function for " +
                                     ", ".join(dict.fromkeys(missing)))
    return targets


def attach(obj):
    """After load: attach (the kprobe variant's programs by function name;
    the raw_syscalls variant's syscall numbers stored first)."""
    if "sc_action" in obj.maps:
        actions = sysactions.FSOPS
        if obj.fs_name != "ext4":       # fsfuncs.bpf.h: fsync too, the ops asked for
            actions = {n: c for n, c in {**actions, **sysactions.FSOPS_FSYNC}.items()
                       if SYSCALL_OPS[n] in obj.fs_ops}
        _cli.fill_syscall_actions(obj, actions)
    if obj.variant != "kprobe":
        obj.attach()
        return
    rest = []
    for p in obj.programs.values():
        if not p.autoload:
            continue
        func = obj.fs_targets.get(p.name)
        if func and p.kind == "kprobe":
            p.attach_kprobe(func, retprobe=p.section.startswith("kretprobe"))
        elif p.kind != "kprobe" or p.target:
            rest.append(p.name)
    if rest:                    # (no names would attach every program)
        obj.attach(*rest)


# -- *slower --------------------------------------------------------------------------

NAME_MAX_SHOWN = 32


class Slower(NamedTuple):
    """How one *slower tool looks (bcc's per-file-system copies differ a little)."""
    fs: str
    ops: tuple = ALL
    csv_flag: str = "-j"
    pid_width: int = 6
    duration: bool = False
    header: str = "Tracing {title} operations"            # + " slower than %d ms"
    header_min: str = "Tracing {title} operations slower than {ms} ms"


def slower_parser(prog: str, doc: str, t: Slower):
    p = _cli.Parser(prog, doc)
    p.add_argument(t.csv_flag, "--csv", action="store_true",
                   help="just print fields: comma-separated values")
    p.add_argument("-p", "--pid", type=_cli.pid_type, help="trace this PID only")
    if t.duration:
        p.add_argument("-d", "--duration", type=_cli.positive_int,
                       help="total duration of trace in seconds")
    p.add_argument("min_ms", nargs="?", default=10, type=_cli.nonneg_int,
                   help="minimum I/O duration to trace, in ms (default 10; 0: all)")
    _jsonl.add_args(p)
    _containers.add_args(p)
    return p


F = _jsonl.Field
SLOWER_JSON = _jsonl.Events("one object per file system operation slower than the "
                            "threshold", [
    F("ts_us", "integer", "completion time, since boot (CLOCK_MONOTONIC)", "us"),
    F("comm", "string", "the task's command name", get=lambda e: e.task),
    F("pid", "integer", "process ID"),
    F("op", "string", "read, write, open, fsync, getattr or commit", get=lambda e: op_name(e.op)),
    F("bytes", "integer", "size of a read, write or commit, else 0", "bytes",
      get=lambda e: e.size),
    F("offset", "integer", "file offset of a read, write or commit, else 0", "bytes"),
    F("latency_us", "integer", "time the operation took", "us", get=lambda e: e.delta_us),
    F("file", "string", "the file's name (one path component, as the kernel has it)"),
    _containers.FIELD,
])
DIST_JSON = _jsonl.Histograms("file system operation latency per interval (one histogram "
                              "per operation)", ["usecs", "msecs"], [
    F("operation", "string", "read, write, open, fsync or getattr"),
    _containers.KEY,
])
CONTAINER_HISTS = 1024          # --containers: (container, operation) histograms kept


def slower_header(a, t: Slower) -> list:
    if a.csv:
        return [("CONTAINER," if a.containers else "")
                + "ENDTIME_us,TASK,PID,TYPE,BYTES,OFFSET_b,LATENCY_us,FILE"]
    title = FILESYSTEMS[t.fs].title
    first = (t.header if a.min_ms == 0 else t.header_min).format(title=title, ms=a.min_ms)
    return [first, "%-8s %s%-14s %-*s %1s %-7s %-8s %7s %s" % (
        "TIME", _containers.header(a), "COMM", t.pid_width, "PID", "T", "BYTES", "OFF_KB",
        "LAT(ms)", "FILENAME")]


def slower_event(e, csv: bool, pid_width: int = 6, a=None) -> str:
    op = BCC_LETTERS[e.op] if e.op < len(BCC_LETTERS) else "?"
    name = e.file[:NAME_MAX_SHOWN]
    if csv:
        return ("%s,%d,%s,%d,%s,%d,%d,%d,%s" % (_containers.text(a, e).rstrip(), e.ts_us, e.task,
                                                e.pid, op, e.size, e.offset, e.delta_us, name)
                if a is not None and a.containers else
                "%d,%s,%d,%s,%d,%d,%d,%s" % (e.ts_us, e.task, e.pid, op, e.size, e.offset,
                                             e.delta_us, name))
    return "%-8s %s%-14.14s %-*s %1s %-7s %-8d %7.2f %s" % (
        time.strftime("%H:%M:%S"), _containers.text(a, e) if a is not None else "", e.task,
        pid_width, e.pid, op, e.size, e.offset // 1024,
        e.delta_us / 1000, name)


def run_slower(prog: str, doc: str, t: Slower, argv=None):
    a = slower_parser(prog, doc, t).parse_args(argv)
    _cli.setup(a)
    with open_object(prog, "slower", FILESYSTEMS[t.fs], t.ops, a) as obj:
        obj.rodata.targ_min_us = a.min_ms * 1000
        _containers.apply(obj, a)
        return _run_events(obj, a, slower_header(a, t),
                           lambda e: slower_event(e, a.csv, t.pid_width, a),
                           getattr(a, "duration", None))


def _run_events(obj, a, header, fmt, duration):
    if a.ebpf:
        _cli.print_ebpf(obj)
        return 0
    obj.load()
    attach(obj)
    _cli.trace_events(obj, "\n".join(header), fmt, duration=duration,
                      json=SLOWER_JSON.line if a.json else None)
    return 0


# -- *dist ------------------------------------------------------------------------------

def dist_parser(prog: str, doc: str):
    p = _cli.Parser(prog, doc)
    p.add_argument("-T", "--notimestamp", action="store_true",
                   help="don't include timestamp on interval output")
    p.add_argument("-m", "--milliseconds", action="store_true", help="output in milliseconds")
    p.add_argument("-p", "--pid", type=_cli.pid_type, help="trace this PID only")
    p.add_argument("interval", nargs="?", type=_cli.nonneg_int,
                   help="output interval, in seconds")
    p.add_argument("count", nargs="?", default=_cli.FOREVER, type=_cli.positive_int,
                   help="number of outputs")
    _heatmap.add_args(p)
    _jsonl.add_args(p)
    _containers.add_args(p, per_histogram=True)
    return p


def op_name(op: int) -> str:
    return OP_NAMES[op] if op < len(OP_NAMES) else str(op)


def dist_render(items, a) -> str:
    """bcc's output: a blank line, HH:MM:SS: (interval, no -T), `operation = X` sections."""
    out = ["\n"]
    if a.interval and not a.notimestamp:
        out.append(time.strftime("%H:%M:%S:") + "\n")
    label = "msecs" if a.milliseconds else "usecs"
    for head, ops in _container_groups(items, a):
        out.append(head)
        out.append(histogram.format_sections(ops, label, "operation", op_name))
    return "".join(out)


def _container_groups(items, a):
    """[(heading, [(op, slots)])]: one group (no heading) without
    --containers, else one per container (bcc-style `container = NAME`)."""
    if not getattr(a, "containers", False):
        return [("", [(k.op, list(v.slots)) for k, v in items])]
    return [(head, sorted(ops)) for _, head, ops in _containers.groups(
        [(k.cgroup, k.op, v) for k, v in items], lambda v: v.slots)]


def run_dist(prog: str, doc: str, fs_name: str, ops=ALL, argv=None):
    a = dist_parser(prog, doc).parse_args(argv)
    if a.interval == 0:
        raise _cli.UsageError("interval 0")
    _heatmap.check_args(a)
    _cli.setup(a)
    fs = FILESYSTEMS[fs_name]
    with open_object(prog, "dist", fs, ops, a) as obj:
        obj.rodata.targ_ms = a.milliseconds
        _apply_containers(obj, a)
        return _run_hists(obj, a, f"Tracing {fs.title} operation latency... Hit Ctrl-C to end.",
                          lambda items: dist_render(items, a), a.interval or _cli.FOREVER,
                          f"{prog}: {fs.title} operation latency")


def _apply_containers(obj, a):
    if a.containers:
        _containers.apply(obj, a)
        obj.maps["hists"].resize(CONTAINER_HISTS, "--containers")


def _run_hists(obj, a, first, render, interval, title):
    if a.ebpf:
        _cli.print_ebpf(obj)
        return 0
    obj.load()
    attach(obj)
    hists = _heatmap.tap(a, obj.maps["hists"], obj.name, lambda k, v: v.slots,
                         "msecs" if a.milliseconds else "usecs", title)
    if a.json:
        _jsonl.header(first)
    else:
        print(first, flush=True)

    def emit():
        items = sorted(hists.pop_items(), key=lambda kv: kv[0].op)
        if a.json and a.containers:
            return DIST_JSON.write("msecs" if a.milliseconds else "usecs", [
                ({"container": full, "operation": op_name(op)}, slots) for full, _, op, slots
                in _containers.sections_by([(k.cgroup, k.op, v) for k, v in items],
                                           lambda v: v.slots)])
        if a.json:
            return DIST_JSON.write("msecs" if a.milliseconds else "usecs",
                                   [({"operation": op_name(k.op)}, v.slots) for k, v in items])
        sys.stdout.write(render(items))
        sys.stdout.flush()

    _cli.interval_loop(interval, a.count, emit, wait=hists.wait_stop)
    hists.write()
    return 0


# -- libbpf-tools' fsslower / fsdist -t TYPE --------------------------------------------

TYPES = ("btrfs", "ext4", "fuse", "nfs", "xfs", "f2fs", "bcachefs", "zfs")


def fs_type(text: str) -> str:
    if text not in TYPES:
        import argparse
        raise argparse.ArgumentTypeError(f"invalid filesystem: {text!r} (one of "
                                          f"{', '.join(TYPES)})")
    return text


def libbpf_slower_parser(prog: str, doc: str):
    p = _cli.Parser(prog, doc)
    p.add_argument("-c", "--csv", action="store_true", help="output as csv")
    p.add_argument("-d", "--duration", type=_cli.positive_int,
                   help="total duration of trace in seconds")
    p.add_argument("-p", "--pid", type=_cli.pid_type, help="process ID to trace")
    p.add_argument("-m", "--min", dest="min_ms", default=10, type=_cli.nonneg_int,
                   help="min latency to trace, in ms (default 10)")
    p.add_argument("-t", "--type", type=fs_type, metavar="TYPE",
                   help="which filesystem to trace: " + "/".join(TYPES))
    _jsonl.add_args(p)
    _containers.add_args(p)
    return p


def libbpf_slower_header(a) -> list:
    if a.csv:
        return [("CONTAINER," if a.containers else "")
                + "ENDTIME_ns,TASK,PID,TYPE,BYTES,OFFSET_b,LATENCY_us,FILE"]
    first = (f"Tracing {a.type} operations slower than {a.min_ms} ms" if a.min_ms else
             f"Tracing {a.type} operations")
    first += f" for {a.duration} secs." if a.duration else "... Hit Ctrl-C to end."
    return [first, "%-8s %s%-16s %-7s %1s %-7s %-8s %7s %s" % (
        "TIME", _containers.header(a), "COMM", "PID", "T", "BYTES", "OFF_KB", "LAT(ms)",
        "FILENAME")]


LLONG_MAX = (1 << 63) - 1


def libbpf_slower_event(e, csv: bool, a=None) -> str:
    op = LIBBPF_LETTERS[e.op] if e.op < len(LIBBPF_LETTERS) else "?"
    size = "LL_MAX" if e.size == LLONG_MAX else str(e.size)
    ctr = _containers.text(a, e) if a is not None else ""
    if csv:
        return (ctr.rstrip() + "," if ctr else "") + "%d,%s,%d,%s,%s,%d,%d,%s" % (
            e.ts_us * 1000, e.task, e.pid, op, size, e.offset, e.delta_us,
            e.file[:NAME_MAX_SHOWN - 1])
    return "%-8s %s%-16s %-7d %s %-7s %-8d %7.2f %s" % (
        time.strftime("%H:%M:%S"), ctr, e.task, e.pid, op, size, e.offset // 1024,
        e.delta_us / 1000, e.file[:NAME_MAX_SHOWN - 1])


def run_libbpf_slower(prog: str, doc: str, argv=None):
    a = libbpf_slower_parser(prog, doc).parse_args(argv)
    if not a.type:
        raise _cli.UsageError("filesystem must be specified using -t option.")
    _cli.setup(a)
    with open_object(prog, "slower", FILESYSTEMS[a.type], ALL, a, fsync_range=True) as obj:
        obj.rodata.targ_min_us = a.min_ms * 1000
        _containers.apply(obj, a)
        return _run_events(obj, a, libbpf_slower_header(a),
                           lambda e: libbpf_slower_event(e, a.csv, a), a.duration)


def libbpf_dist_parser(prog: str, doc: str):
    p = _cli.Parser(prog, doc)
    p.add_argument("-T", "--timestamp", action="store_true", help="print timestamp")
    p.add_argument("-m", "--milliseconds", action="store_true", help="millisecond histogram")
    p.add_argument("-p", "--pid", type=_cli.pid_type, help="process ID to trace")
    p.add_argument("-t", "--type", type=fs_type, metavar="TYPE",
                   help="which filesystem to trace: " + "/".join(TYPES))
    _cli.interval_count(p)
    _heatmap.add_args(p)
    _jsonl.add_args(p)
    _containers.add_args(p, per_histogram=True)
    return p


def libbpf_dist_render(items, a) -> str:
    """libbpf-tools' output: a blank line, optional HH:MM:SS, then per operation
    `operation = 'read'`, its histogram and a blank line."""
    out = ["\n"]
    if a.timestamp:
        out.append("%-8s\n" % time.strftime("%H:%M:%S"))
    label = "msecs" if a.milliseconds else "usecs"
    for head, ops in _container_groups(items, a):
        out.append(head)
        for op, slots in ops:
            text = histogram.format_log2_libbpf(slots, label)
            if text:
                out.append("operation = '%s'\n%s\n" % (op_name(op), text))
    return "".join(out)


def run_libbpf_dist(prog: str, doc: str, argv=None):
    a = libbpf_dist_parser(prog, doc).parse_args(argv)
    if not a.type:
        raise _cli.UsageError("filesystem must be specified using -t option.")
    _heatmap.check_args(a)
    _cli.setup(a)
    fs = FILESYSTEMS[a.type]
    ops = ALL + ((GETATTR,) if "getattr" in fs.funcs else ())
    with open_object(prog, "dist", fs, ops, a) as obj:
        obj.rodata.targ_ms = a.milliseconds
        _apply_containers(obj, a)
        return _run_hists(obj, a, f"Tracing {a.type} operation latency... Hit Ctrl-C to end.",
                          lambda items: libbpf_dist_render(items, a), a.interval,
                          f"{prog}: {a.type} operation latency")
