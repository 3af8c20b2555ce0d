"""What the stack tools share: `--unwind fp|dwarf`, `--unwind-stack-size`,
`--svg FILE` and `--pprof FILE`.

The hook for a stack tool (profile, offcputime, stackcount, trace -U; and
offwaketime, wakeuptime, memleak as they land):

    _stacks.add_args(parser)                    # the options
    _stacks.check_args(a)                       # after parsing: bad combinations
    _stacks.configure(obj, a)                   # before load: DWARF dumps or not
    unw = _stacks.Unwinding(stacks.syms)        # --unwind dwarf: records -> Unwound
    key.user_stack_id = unw.stack(e.pid, e.ustack)
    _stacks.write_outputs(a, samples, title=..., unit=...)

The BPF side includes bpf_src/ustack.bpf.h (USTACK_SCRATCH + ustack_capture
+ a ring buffer of dump records named `ustacks`, switched on by
`targ_dwarf`).  A DWARF-unwound user stack is a
corebpf.symbols.stacks.Unwound (a tuple of addresses) where a stack id was:
Stacks.user(), folded(), multiline() take either.  `samples` for the
pictures are [(frames root->leaf [(name, kind)], value)]: build them with
stack_frames().
"""
from __future__ import annotations

import collections
import os
import sys

from corebpf.symbols.stacks import Unwound

from . import _cli, _jsonl

DEFAULT_DUMP = 16384
MAX_DUMP = 65536                # USTACK_MAX in bpf_src/ustack.bpf.h


def dump_size(text: str) -> int:
    import argparse
    try:
        v = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid size: {text!r}") from None
    if not 512 <= v <= MAX_DUMP:
        raise argparse.ArgumentTypeError(f"must be 512 to {MAX_DUMP} bytes: {text}")
    return v


dump_size.lo, dump_size.hi = 512, MAX_DUMP      # see tools/_cli.py, "numbers"


def add_args(p, unwind: bool = True, pictures: bool = True):
    """--unwind/--unwind-stack-size (unwind) and --svg/--pprof (pictures)."""
    if unwind:
        p.add_argument("--unwind", choices=("fp", "dwarf"), default="fp",
                       help="user stack unwinding: fp walks frame pointers in the kernel "
                            "(default); dwarf copies the top of the user stack and unwinds "
                            "it with the binaries' CFI (code built without frame pointers)")
        p.add_argument("--unwind-stack-size", type=dump_size, default=DEFAULT_DUMP,
                       metavar="BYTES",
                       help=f"--unwind dwarf: bytes of user stack copied per event "
                            f"(default {DEFAULT_DUMP}, at most {MAX_DUMP})")
    if pictures:
        p.add_argument("--svg", metavar="FILE",
                       help="also write an interactive flame graph (SVG) to FILE")
        p.add_argument("--pprof", metavar="FILE",
                       help="also write a pprof profile (gzipped profile.proto) to FILE")


def check_args(a, user_stacks: bool = True):
    """Bad combinations and unwritable files, before anything is loaded.
    user_stacks: whether this run shows user stacks at all."""
    if getattr(a, "unwind", "fp") == "dwarf":
        if not user_stacks:
            raise _cli.UsageError("--unwind dwarf unwinds user stacks, "
                                  "but this run shows kernel stacks only")
    for opt in ("svg", "pprof"):
        path = getattr(a, opt, None)
        if path:
            check_writable(opt, path)
    if getattr(a, "pprof", None):
        try:
            import google.protobuf  # noqa: F401
        except ImportError:
            raise _cli.UsageError("--pprof needs the protobuf package "
                                  "(pip install 'corebpf[pprof]', or Debian's "
                                  "python3-protobuf)") from None


