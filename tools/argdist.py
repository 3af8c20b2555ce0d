"""Summarize values of function arguments, return values, USDT arguments or
tracepoint fields as frequency counts (-C) or log2 histograms (-H),
aggregated in the kernel by programs generated at start (no compiler).

Specifier: {p,r,t,u}:{[library],category}:function(signature)[:type[,type...]:expr[,expr...][:filter]][#label]
    p, r, t, u -- function entry, function return, kernel tracepoint, USDT probe;
                  return probes may use $retval, $latency (ns since entry) and
                  $entry(param) (a parameter's value at entry)
    library    -- c, a library name, a path or an executable (empty: kernel
                  function, which needs kprobes or fentry)
    signature  -- the function's parameters as in C (names usable in expr)
    type       -- C type of each expression (u64, int, size_t, char*, ...)
    expr       -- expressions over parameters, arg1..argN, args->field,
                  $retval $latency $PID $TID $UID $GID $CPU $COMM, struct fields
    filter     -- only count events for which this expression is true
    label      -- the label of this probe's output

examples:
    argdist -H 'p:c:malloc(size_t size):size_t:size'
        histogram of malloc() sizes
    argdist -p 1005 -C 'p:c:malloc(size_t size):size_t:size:size==16'
        how often PID 1005 calls malloc(16)
    argdist -C 'r:c:gets():char*:(char*)$retval#snooped strings'
    argdist -H 'r:c:read(int fd, void *buf, size_t count):size_t:$entry(count):$latency > 1000000'
        sizes of read() calls that took more than 1 ms
    argdist -p 1005 -H 'r:c:read()'
        histogram of read() results in PID 1005
    argdist -C 'u:/usr/bin/python3.11:function__entry():char*:arg2'
        Python functions called (USDT argument 2)
    argdist -H 't:syscalls:sys_enter_read():int:args->count'
        histogram of read() sizes requested
    argdist -C 't:syscalls:sys_enter_openat():char*:args->filename:$PID==1234'
        files opened by process 1234
    argdist -C 't:sched:sched_process_exec():char*,u32:args->filename,args->pid#execs'
    argdist -n 2 -i 5 -H 't:block:block_rq_complete():u32:args->nr_sector'
    argdist -C 'r::__vfs_read():u32:$PID:$latency > 100000'   # needs kprobes/fentry
"""
from __future__ import annotations

import re
import struct
import time

from corebpf import histogram
from corebpf.compiler.bpfasm import FP, R0, R1, R2, R7, reg
from corebpf.compiler.codegen import CodeGen, ctype_ty
from corebpf.compiler.genprog import ARRAY, HASH, GenObject
from corebpf.compiler.probespec import Name, Num, SpecError, Var, parse_argdist_spec

