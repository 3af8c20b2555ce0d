"""Summarize values of function arguments, return values or tracepoint fields as
frequency counts (-C) or log2 histograms (-H), aggregated in the kernel by
programs generated at start (no compiler).

Specifier: {p,r,t,u}:{[library],category}:function(signature)[:type[,type...]:expr[,expr...][:filter]][#label]
    p, r, t, u -- function entry, function return, kernel tracepoint, USDT probe
                  (return probes may use $retval and $latency)
    type       -- C type of each expression (u64, int, size_t, char*, ...)
    expr       -- expressions over args->field, arg1..argN, signature names,
                  $retval $latency $PID $TID $UID $GID $CPU $COMM, struct fields
    filter     -- only count events for which this expression is true

examples:
    argdist -H 't:syscalls:sys_enter_read():int:args->count'
        histogram of read() sizes requested
    argdist -C 't:syscalls:sys_enter_openat():int:args->flags'
        frequency of open flags
    argdist -C 't:syscalls:sys_enter_openat():char*:args->filename:$PID==1234'
        files opened by process 1234
    argdist -C 't:sched:sched_process_exec():char*,u32:args->filename,args->pid#execs'
    argdist -n 2 -i 5 -H 't:block:block_rq_complete():u32:args->nr_sector'
    argdist -C 'r::__vfs_read():u32:$PID:$latency > 100000'   # needs kprobes/fentry
"""
from __future__ import annotations

import struct
import time

from corebpf import histogram
from corebpf.btf import BytesCodec
from corebpf.bpfasm import FP, R0, R1, R2, R7, reg
from corebpf.codegen import CodeGen, ctype_ty
from corebpf.genprog import ARRAY, HASH, GenObject
from corebpf.probespec import Num, SpecError, Var, parse_argdist_spec

from . import _cli, _multi

PROG = "argdist"


