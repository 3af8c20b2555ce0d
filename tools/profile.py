"""Profile CPU usage: sample stack traces on a timer and count them in the kernel.

Samples come from a perf event on every CPU (hardware cycles where the
machine has a PMU, else the software cpu-clock); only the unique stacks and
their counts reach user space, at the end.

examples:
    profile             # sample all threads' stacks at 49 Hertz until Ctrl-C
    profile -F 99       # sample at 99 Hertz
    profile -c 1000000  # one sample every million events
    profile 5           # sample for 5 seconds only
    profile -f 5        # folded output (one line per stack), for flame graphs
    profile -p 185      # only processes 185 (a comma list: -p 185,186)
    profile -L 185      # only thread 185
    profile -U          # user space stacks only (no kernel)
    profile -K          # kernel space stacks only (no user)
    profile -C 1        # only CPU 1
    profile -adf 10     # folded, user/kernel delimiter, _[k] on kernel frames
    profile -p 185 --unwind dwarf   # user stacks of code without frame pointers
    profile --svg cpu.svg 10        # also an interactive flame graph
    profile --pprof cpu.pb.gz 10    # also a pprof profile (go tool pprof, Pyroscope)
"""
from __future__ import annotations

import collections
import sys
import time

import corebpf
from corebpf import features
from corebpf.core import perf
from corebpf.symbols.stacks import Stacks, folded, missing, multiline, present
from corebpf.symbols.syms import kernel_symbols

from . import _cli, _jsonl, _stacks

PROG = "profile"


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__)
    who = p.add_mutually_exclusive_group()
    who.add_argument("-p", "--pid", type=_cli.pid_list, metavar="PIDS",
                     help="profile these processes only (comma-separated PIDs)")
    who.add_argument("-L", "--tid", type=_cli.tid_list, metavar="TIDS",
                     help="profile these threads only (comma-separated TIDs)")
    side = p.add_mutually_exclusive_group()
    side.add_argument("-U", "--user-stacks-only", action="store_true",
                      help="show user space stacks only (no kernel frames)")
    side.add_argument("-K", "--kernel-stacks-only", action="store_true",
                      help="show kernel space stacks only (no user frames)")
    rate = p.add_mutually_exclusive_group()
    rate.add_argument("-F", "--frequency", type=_cli.Number(
                          1, lambda: perf.max_sample_rate() or 100000, "hz",
                          outside="must be positive and at most "
                          "{hi} (perf_event_max_sample_rate): {text}"),
                      help="samples per second per CPU (default 49)")
    rate.add_argument("-c", "--count", type=_cli.unsigned(63, lo=1),
                      help="sample once every COUNT events (period)")
    p.add_argument("-d", "--delimited", action="store_true",
                   help="print a delimiter between kernel and user frames")
    p.add_argument("-a", "--annotations", action="store_true",
                   help="append _[k] to kernel frames (folded output)")
    p.add_argument("-I", "--include-idle", action="store_true",
                   help="include the idle threads' stacks")
    p.add_argument("-f", "--folded", action="store_true",
                   help="folded output: one line per stack (flame graph input)")
    p.add_argument("-A", "--address", action="store_true",
                   help="print each frame's raw address too")
    p.add_argument("--hash-storage-size", default=40960, type=_cli.unsigned(32, lo=1),
                   help="the number of distinct (process, stack) pairs kept (default 40960)")
    p.add_argument("--stack-storage-size", default=16384, type=_cli.unsigned(32, lo=1),
                   help="the number of unique stack traces kept (default 16384)")
    p.add_argument("-C", "--cpu", type=_cli.cpu_type, default=-1, help="sample this CPU only")
    _stacks.add_args(p)
    _jsonl.add_args(p)
    _cli.duration_arg(p)
    _cli.container_args(p)
    return p.parse_args(argv)


def header(a) -> str:
    rate = f"{a.frequency or 49} Hertz" if not a.count else f"every {a.count} events"
    who = (f"PID {a.pid}" if a.pid else f"TID {a.tid}" if a.tid else "all threads")
    side = "user" if a.user_stacks_only else "kernel" if a.kernel_stacks_only else "user + kernel"
    text = f"Sampling at {rate} of {who} by {side} stack"
    if a.cpu >= 0:
        text += f" on CPU#{a.cpu}"
    return text + (f" for {a.duration} secs." if a.duration < _cli.FOREVER else "... Hit Ctrl-C to end.")


def report(items, stacks: Stacks, a) -> list:
    """Output lines for [(key, count)] (ascending by count, as bcc)."""
    kern, user = not a.user_stacks_only, not a.kernel_stacks_only
    delimit = a.delimited and kern and user
    out = []
    for k, count in sorted(items, key=lambda kv: kv[1]):
        if kern:
            stacks.check(k.kernel_stack_id)
        if user:
            stacks.check(k.user_stack_id)
        both = present(k.kernel_stack_id) and present(k.user_stack_id)
        if a.folded:
            ks = stacks.kernel(k.kernel_stack_id, first_ip=k.kernel_ip,
                               suffix="_[k]" if a.annotations else "") if kern else None
            us = stacks.user(k.user_stack_id, k.pid) if user else None
            out.append(folded(k.name, us, ks, count, delimit and both))
            continue
        ks = us = None
        if kern:
            ks = stacks.kernel(k.kernel_stack_id, True, True, first_ip=k.kernel_ip)
            if a.address and not missing(k.kernel_stack_id):
                ips = stacks.kernel_addresses(k.kernel_stack_id, k.kernel_ip)
                ks = ["0x%-16x %s" % (ip, f) for ip, f in zip(ips, ks)]
        if user:
            us = stacks.user(k.user_stack_id, k.pid, True, True)
            if a.address and not missing(k.user_stack_id):
                us = ["0x%016x %s" % (ip, f)
                      for ip, f in zip(stacks.addresses(k.user_stack_id), us)]
        out.extend(multiline(ks, us, k.name, k.pid, count, delimit and both))
    return out