from . import _cli, _jsonl, _multi

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
        self.user = pt.kind == "u" or (pt.kind in ("p", "r") and bool(pt.library))
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
        """The expression as bcc shows it: as written, $entry(x) shown as x."""
        if self.default:
            return "retval"
        return re.sub(r"\$entry\(\s*(\w+)\s*\)", r"\1", self.spec.expr_texts[i])

    def targets(self, a) -> list:
        """[(kind, target)]: one, or one per location of a USDT probe."""
        pt = self.spec.point
        if pt.kind == "t":
            from corebpf.core.features import tracepoint_exists
            if not tracepoint_exists(pt.library, pt.function):
                raise _cli.UsageError(f"no tracepoint {pt.library}:{pt.function}")
            return [("t", (pt.library, pt.function))]
        if pt.kind == "u":
            rx = re.compile("^" + re.escape(pt.function) + "$")
            sites = _multi.usdt_sites(pt.library, rx, pid=a.pid)
            if not sites:
                from corebpf.symbols.elf import ElfError
                raise ElfError(f"{_multi.library_path(pt.library, a.pid)}: no USDT probe "
                               f"{pt.function}")
            return [("usdt", site) for _, site in sites]
        if pt.library:
            return [("u", _multi.user_function(pt.library, pt.function, a.pid))]
        return [("p", pt.function)]

    def build(self, g, a, kernel_kind):
        """[(name, CodeGen)]: the probe's programs (per USDT location; return
        probes using $latency or $entry() get an entry program too)."""
        pt = self.spec.point
        text = self.raw
        self.tys = []
        space = "user" if self.user else "kernel"
        for t in self.types:
            ty = ctype_ty(t, space, getattr(t, "pos", None), text)
            if ty.is_string:
                ty = None                     # a string key
            elif ty.kind not in ("int", "ptr"):
                raise _cli.UsageError(f"type {t} cannot be counted, in '{text}'")
            self.tys.append(ty)
        if self.hist and self.tys[0] is None:
            raise _cli.UsageError(f"a histogram needs a numeric type, in '{text}'")
        nodes = list(self.exprs) + [self.spec.filter]
        latency = _uses_latency(nodes)
        entries = _entry_params(nodes)
        if (latency or entries) and pt.kind != "r":
            raise _cli.UsageError(f"$latency and $entry() need a return probe (r:), "
                                  f"in '{text}'")
        params = [n for n, _ in self.spec.signature or []]
        for name in entries:
            if name not in params:
                raise _cli.UsageError(f"$entry({name}): no such parameter in the signature, "
                                      f"in '{text}'")
        if self.hist:
            self.map = g.create_map(f"hist_{self.idx}", ARRAY, 4, 8, histogram.LOG2_SLOTS)
        else:
            self.layout = []
            off = 0
            for ty in self.tys:
                self.layout.append((off, ty))
                off += self.string_size if ty is None else 8
            self.ksize = (off + 7) & ~7
            self.map = g.create_map(f"count_{self.idx}", HASH, self.ksize, 8, 10240)
        start = None
        vsize = 8 * (len(entries) + 1)
        if latency or entries:
            # per thread: the $entry() values, then the entry time
            start = g.create_map(f"entry_{self.idx}", HASH, 4, vsize, 10240)
        out = []
        for j, (kind, target) in enumerate(self.targets(a)):
            sfx = f"{self.idx}_{j}" if j else f"{self.idx}"
            entry_tys = {}
            if start is not None:
                ecg = self._entry_program(kind, target, kernel_kind, a, start, entries,
                                          vsize, entry_tys)
                out.append((f"entry_{sfx}", ecg))
            ctx = _multi.context_for(kind, target, ret=pt.kind == "r",
                                     kernel_kind=kernel_kind, signature=self.spec.signature,
                                     text=text, display=pt.function)
            cg = CodeGen(ctx, text, a.string_size)
            A = cg.a
            cg.prologue()
            cg.pid_filter(tgid=a.pid, tid=a.tid)
            if start is not None:
                self._fetch_entry(cg, start, entries, entry_tys, vsize, latency)
            cg.filter(self.spec.filter)
            if self.hist:
                self._value(cg, 0)
                cg.log2_r0()
                k = cg.alloc(8)
                A.stx(4, FP, k, R0)
                cg.map_add(self.map.fd, self.map.name, k)
            else:
                k = cg.alloc(self.ksize)
                cg.zero(FP, k, self.ksize)
                for i, (o, ty) in enumerate(self.layout):
                    if ty is None:
                        cg.string_into(self.exprs[i], FP, k + o, self.string_size)
                    else:
                        self._value(cg, i)
                        A.stx(8, FP, k + o, R0)
                cg.map_add(self.map.fd, self.map.name, k, hash_map=True)
            cg.epilogue()
            out.append((f"probe_{sfx}", cg))
        return out

    def _entry_program(self, kind, target, kernel_kind, a, start, entries, vsize, tys):
        """At function entry: store each $entry() parameter, then the time,
        keyed by thread; tys receives each parameter's type."""
        ectx = _multi.context_for(kind, target, ret=False, kernel_kind=kernel_kind,
                                  signature=self.spec.signature, text=self.raw)
        e = CodeGen(ectx, self.raw)
        e.prologue()
        e.pid_filter(tgid=a.pid, tid=a.tid)
        key = e.alloc(8)
        val = e.alloc(vsize)
        for i, name in enumerate(entries):
            tys[name] = e.rvalue(Name(name, 0))
            e.a.stx(8, FP, val + 8 * i, R0)
        e.a.call("get_current_pid_tgid")
        e.a.stx(4, FP, key, R0)
        e.ktime_into(val + 8 * len(entries))
        e.map_update(start.fd, start.name, key, val)
        e.epilogue()
        return e

    def _fetch_entry(self, cg, start, entries, tys, vsize, latency):
        """At return: the thread's entry record (none: not seen entering,
        skip), its values into stack slots for $entry(), $latency; delete it."""
        A = cg.a
        key = cg.alloc(8)
        A.call("get_current_pid_tgid")
        A.stx(4, FP, key, R0)
        A.ld_map_fd(R1, start.fd, start.name)
        A.mov(R2, reg(FP))
        A.alu("+", R2, key)
        A.call("map_lookup_elem")
        A.jmp("==", R0, 0, "out")
        cg.entry_slots = {}
        for i, name in enumerate(entries):
            slot = cg.alloc(8)
            A.ldx(8, R1, R0, 8 * i)
            A.stx(8, FP, slot, R1)
            cg.entry_slots[name] = (slot, tys[name])
        A.ldx(8, R7, R0, 8 * len(entries))
        if latency:
            cg.latency_slot = cg.alloc(8)
            A.call("ktime_get_ns")
            A.alu("-", R0, reg(R7))
            A.stx(8, FP, cg.latency_slot, R0)
        A.ld_map_fd(R1, start.fd, start.name)
        A.mov(R2, reg(FP))
        A.alu("+", R2, key)
        A.call("map_delete_elem")

    def _value(self, cg, i):
        t = cg.rvalue(self.exprs[i])
        if t.kind not in ("int", "ptr"):
            raise SpecError("not a number", self.raw, self.exprs[i].pos)
        ty = self.tys[i]
        if ty.kind == "int":
            cg.convert(ty)

    # -- output ------------------------------------------------------------------------------
    def json_rows(self, top, cumulative) -> list:
        """--json: the rows of one interval (as display() reads the map)."""
        row = {"probe": self.idx, "specifier": self.raw,
               "exprs": [] if self.default and self.spec.point.kind != "r" else
               [self.expr_text(i) for i in range(len(self.exprs))]}
        if self.hist:
            items = self.map.items() if cumulative else self.map.pop_items()
            vals = [v for _, v in sorted(items)]
            return [{**row, "label": self.label or self.expr_text(0),
                     "buckets": _jsonl.buckets(vals)}]
        items = self.map.items() if cumulative else self.map.pop_items()
        rows = sorted(items, key=lambda kv: kv[1])
        if top is not None:
            rows = rows[-top:] if top else []
        return [{**row, "label": self.label or self.raw, "count": int(count),
                 "values": self.key_values(key, raw=True)} for key, count in rows]

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

    def key_values(self, key: bytes, raw: bool = False) -> list:
        """The expressions' values in a key: numbers, strings (char*; exact
        with raw, else escaped for a terminal); [] for "total calls"."""
        if self.default and self.spec.point.kind != "r":
            return []
        if isinstance(key, int):        # keys of 1, 2, 4 or 8 bytes decode to ints
            key = key.to_bytes(self.map.key_size, "little")
        vals = []
        for o, ty in self.layout:
            if ty is None:
                b = key[o:o + self.string_size]
                j = b.find(b"\0")
                vals.append((_jsonl.raw if raw else _cli.text)(b[:j] if j >= 0 else b))
            else:
                v = struct.unpack_from("<Q", key, o)[0]
                if ty.kind == "int" and ty.signed and v >> 63:
                    v -= 1 << 64
                vals.append(v)
        return vals

    def key_text(self, key: bytes) -> str:
        if self.default and self.spec.point.kind != "r":
            return "total calls"
        return ", ".join("%s = %s" % (self.expr_text(i), v)
                         for i, v in enumerate(self.key_values(key)))