def check_writable(opt: str, path: str):
    """UsageError unless --opt path can be written (checked before tracing starts)."""
    d = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise _cli.UsageError(f"--{opt} {path}: is a directory")
    if not os.path.isdir(d):
        raise _cli.UsageError(f"--{opt} {path}: no such directory")
    if not os.access(d, os.W_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
        raise _cli.UsageError(f"--{opt} {path}: not writable")


def ring_bytes(dump: int, cpus: int) -> int:
    """Ring buffer size for dumps: two seconds of 99 Hz samples on every CPU
    (at least 512 records), so a consumer kept off the CPU for a while by a
    busy machine loses nothing; a power of two, 4 to 64 MiB."""
    want = max(512, 2 * 99 * cpus) * (dump + 512)
    size = 1 << 22
    while size < want and size < 1 << 26:
        size <<= 1
    return size


def dwarf(a) -> bool:
    return getattr(a, "unwind", "fp") == "dwarf"


def configure(obj, a, ring: str = "ustacks", scratch: str = "ustack_scratch_map"):
    """Before load: with --unwind dwarf switch the object to dump mode (and
    size its per-CPU scratch); without, shrink the dump ring buffer and
    scratch to nothing.  Raises MissingFeature when the kernel cannot give
    BPF programs the user registers."""
    from corebpf import features
    if dwarf(a):
        require_dwarf()
        obj.rodata.targ_dwarf = True
        obj.rodata.targ_ustack_size = a.unwind_stack_size
        obj.maps[scratch].max_entries = features.possible_cpus()
        obj.maps[ring].max_entries = ring_bytes(a.unwind_stack_size,
                                                len(features.online_cpus()))
    else:
        obj.maps[ring].max_entries = os.sysconf("SC_PAGE_SIZE")
        obj.maps[scratch].max_entries = 1


def require_dwarf():
    """MissingFeature unless BPF programs can read the user registers."""
    from corebpf import MissingFeature, features
    if not features.task_pt_regs():
        raise MissingFeature("bpf_task_pt_regs (Linux 5.15)",
                             "--unwind dwarf reads the user registers with it")


# -- generated programs (stackcount, trace): corebpf.compiler.codegen's twin of
# ustack.bpf.h.  A record is built in a per-CPU scratch map value (`rec`
# register), the dump follows its header at `hdr` (8-aligned), and the
# record goes out with bpf_ringbuf_output, as long as what was copied.

def gen_maps(g, a, hdr: int, sized_by: str = "--unwind-stack-size"):
    """--unwind dwarf in a GenObject: the fds (scratch, ring, lost) of the
    maps for records of a hdr-byte header followed by a struct ustack_dump
    (ring: `ustacks`, whose RingBuffer.lost counts records that did not fit)."""
    from corebpf import features
    from corebpf.compiler.codegen import ustack_dump_size
    from corebpf.compiler.genprog import ARRAY, RINGBUF
    require_dwarf()
    scratch = g.create_map("ustack_scratch", ARRAY, 4, hdr + ustack_dump_size(),
                           features.possible_cpus(), sized_by=sized_by)
    ring = g.create_map("ustacks", RINGBUF, 0, 0,
                        ring_bytes(a.unwind_stack_size, len(features.online_cpus())),
                        sized_by=sized_by)
    lost = g.create_map("ustacks_lost", ARRAY, 4, 8, 1)
    g.add_counter("__corebpf_lost__ustacks", "ustacks_lost", 0)
    return scratch.fd, ring.fd, lost.fd


def emit_scratch(cg, scratch_fd: int, rec: int):
    """rec = this CPU's scratch record (the program ends if there is none)."""
    from corebpf.compiler.bpfasm import FP, R0, R1, R2, reg
    A = cg.a
    key = cg.alloc(8)
    A.call("get_smp_processor_id")
    A.stx(4, FP, key, R0)
    A.ld_map_fd(R1, scratch_fd, "ustack_scratch")
    A.mov(R2, reg(FP))
    A.alu("+", R2, key)
    A.call("map_lookup_elem")
    A.jmp("==", R0, 0, "out")
    A.mov(rec, reg(R0))


def emit_dump_output(cg, a, rec: int, hdr: int, fds):
    """Capture the user stack into the record's dump at hdr and send
    hdr + dump header + the bytes copied to the ring (fds: gen_maps()'s);
    a full ring counts the record as lost."""
    from corebpf.compiler.bpfasm import FP, R0, R1, R2, R3, R4, reg
    _, ring_fd, lost_fd = fds
    from corebpf.compiler.codegen import emit_ustack_capture, ustack_dump_size, ustack_layout
    A = cg.a
    emit_ustack_capture(cg, rec, hdr, a.unwind_stack_size)
    A.mov(R3, reg(R0))
    A.alu("+", R3, hdr + ustack_layout()[1])
    A.jmp(">", R3, hdr + ustack_dump_size(), "out")     # bounds for the verifier
    A.ld_map_fd(R1, ring_fd, "ustacks")
    A.mov(R2, reg(rec))
    A.mov(R4, 0)
    A.call("ringbuf_output")
    A.jmp("==", R0, 0, "out")
    key = cg.alloc(8)
    A.st(4, FP, key, 0)
    cg.map_add(lost_fd, "ustacks_lost", key)


Dump = collections.namedtuple("Dump", "regs size flags data")


def dump_at(raw: bytes, off: int) -> Dump:
    """The struct ustack_dump at byte off of a generated program's record."""
    import struct
    from corebpf.compiler.codegen import ustack_layout
    nregs, data = ustack_layout()
    regs = struct.unpack_from(f"<{nregs}Q", raw, off)
    size, flags = struct.unpack_from("<II", raw, off + nregs * 8)
    return Dump(regs, size, flags, raw[off + data:off + data + size])


class Unwinding:
    """--unwind dwarf: dumped user contexts -> Unwound stacks (addresses)."""

    def __init__(self, syms):
        from corebpf.symbols.unwind import Unwinder
        self.unwinder = Unwinder(syms)

    def stack(self, pid: int, dump) -> Unwound:
        """The unwound user stack of a record's struct ustack_dump."""
        if dump.flags or not dump.size:
            return Unwound(())
        return Unwound(self.unwinder.unwind(pid, dump.regs, dump.data))


class Backlog:
    """Take dump records off the ring buffer at once, unwind them between
    polls: a file's CFI parsed for the first time (a new process, ~0.1-0.5 s)
    must not leave the ring buffer undrained meanwhile.  handler(record)
    does the unwinding; at most `limit` records wait (the rest are counted
    in `dropped`).  Give it to _cli.sleep_until_done() as the buffer."""

    def __init__(self, handler, limit: int = 4096):
        import collections
        self.handler = handler
        self.limit = limit
        self.queue = collections.deque()
        self.dropped = 0
        self.rb = None

    def add(self, record):
        if len(self.queue) >= self.limit:
            self.dropped += 1
        else:
            self.queue.append(record)

    def poll(self, timeout_ms: int) -> int:
        n = self.rb.poll(0 if self.queue else timeout_ms)
        self.work(0.05)
        return n

    def work(self, budget: float):
        import time
        end = time.monotonic() + budget
        done = 0
        while self.queue and time.monotonic() < end:
            self.handler(self.queue.popleft())
            done += 1
            if done % 16 == 0:
                self.rb.poll(0)         # keep the ring buffer drained

    def finish(self):
        """After detach: the last records, all unwound."""
        self.rb.consume()
        while self.queue:
            self.handler(self.queue.popleft())

    @property
    def lost(self) -> int:
        return self.dropped + (self.rb.lost if self.rb is not None else 0)


def stack_frames(comm, user, kernel, delimiter: bool = False) -> list:
    """Frames root->leaf for the pictures: the task name, user frames, then
    kernel frames (user/kernel: frame texts innermost first, or None)."""
    from corebpf.report import KERNEL, PROCESS, USER
    out = [(comm, PROCESS)] if comm is not None else []
    out.extend((f, USER) for f in reversed(user or ()))
    if delimiter:
        out.append(("-", PROCESS))
    out.extend((f, KERNEL) for f in reversed(kernel or ()))
    return out


# --json: a row's stacks (frame[] fields, _jsonl.frames), as the stack tools print them
# (filled by json_stacks() as extras: a record without them leaves them out)
KERNEL_STACK = _jsonl.Field("kernel_stack", "frame[]", "kernel stack, innermost frame first; "
                            "[] if lost or none (not with -U)", get=lambda r: None,
                            optional=True)
USER_STACK = _jsonl.Field("user_stack", "frame[]", "user stack, innermost frame first; [] "
                          "if lost or none (not with -K)", get=lambda r: None, optional=True)


def json_stacks(stacks, pid: int, kernel_id=None, user_id=None, first_ip: int = 0,
                skip_probe: bool = False) -> dict:
    """{kernel_stack, user_stack} of one row for --json (a stack id of None:
    that side is not asked for).  Resolve user stacks while the process lives."""
    out = {}
    if kernel_id is not None:
        out["kernel_stack"] = _jsonl.frames(
            stacks.kernel_addresses(kernel_id, first_ip, skip_probe), stacks.syms.kernel.resolve)
    if user_id is not None:
        out["user_stack"] = _jsonl.frames(stacks.addresses(user_id),
                                          stacks.syms.process(pid).resolve)
    return out


def wanted(a) -> bool:
    """True if this run writes a picture or a profile."""
    return bool(getattr(a, "svg", None) or getattr(a, "pprof", None))


def write_outputs(a, samples, prog: str, title: str, unit: str = "samples",
                  sample_type: str = "samples", pprof_unit: str = "count",
                  period_type=None, period: int = 0, duration_ns: int = 0):
    """Write --svg and --pprof for [(frames root->leaf, value)]; a failure
    is one line on stderr (the text report was printed already)."""
    if getattr(a, "svg", None):
        from corebpf.report import flamegraph
        total = sum(v for _, v in samples)
        sub = f"{len(samples)} stacks, {total:,} {unit}"
        _write(a.svg, flamegraph.render(samples, title=title, unit=unit,
                                        subtitle=sub).encode("utf-8"), prog)
    if getattr(a, "pprof", None):
        from corebpf.report import pprof
        _write(a.pprof, pprof.encode(samples, sample_type=sample_type, unit=pprof_unit,
                                     period_type=period_type, period=period,
                                     duration_ns=duration_ns, comment=title), prog)


def _write(path: str, data: bytes, prog: str):
    """Write through a new temporary file beside path (O_EXCL: no following
    a symlink planted in a shared directory), then rename it over path."""
    import tempfile
    d = os.path.dirname(os.path.abspath(path))
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=".corebpf-", dir=d)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as e:
        if tmp:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        print(f"{prog}: error: {path}: {e.strerror}", file=sys.stderr)