class Probe:
    def __init__(self, idx: int, text: str, hist: bool, a):
        self.idx = idx
        self.hist = hist
        self.raw = text
        try:
            s = self.spec = parse_argdist_spec(text)
        except SpecError as e:
            raise _cli.UsageError(str(e)) from None
        pt = s.point
        if pt.kind == "u" or (pt.kind in ("p", "r") and pt.library):
            raise _multi.user_probe_error(pt)
        self.default = s.exprs is None
        if self.default:
            if hist and pt.kind != "r":
                raise _cli.UsageError(f"histograms must have an expression, in '{text}'")
            self.exprs = [Var("$retval", 0)] if pt.kind == "r" else [Num(1, 0)]
            self.types = ["int" if pt.kind == "r" else "u64"]
        else:
            self.exprs = s.exprs
            self.types = s.types
            if hist and len(self.exprs) > 1:
                raise _cli.UsageError(f"histograms can only have 1 expression, in '{text}'")
        self.string_size = a.string_size
        self.label = s.label

    def expr_text(self, i: int) -> str:
        e = self.exprs[i]
        if self.default:
            return "retval"
        return _source_of(self.raw, e)

    def build(self, g, a, kernel_kind):
        pt = self.spec.point
        target = (pt.library, pt.function) if pt.kind == "t" else pt.function
        if pt.kind == "t":
            from corebpf.features import tracepoint_exists
            if not tracepoint_exists(pt.library, pt.function):
                raise _cli.UsageError(f"no tracepoint {pt.library}:{pt.function}")
        ctx = _multi.context_for(pt.kind, target, ret=pt.kind == "r",
                                 kernel_kind=kernel_kind, signature=self.spec.signature,
                                 text=self.raw)
        self.tys = []
        for t in self.types:
            ty = ctype_ty(t, ctx.space, getattr(t, "pos", None), self.raw)
            if ty.is_string:
                ty = None                     # a string key
            elif ty.kind not in ("int", "ptr"):
                raise _cli.UsageError(f"type {t} cannot be counted, in '{self.raw}'")
            self.tys.append(ty)
        if self.hist and self.tys[0] is None:
            raise _cli.UsageError(f"a histogram needs a numeric type, in '{self.raw}'")
        need_latency = _uses_latency(self.exprs) or _uses_latency([self.spec.filter])
        out = []
        if need_latency:
            if pt.kind != "r":
                raise _cli.UsageError(f"$latency needs a return probe (r:), in '{self.raw}'")
            start = g.create_map(f"start_{self.idx}", HASH, 4, 8, 10240)
            ectx = _multi.context_for(pt.kind, target, ret=False, kernel_kind=kernel_kind)
            ecg = CodeGen(ectx, self.raw)
            ecg.prologue()
            ecg.pid_filter(tgid=a.pid, tid=a.tid)
            key = ecg.alloc(8)
            val = ecg.alloc(8)
            ecg.a.call("get_current_pid_tgid")
            ecg.a.stx(4, FP, key, R0)
            ecg.ktime_into(val)
            ecg.a.ld_map_fd(R1, start.fd, start.name)
            ecg.a.mov(R2, reg(FP))
            ecg.a.alu("+", R2, key)
            ecg.a.mov(R0, reg(FP))
            ecg.a.alu("+", R0, val)
            ecg.a.mov(3, reg(R0))
            ecg.a.mov(4, 0)
            ecg.a.call("map_update_elem")
            ecg.epilogue()
            out.append((f"entry_{self.idx}", ecg))
        cg = CodeGen(ctx, self.raw, a.string_size)
        A = cg.a
        cg.prologue()
        cg.pid_filter(tgid=a.pid, tid=a.tid)
        if need_latency:
            key = cg.alloc(8)
            cg.latency_slot = cg.alloc(8)
            A.call("get_current_pid_tgid")
            A.stx(4, FP, key, R0)
            A.ld_map_fd(R1, start.fd, start.name)
            A.mov(R2, reg(FP))
            A.alu("+", R2, key)
            A.call("map_lookup_elem")
            A.jmp("==", R0, 0, "out")
            A.ldx(8, R7, R0, 0)
            A.call("ktime_get_ns")
            A.alu("-", R0, reg(R7))
            A.stx(8, FP, cg.latency_slot, R0)
            A.ld_map_fd(R1, start.fd, start.name)
            A.mov(R2, reg(FP))
            A.alu("+", R2, key)
            A.call("map_delete_elem")
        cg.filter(self.spec.filter)
        if self.hist:
            self.map = g.create_map(f"hist_{self.idx}", ARRAY, 4, 8, histogram.LOG2_SLOTS)
            self._value(cg, 0)
            cg.log2_r0()
            k = cg.alloc(8)
            A.stx(4, FP, k, R0)
            cg.map_add(self.map.fd, self.map.name, k)
        else:
            self.layout = []
            off = 0
            for ty in self.tys:
                self.layout.append((off, ty))
                off += self.string_size if ty is None else 8
            ksize = (off + 7) & ~7
            # keys stay bytes (key_text slices them), also when 8 bytes long
            self.map = g.create_map(f"count_{self.idx}", HASH, ksize, 8, 10240,
                                    key_codec=BytesCodec(ksize))
            k = cg.alloc(ksize)
            cg.zero(FP, k, ksize)
            for i, (o, ty) in enumerate(self.layout):
                if ty is None:
                    cg.string_into(self.exprs[i], FP, k + o, self.string_size)
                else:
                    self._value(cg, i)
                    A.stx(8, FP, k + o, R0)
            cg.map_add(self.map.fd, self.map.name, k, hash_map=True)
        cg.epilogue()
        out.append((f"probe_{self.idx}", cg))
        return out

    def _value(self, cg, i):
        t = cg.rvalue(self.exprs[i])
        if t.kind not in ("int", "ptr"):
            raise SpecError("not a number", self.raw, self.exprs[i].pos)
        ty = self.tys[i]
        if ty.kind == "int":
            cg.convert(ty)

    # -- output ------------------------------------------------------------------------------
    def display(self, top, cumulative) -> str:
        if self.hist:
            if cumulative:
                vals = [v for _, v in sorted(self.map.items())]
            else:
                vals = [v for _, v in sorted(self.map.pop_items())]
            label = self.label or self.expr_text(0)
            return histogram.format_log2(vals, label)
        items = self.map.items() if cumulative else self.map.pop_items()
        rows = sorted(items, key=lambda kv: kv[1])
        if top is not None:
            rows = rows[-top:] if top else []
        out = [self.label or self.raw, "\t%-10s %s" % ("COUNT", "EVENT")]
        for key, count in rows:
            out.append("\t%-10s %s" % (str(count), self.key_text(key)))
        return "\n".join(out) + "\n"

    def key_text(self, key: bytes) -> str:
        if self.default and self.spec.point.kind != "r":
            return "total calls"
        parts = []
        for i, (o, ty) in enumerate(self.layout):
            if ty is None:
                raw = key[o:o + self.string_size]
                j = raw.find(b"\0")
                val = (raw[:j] if j >= 0 else raw).decode("utf-8", "replace")
            else:
                v = struct.unpack_from("<Q", key, o)[0]
                if ty.kind == "int" and ty.signed and v >> 63:
                    v -= 1 << 64
                val = str(v)
            parts.append("%s = %s" % (self.expr_text(i), val))
        return ", ".join(parts)