def _uses_latency(nodes) -> bool:
    from corebpf.compiler.probespec import Node
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


def _entry_params(nodes) -> list:
    """Parameter names used as $entry(name), in first-use order."""
    from corebpf.compiler.probespec import Call, Node
    out = []

    def walk(n):
        if isinstance(n, Call) and n.name == "$entry":
            if n.args[0].name not in out:
                out.append(n.args[0].name)
        for f in getattr(type(n), "fields", ()):
            v = getattr(n, f)
            for x in (v if isinstance(v, list) else [v]):
                if isinstance(x, Node):
                    walk(x)
    for n in nodes:
        if n is not None:
            walk(n)
    return out


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__)
    p.add_argument("-p", "--pid", type=_cli.pid_type, help="trace this process only")
    p.add_argument("-t", "--tid", type=_cli.tid_type, help="trace this thread only")
    p.add_argument("-z", "--string-size", type=_cli.Number(1, 256, "bytes"), default=80,
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
    _jsonl.add_args(p)
    a = p.parse_args(argv)
    return a


F = _jsonl.Field
JSON = _jsonl.Intervals("one object per interval: each specifier's counts (-C: a row per "
                        "distinct value) or histogram (-H: one row)", rows=[
    F("probe", "integer", "the specifier's index (the -C ones first, then -H, as given)"),
    F("specifier", "string", "the specifier as given"),
    F("label", "string", "its #label, or what bcc shows in its place"),
    F("exprs", "string[]", "the expressions counted ([] for total calls)"),
    F("count", "integer", "-C: events with these values", optional=True),
    F("values", "value[]", "-C: the expressions' values (numbers; strings for char*)",
      optional=True),
    F("buckets", "bucket[]", "-H: log2 histogram of the expression", optional=True),
])


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
    kkind = _multi.probe_kind_for(
        {"u" if pr.user else "p" if pr.spec.point.kind in ("p", "r") else pr.spec.point.kind
         for pr in probes})
    with GenObject(PROG) as g:
        progs = []
        try:
            for pr in probes:
                progs.extend(pr.build(g, a, kkind))
        except SpecError as e:
            raise _cli.UsageError(str(e)) from None
        if a.verbose or a.ebpf:
            _multi.print_programs(progs, a.json)
            if a.ebpf:
                return 0
        _multi.attach_all(g, progs)
        done = 0
        start = time.monotonic()
        while True:
            if _cli.wait_stop(a.interval):
                return 0                  # bcc's argdist exits without printing
            if a.json:
                JSON.write([r for pr in probes for r in pr.json_rows(a.top, a.cumulative)])
            else:
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