F = _jsonl.Field
JSON = _jsonl.Intervals("one object at the end: CPU samples per stack and process, fewest "
                        "first (bcc's order)", rows=[
    F("pid", "integer", "process ID"),
    F("comm", "string", "command name"),
    _stacks.KERNEL_STACK, _stacks.USER_STACK,
    F("count", "integer", "samples"),
])


def json_rows(items, stacks: Stacks, a) -> list:
    kern, user = not a.user_stacks_only, not a.kernel_stacks_only
    return [{"pid": k.pid, "comm": k.name, "count": count,
             **_stacks.json_stacks(stacks, k.pid, k.kernel_stack_id if kern else None,
                                   k.user_stack_id if user else None, k.kernel_ip)}
            for k, count in sorted(items, key=lambda kv: kv[1])]


# A sample of --unwind dwarf: the user stack is an Unwound (addresses).
DwarfKey = collections.namedtuple("DwarfKey", "pid user_stack_id kernel_stack_id kernel_ip name")


def samples(items, stacks: Stacks, a) -> list:
    """[(frames root->leaf, count)] for the flame graph and the profile."""
    kern, user = not a.user_stacks_only, not a.kernel_stacks_only
    out = []
    for k, count in items:
        ks = stacks.kernel(k.kernel_stack_id, first_ip=k.kernel_ip) if kern else None
        us = stacks.user(k.user_stack_id, k.pid) if user else None
        out.append((_stacks.stack_frames(k.name, us, ks), count))
    return out


def run(argv=None):
    a = parse(argv)
    if a.cpu >= 0 and a.cpu not in features.online_cpus():
        raise _cli.UsageError(f"CPU {a.cpu} is not online")
    if a.cpu < -1:
        raise _cli.UsageError(f"invalid CPU {a.cpu}")
    limit = perf.max_sample_rate()
    if a.frequency and limit and a.frequency > limit:
        raise _cli.UsageError(f"frequency {a.frequency} Hz is above "
                              f"kernel.perf_event_max_sample_rate ({limit})")
    _stacks.check_args(a, user_stacks=not a.kernel_stacks_only)
    _cli.setup(a)
    with corebpf.Object.open(PROG) as obj:
        obj.rodata.targ_filter_tgid = bool(a.pid)
        obj.rodata.targ_filter_tid = bool(a.tid)
        obj.rodata.targ_include_idle = a.include_idle
        obj.rodata.targ_user_stacks = not a.kernel_stacks_only
        obj.rodata.targ_kernel_stacks = not a.user_stacks_only
        obj.maps["stack_traces"].resize(a.stack_storage_size, "--stack-storage-size")
        obj.maps["counts"].resize(a.hash_storage_size, "--hash-storage-size")
        _stacks.configure(obj, a)
        _cli.apply_containers(obj, a)
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        obj.load()
        for pid in a.pid or ():
            obj.maps["tgids"][pid] = 1
        for tid in a.tid or ():
            obj.maps["tids"][tid] = 1
        perf.attach_sampling(obj.programs["do_perf_event"], freq=0 if a.count else a.frequency or 49,
                             period=a.count or 0, cpus=[a.cpu] if a.cpu >= 0 else None,
                             hardware=True)
        if not a.user_stacks_only:
            kernel_symbols().preload()          # not at exit: kallsyms is slow to read
        stacks = Stacks(obj.maps["stack_traces"])
        rb = None
        dwarf_counts = collections.Counter()
        if _stacks.dwarf(a):
            unw = _stacks.Unwinding(stacks.syms)

            def on_sample(e):
                dwarf_counts[DwarfKey(e.pid, unw.stack(e.pid, e.ustack), e.kernel_stack_id,
                                      e.kernel_ip, e.name)] += 1
            rb = _stacks.Backlog(on_sample)
            rb.rb = obj.ring_buffer("ustacks", rb.add, raw_text=a.json)
        started = time.monotonic()
        if a.json:
            _jsonl.header(header(a))
        elif not a.folded:
            print(header(a), flush=True)
        _cli.sleep_until_done(a.duration, rb)
        obj.detach()
        if rb is not None:
            rb.finish()
        elapsed = time.monotonic() - started
        if not a.folded and not a.json:
            print()
        items = list(dwarf_counts.items()) if rb is not None else \
            obj.maps["counts"].raw_text(a.json).items()
        lines = [] if a.json else report(items, stacks, a)
        if a.json:
            JSON.write(json_rows(items, stacks, a))
        if lines:
            print("\n".join(lines), flush=True)
        warn = stacks.warning("could not be displayed", collisions=True)
        if warn:
            print(warn, file=sys.stderr)
        if obj.read_counter("hash_full"):
            print("WARNING: hash table full. Consider increasing --hash-storage-size.",
                  file=sys.stderr)
        if rb is not None and rb.lost:
            print(f"WARNING: {rb.lost} samples lost (user stack dumps: the ring buffer "
                  "was full).", file=sys.stderr)
        if _stacks.wanted(a):
            freq = 0 if a.count else a.frequency or 49
            rate = f"{freq} Hz" if freq else f"every {a.count} events"
            _stacks.write_outputs(
                a, samples(items, stacks, a), PROG,
                title=f"profile: CPU samples at {rate}, {elapsed:.0f} s",
                unit="samples", sample_type="samples", pprof_unit="count",
                period_type=("cpu", "nanoseconds") if freq else ("cpu", "events"),
                period=int(1e9 / freq) if freq else a.count,
                duration_ns=int(elapsed * 1e9))
    return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