def _source_of(text: str, node) -> str:
    """The source text of an expression node (from its position to its end)."""
    from corebpf.probespec import _unparse
    return _unparse(node) if node is not None else ""


def _uses_latency(nodes) -> bool:
    from corebpf.probespec import Node
    for n in nodes:
        if n is None:
            continue
        if isinstance(n, Var) and n.name == "$latency":
            return True
        for f in getattr(type(n), "fields", ()):
            v = getattr(n, f)
            if isinstance(v, Node) and _uses_latency([v]):
                return True
            if isinstance(v, list) and _uses_latency([x for x in v if isinstance(x, Node)]):
                return True
    return False


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__)
    p.add_argument("-p", "--pid", type=_cli.pid_type, help="trace this process only")
    p.add_argument("-t", "--tid", type=_cli.tid_type, help="trace this thread only")
    p.add_argument("-z", "--string-size", type=_cli.positive_int, default=80,
                   help="bytes to read from char* values (default: 80)")
    p.add_argument("-i", "--interval", type=_cli.positive_int, default=1,
                   help="output interval, in seconds (default: 1)")
    p.add_argument("-d", "--duration", type=_cli.positive_int, help="total duration, seconds")
    p.add_argument("-n", "--number", type=_cli.positive_int, dest="count",
                   help="number of outputs")
    p.add_argument("-c", "--cumulative", action="store_true",
                   help="do not clear histograms and counts at each interval")
    p.add_argument("-T", "--top", type=_cli.nonneg_int,
                   help="number of top results to show (counts only)")
    p.add_argument("-H", "--histogram", action="append", nargs="+", dest="hist",
                   metavar="specifier", help="probe specifier for a histogram")
    p.add_argument("-C", "--count", action="append", nargs="+", dest="freq",
                   metavar="specifier", help="probe specifier for a frequency count")
    p.add_argument("-I", "--include", action="append",
                   help="C headers: not needed (types come from the kernel's BTF)")
    a = p.parse_args(argv)
    if a.string_size > 256:
        p.error("-z: at most 256 (BPF stack)")
    return a


def run(argv=None):
    a = parse(argv)
    if a.include:
        raise _cli.UsageError("-I: no C is compiled; struct types come from the kernel's BTF")
    freq = [s for group in (a.freq or []) for s in group]
    hist = [s for group in (a.hist or []) for s in group]
    if not freq and not hist:
        raise _cli.UsageError("at least one specifier is required")
    _cli.setup(a)
    probes = [Probe(i, s, False, a) for i, s in enumerate(freq)]
    probes += [Probe(len(freq) + i, s, True, a) for i, s in enumerate(hist)]
    kkind = None
    if any(pr.spec.point.kind in ("p", "r") for pr in probes):
        kkind = _multi.kernel_probe_kind()
    with GenObject(PROG) as g:
        progs = []
        try:
            for pr in probes:
                progs.extend(pr.build(g, a, kkind))
        except SpecError as e:
            raise _cli.UsageError(str(e)) from None
        if a.verbose or a.ebpf:
            _multi.print_programs(progs)
            if a.ebpf:
                return 0
        for name, cg in progs:
            _multi.load_and_attach(g, name, cg)
        done = 0
        start = time.monotonic()
        while True:
            if _cli.wait_stop(a.interval):
                return 0                  # bcc's argdist exits without printing
            out = ["[%s]" % time.strftime("%H:%M:%S")]
            for pr in probes:
                text = pr.display(a.top, a.cumulative)
                if text:
                    out.append(text.rstrip("\n"))
            print("\n".join(out), flush=True)
            done += 1
            if a.count and done >= a.count:
                return 0
            if a.duration and time.monotonic() - start >= a.duration:
                return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
