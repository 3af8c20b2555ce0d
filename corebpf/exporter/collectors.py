"""The exporter's collectors: one per tool object, read at scrape time.

A collector opens the tool's own compiled object (`Object.open(tool)`: the
same programs and probe fallbacks as the tool), sets the tool's rodata for
the keys it exports plus `targ_metrics` (the BPF side's exporter mode:
exact nanosecond sums for histograms, in-kernel counts where the tool
emits events), loads, attaches, and at each scrape turns its maps into
metric families.  Nothing is done per event in Python.

Histograms: the BPF side fills bcc's log2 slots of microseconds (slot k
holds [2^(k-1), 2^k - 1] us, slot 1 also 0); a value in slot k was shorter
than 2^k us, so the cumulative count up to slot k is the `le` bucket
2^k us, in seconds.  Buckets go from 2 us to 2^26 us (67 s); longer
values are in +Inf only.  `_sum` is the exact sum of the nanoseconds.
"""
from __future__ import annotations

import os
import re

import corebpf
from corebpf import features, sysactions
from corebpf.core.object import AUTO_ATTACH

# le buckets: 2^k microseconds for k in 1..HIST_TOP
HIST_TOP = 26
_LE = None


def _le_labels():
    global _LE
    if _LE is None:
        from prometheus_client.utils import floatToGoString
        _LE = [floatToGoString((1 << k) / 1e6) for k in range(1, HIST_TOP + 1)]
    return _LE


def log2_buckets(slots) -> list:
    """[(le, cumulative count)] of bcc log2 slots of microseconds, with +Inf."""
    out = []
    total = slots[0]
    les = _le_labels()
    for k in range(1, HIST_TOP + 1):
        total += slots[k]
        out.append((les[k - 1], total))
    out.append(("+Inf", sum(slots)))
    return out


def merge_hists(acc: dict, key, slots, sum_ns: int):
    """Add one map value's slots and sum into acc[key] = [slots list, sum_ns]."""
    cur = acc.get(key)
    if cur is None:
        acc[key] = [list(slots), sum_ns]
        return
    s = cur[0]
    for i, v in enumerate(slots):
        s[i] += v
    cur[1] += sum_ns


def histogram(name: str, doc: str, labels: list, hists: dict):
    """A HistogramMetricFamily from {label values tuple: [slots, sum_ns]}."""
    from prometheus_client.core import HistogramMetricFamily
    m = HistogramMetricFamily(name, doc, labels=labels)
    for key, (slots, sum_ns) in sorted(hists.items()):
        m.add_metric(list(key), log2_buckets(slots), sum_ns / 1e9)
    return m


def counter(name: str, doc: str, labels: list, values: dict):
    """A CounterMetricFamily from {label values tuple: value}."""
    from prometheus_client.core import CounterMetricFamily
    m = CounterMetricFamily(name, doc, labels=labels)
    for key, v in sorted(values.items()):
        m.add_metric(list(key), v)
    return m


FAMILIES = {2: "ipv4", 10: "ipv6"}


def family_name(af: int) -> str:
    return FAMILIES.get(af, str(af))


def percpu_sum(values) -> int:
    return sum(values) if isinstance(values, list) else values


def syscall_tracepoints_only(obj):
    """Before load: turn off programs on syscalls this kernel does not have
    (syscalls:sys_enter_X tracepoints absent on this architecture)."""
    for p in obj.programs.values():
        if p.section.startswith("tracepoint/syscalls/"):
            if not features.tracepoint_exists("syscalls", p.section.rsplit("/", 1)[1]):
                p.autoload = False


def attach_kprobe_any(prog, candidates):
    """Attach `prog` to the first kernel function matching one of `candidates`."""
    for c in candidates:
        name = features.kernel_function_matching(c)
        if name:
            return prog.attach_kprobe(name)
    raise corebpf.MissingFeature(f"no kernel function for {prog.name} (looked for "
                                 + ", ".join(c.replace("\\", "") for c in candidates) + ")")


class Collector:
    """Base: open the tool's object, configure, load, attach; `collect()` per scrape.

    Subclasses set `name` (the collector and the tool object), `options`
    ({option: default} accepted in the config file) and implement
    `configure(obj)` (before load) and `families()` (per scrape)."""

    name = ""
    options: dict = {}
    # ring buffers the exporter mode does not use: shrunk to one page
    unused_ringbufs: tuple = ()
    # Programs on raw_syscalls sys_enter/sys_exit, run on every syscall of
    # every process: their tp_btf variant first, even where the minimal BTF
    # would make the object prefer raw_tp.  tp_btf reads the registers by
    # direct loads; raw_tp needs a bpf_probe_read_kernel call for the number
    # at each sys_exit (bpf_stats, 20 compiles: 627 -> 574 ns per syscall for
    # the three collectors).  The exporter's peak RSS did not move (37.7 MB
    # either way): libbpf's parse of the kernel's BTF while such an object
    # loads is freed before the peak.
    per_syscall = False

    def __init__(self, opts: dict = None):
        self.opts = dict(self.options)
        self.opts.update(opts or {})
        self.obj = None
        self.hooks = {}         # {"sys_enter"/"sys_exit": Program} left for chain_syscalls()

    # -- life cycle ---------------------------------------------------------
    def start(self, chained: bool = False):
        """Open, configure, load, attach.  chained: the programs on raw_syscalls'
        sys_enter/sys_exit (objects with scchain.bpf.h's slots) are loaded but
        left in self.hooks for chain_syscalls() to attach or chain."""
        obj = corebpf.Object.open(self.name, prefer=("tp_btf",) if self.per_syscall else None)
        try:
            for m in self.unused_ringbufs:
                obj.maps[m].max_entries = 4096
            if "targ_metrics" in obj.rodata:
                obj.rodata.targ_metrics = True
            self.configure(obj)
            obj.load()
            self.loaded(obj)
            if chained and sc_slot("sys_enter", "tp_btf") in obj.maps:
                auto = [p for p in obj.programs.values()     # what obj.attach() attaches
                        if p.autoload and p.kind in AUTO_ATTACH and p.target]
                for p in auto:
                    if sc_slot(p.target, p.kind) in obj.maps:
                        self.hooks[p.target] = p
                rest = [p.name for p in auto if p not in self.hooks.values()]
                if rest:
                    obj.attach(*rest)
            else:
                self.attach(obj)
        except BaseException:
            obj.close()
            raise
        self.obj = obj

    def configure(self, obj):
        pass

    def loaded(self, obj):
        """After load, before attach (maps the programs need filled)."""

    def attach(self, obj):
        obj.attach()

    def close(self):
        if self.obj is not None:
            self.obj.close()
            self.obj = None

    # -- per scrape -----------------------------------------------------------
    def families(self):
        return []

    def lost(self) -> int:
        """Measurements the BPF side could not keep (a full map)."""
        if self.obj is None or "__corebpf_map_full" not in self.obj.bss:
            return 0
        return self.obj.bss["__corebpf_map_full"]

    def bpf_stats(self):
        """(run time ns, run count) of the collector's programs from their
        fdinfo (the kernel counts them while kernel.bpf_stats_enabled = 1)."""
        t = n = 0
        for p in self.obj.programs.values():
            fd = p.fd
            if fd < 0:
                continue
            try:
                with open(f"/proc/self/fdinfo/{fd}") as f:
                    for line in f:
                        if line.startswith("run_time_ns:"):
                            t += int(line.split()[1])
                        elif line.startswith("run_cnt:"):
                            n += int(line.split()[1])
            except OSError:
                pass
        return t, n


# the hooks whose programs are chained (bpf_src/scchain.bpf.h)
SC_HOOKS = ("sys_enter", "sys_exit")


def sc_slot(hook: str, kind: str) -> str:
    """The prog array (bpf_src/scchain.bpf.h) a program of `kind` (tp_btf,
    raw_tp) on raw_syscalls' `hook` tail-calls: one per hook and program
    type, the kernel tying a prog array to one type ("" for others)."""
    variant = {"tp_btf": "btf", "raw_tp": "raw"}.get(kind)
    if hook not in SC_HOOKS or variant is None:
        return ""
    return f"sc_next_{hook[4:]}_{variant}"


def chain_syscalls(collectors) -> dict:
    """Attach the started collectors' programs on raw_syscalls' sys_enter and
    sys_exit (Collector.start(chained=True)) as one chain per hook: the first
    is attached, each puts the next in its slot (a tail call, ~55 ns cheaper
    than entering one more attached program, on every syscall of the
    machine).  A program the kernel refuses in a slot (another program type:
    one object fell back to raw_tp) is attached on its own and starts a new
    chain.  Returns {hook: [collector names per attached chain]}."""
    out = {}
    for hook in SC_HOOKS:
        progs = [(c, c.hooks.pop(hook)) for c in collectors if hook in c.hooks]
        chains = out[hook] = []
        i = 0
        while i < len(progs):
            progs[i][1].attach()
            chain = [progs[i][0].name]
            while i + 1 < len(progs):
                try:
                    slot = sc_slot(hook, progs[i][1].kind)
                    progs[i][0].obj.maps[slot][0] = progs[i + 1][1].fd
                except OSError:         # BPFError included
                    break
                i += 1
                chain.append(progs[i][0].name)
            chains.append(chain)
            i += 1
    return out


# -- histograms -----------------------------------------------------------------


class DiskNames:
    """dev (major << 20 | minor, the kernel's internal dev_t) -> disk name from
    /proc/diskstats, re-read when an unknown device shows up."""

    def __init__(self):
        self.names = {}
        self._tried = set()
        self._read()

    def _read(self):
        out = {}
        try:
            with open("/proc/diskstats") as f:
                for line in f:
                    parts = line.split()
                    if len(parts) >= 3:
                        out[(int(parts[0]) << 20) | int(parts[1])] = parts[2]
        except OSError:
            pass
        self.names = out

    def __call__(self, dev: int) -> str:
        name = self.names.get(dev)
        if name is None and dev not in self._tried:
            self._tried.add(dev)
            self._read()
            name = self.names.get(dev)
        return name or "%d:%d" % (dev >> 20, dev & ((1 << 20) - 1))


# the kernel's REQ_OP_* numbers (low 8 bits of the request flags)
BLOCK_OPS = {0: "read", 1: "write", 2: "flush", 3: "discard", 5: "secure_erase",
             6: "zone_reset", 7: "write_same", 9: "write_zeroes"}


def container_label(names, cgid: int) -> str:
    """A cgroupid.bpf.h id as a label: the container's full id, else the
    cgroup path ("" for the root cgroup or an unknown id)."""
    c = names.lookup(cgid)
    if c is not None:
        return c.id or c.label()
    p = names.path(cgid)
    return "" if p in (None, "/") else p


class ContainerLabels:
    """A collector's `container` label (config: container = true): the BPF
    side keys its maps by cgroupid.bpf.h's id (targ_containers), labels are
    resolved at scrape time, and with container_top = N only the N biggest
    containers (by count, admitted once and kept: no series goes down) get
    their own series, the rest are summed under container="other"."""

    OPTIONS = {"container": False, "container_top": 0}
    OTHER = "other"     # no container id or cgroup path (those start with /) reads so

    def __init__(self, obj, opts: dict, io: bool = False):
        """io: ids of block requests' cgroups (rq_cgroup_id: blkio/io)."""
        from corebpf.core import cgroups
        obj.rodata.targ_containers = True
        self.names = cgroups.CgroupNames(controllers=cgroups.IO_CONTROLLERS if io else
                                         cgroups.TASK_CONTROLLERS)
        self.top = TopN(opts["container_top"]) if opts["container_top"] else None

    @classmethod
    def of(cls, obj, opts: dict, io: bool = False):
        """The collector's labels, or None when the option is off."""
        return cls(obj, opts, io) if opts["container"] else None

    def label(self, cgid: int) -> str:
        return container_label(self.names, cgid)

    def histograms(self, acc: dict) -> dict:
        """{(labels..., container label): [slots, sum_ns]} folded to the cap."""
        return acc if self.top is None else fold_hists(self.top, acc)

    def counters(self, cgroup_map, names) -> dict:
        """A CGROUP_COUNTS map (cgroupid.bpf.h) as {(names[idx], container
        label): count}, folded to the cap; indexes not in `names` are left out."""
        acc = {}
        for k, n in cgroup_map.items():
            if k.idx < len(names) and names[k.idx] is not None:
                key = (names[k.idx], self.label(k.cgroup))
                acc[key] = acc.get(key, 0) + n
        return acc if self.top is None else fold_counts(self.top, acc)


def fold_counts(top, acc: dict) -> dict:
    """{(labels..., last label): count} with the last label capped by `top`
    (a TopN, by each label's total): the rest summed as "other"."""
    totals = {}
    for key, n in acc.items():
        totals[key[-1]] = totals.get(key[-1], 0) + n
    top.fold(totals)
    out = {}
    for key, n in acc.items():
        k = key[:-1] + (key[-1] if key[-1] in top.admitted else ContainerLabels.OTHER,)
        out[k] = out.get(k, 0) + n
    return out


def fold_hists(top, acc: dict) -> dict:
    """{(labels..., last label): [slots, sum_ns]} with the last label capped by
    `top` (a TopN, by each label's total count): the rest summed as "other"."""
    totals = {}
    for key, (slots, _) in acc.items():
        totals[key[-1]] = totals.get(key[-1], 0) + sum(slots)
    top.fold(totals)
    out = {}
    for key, (slots, sum_ns) in acc.items():
        c = key[-1] if key[-1] in top.admitted else ContainerLabels.OTHER
        merge_hists(out, key[:-1] + (c,), slots, sum_ns)
    return out


CONTAINER_DOC = ("; container (config: container = true) the container's id, else the "
                 "cgroup's path, empty for the root cgroup, other for those past "
                 "container_top")


class Biolatency(Collector):
    name = "biolatency"
    options = {"per_disk": True, "per_op": True, **ContainerLabels.OPTIONS}

    def configure(self, obj):
        obj.rodata.targ_per_disk = bool(self.opts["per_disk"])
        obj.rodata.targ_per_flag = bool(self.opts["per_op"])
        # each request's cgroup (its bio's blkcg) -> a container label
        self.containers = ContainerLabels.of(obj, self.opts, io=True)
        for p in obj.programs.values():
            if p.hook == "insert":
                p.autoload = False          # issue -> completion, as biolatency without -Q
        self.disks = DiskNames()

    def families(self):
        # classic tracepoints carry no request flags: no operation there
        ops = self.opts["per_op"] and self.obj.variant != "tp"
        acc = {}
        names = self.containers
        for k, h in self.obj.maps["hists"].items():
            disk = self.disks(k.dev) if self.opts["per_disk"] else ""
            op = BLOCK_OPS.get(k.flags & 0xFF, "other") if ops else ""
            key = (disk, op) if names is None else (disk, op, names.label(k.cgroup))
            merge_hists(acc, key, h.slots, h.sum_ns)
        labels = ["disk", "op"] + ([] if names is None else ["container"])
        if names is not None:
            acc = names.histograms(acc)
        return [histogram("corebpf_block_io_latency_seconds",
                          "Block I/O latency, request issue to completion (biolatency); "
                          "disk and op are empty where turned off or unknown"
                          + CONTAINER_DOC, labels, acc)]


def container_hists(collector, items) -> tuple:
    """(labels, {key: [slots, sum_ns]}) of a map keyed by a cgroup id with the
    container option on (the key 0 otherwise): one histogram, or one per
    container."""
    names = collector.containers
    acc = {}
    for k, h in items:
        merge_hists(acc, () if names is None else (names.label(k),), h.slots, h.sum_ns)
    if names is None:
        return [], acc
    return ["container"], names.histograms(acc)


class Runqlat(Collector):
    name = "runqlat"
    options = dict(ContainerLabels.OPTIONS)

    def configure(self, obj):
        # the task switched in: its cgroup (cgroupid.bpf.h's task_cgroup_id_of)
        self.containers = ContainerLabels.of(obj, self.opts)

    def families(self):
        labels, acc = container_hists(self, self.obj.maps["hists"].items())
        return [histogram("corebpf_runqueue_latency_seconds",
                          "Time tasks waited on a CPU run queue before running (runqlat)"
                          + (CONTAINER_DOC if labels else ""), labels, acc)]


FINISH_TASK_SWITCH = (r"finish_task_switch", r"finish_task_switch\.isra\.\d+")


class Cpudist(Collector):
    name = "cpudist"
    options = {"offcpu": False, **ContainerLabels.OPTIONS}

    def configure(self, obj):
        obj.rodata.targ_offcpu = bool(self.opts["offcpu"])
        self.containers = ContainerLabels.of(obj, self.opts)

    def attach(self, obj):
        if obj.variant == "kprobe":
            attach_kprobe_any(obj.programs["switch__kprobe"], FINISH_TASK_SWITCH)
        else:
            obj.attach()

    def families(self):
        labels, acc = container_hists(self, self.obj.maps["hists"].items())
        doc = CONTAINER_DOC if labels else ""
        if self.opts["offcpu"]:
            return [histogram("corebpf_task_offcpu_seconds",
                              "Time tasks spent off a CPU between runs (cpudist -O)" + doc,
                              labels, acc)]
        return [histogram("corebpf_task_oncpu_seconds",
                          "Time tasks ran on a CPU each time they were scheduled (cpudist)"
                          + doc, labels, acc)]


EXT4_OPS = ("read", "write", "open", "fsync")


class Ext4dist(Collector):
    name = "ext4dist"
    per_syscall = True
    options = dict(ContainerLabels.OPTIONS)

    def configure(self, obj):
        obj.rodata.targ_self_tgid = os.getpid()
        syscall_tracepoints_only(obj)
        self.containers = ContainerLabels.of(obj, self.opts)
        if self.containers is not None:
            obj.maps["hists"].resize(1024)      # (operation, cgroup) pairs

    def loaded(self, obj):
        # the raw_syscalls variant counts the syscalls of its table only
        sysactions.fill(obj, sysactions.FSOPS)

    def families(self):
        acc = {}
        names = self.containers
        for k, h in self.obj.maps["hists"].items():
            op = EXT4_OPS[k.op] if k.op < len(EXT4_OPS) else str(k.op)
            merge_hists(acc, (op,) if names is None else (op, names.label(k.cgroup)),
                        h.slots, h.sum_ns)
        if names is not None:
            acc = names.histograms(acc)
        return [histogram("corebpf_ext4_operation_latency_seconds",
                          "ext4 read, write, open and fsync latency (ext4dist)"
                          + (CONTAINER_DOC if names else ""),
                          ["op"] + (["container"] if names else []), acc)]


class Tcpconnlat(Collector):
    name = "tcpconnlat"
    unused_ringbufs = ("events",)

    def families(self):
        acc = {}
        for af, h in self.obj.maps["hists"].items():
            merge_hists(acc, (family_name(af),), h.slots, h.sum_ns)
        return [histogram("corebpf_tcp_connect_latency_seconds",
                          "Active TCP open latency, SYN sent to SYN/ACK processed (tcpconnlat)",
                          ["family"], acc)]


class Tcplife(Collector):
    name = "tcplife"
    unused_ringbufs = ("events",)

    def families(self):
        acc, tx, rx = {}, {}, {}
        for af, h in self.obj.maps["hists"].items():
            key = (family_name(af),)
            merge_hists(acc, key, h.slots, h.sum_ns)
            tx[key] = tx.get(key, 0) + h.tx_b
            rx[key] = rx.get(key, 0) + h.rx_b
        return [histogram("corebpf_tcp_session_duration_seconds",
                          "Duration of closed TCP sessions (tcplife)", ["family"], acc),
                counter("corebpf_tcp_session_sent_bytes_total",
                        "Bytes sent and acknowledged by closed TCP sessions (tcplife)",
                        ["family"], tx),
                counter("corebpf_tcp_session_received_bytes_total",
                        "Bytes received by closed TCP sessions (tcplife)", ["family"], rx)]


# -- counters -------------------------------------------------------------------


class TopN:
    """Cardinality cap for counters keyed by what users choose (task names):
    keys get their own series, biggest first, until there are `n`; from
    then on every new key is summed into "other".  A key is admitted the
    first time it is seen or never, so no series ever goes down."""

    def __init__(self, n: int):
        self.n = n
        self.admitted = set()

    def fold(self, counts: dict) -> dict:
        """{key: count} (monotonic per key) -> {label: count}, at most n + 1 labels."""
        for key, _ in sorted(counts.items(), key=lambda kv: -kv[1]):
            if len(self.admitted) >= self.n:
                break
            self.admitted.add(key)
        out = {"other": 0}
        for key, v in counts.items():
            if key in self.admitted:
                out[key] = v
            else:
                out["other"] += v
        return out


class Syscount(Collector):
    name = "syscount"
    per_syscall = True
    options = {"latency": False, "comm_top": 0, **ContainerLabels.OPTIONS}

    def configure(self, obj):
        if self.opts["comm_top"] < 0:
            raise corebpf.ConfigError("syscount: comm_top must be 0 (off) or more")
        if self.opts["comm_top"]:
            obj.rodata.targ_by_comm = True
            self.calls_top, self.errors_top = TopN(self.opts["comm_top"]), TopN(self.opts["comm_top"])
        obj.rodata.targ_latency = bool(self.opts["latency"])
        self.containers = ContainerLabels.of(obj, self.opts)
        if not self.opts["latency"]:
            for p in obj.programs.values():
                if p.hook == "enter":
                    p.autoload = False

    def families(self):
        from corebpf import syscalls
        calls, errors, secs = {}, {}, {}
        nrs = [(k, v) for k, v in self.obj.maps["nrs"].sum_items() if v.count]
        for nr, v in self.obj.maps["data"].items() + nrs:
            key = (syscalls.name(nr),)
            calls[key] = calls.get(key, 0) + v.count
            errors[key] = errors.get(key, 0) + v.errors
            secs[key] = secs.get(key, 0) + v.total_ns / 1e9
        out = [counter("corebpf_syscalls_total", "System calls made, per syscall (syscount)",
                       ["syscall"], calls),
               counter("corebpf_syscall_errors_total",
                       "System calls that returned an error, per syscall (syscount -x)",
                       ["syscall"], errors)]
        if self.opts["latency"]:
            out.append(counter("corebpf_syscall_seconds_total",
                               "Time spent in system calls, per syscall (syscount -L)",
                               ["syscall"], secs))
        if self.opts["comm_top"]:
            calls, errors = {}, {}
            for k, v in self.obj.maps["comms"].items():
                calls[k.comm] = calls.get(k.comm, 0) + v.count
                errors[k.comm] = errors.get(k.comm, 0) + v.errors
            out.append(counter("corebpf_comm_syscalls_total",
                               "System calls made, per task name (the comm_top biggest, the "
                               "rest as other) (syscount)", ["comm"],
                               {(c,): n for c, n in self.calls_top.fold(calls).items()}))
            out.append(counter("corebpf_comm_syscall_errors_total",
                               "System calls that returned an error, per task name (the "
                               "comm_top biggest, the rest as other) (syscount)", ["comm"],
                               {(c,): n for c, n in self.errors_top.fold(errors).items()}))
        if self.containers is not None:
            both = self.containers.counters(self.obj.maps["cgroup_calls"], ("calls", "errors"))
            for what, name, doc in (
                    ("calls", "corebpf_container_syscalls_total", "System calls made"),
                    ("errors", "corebpf_container_syscall_errors_total",
                     "System calls that returned an error")):
                out.append(counter(name, doc + ", per container (syscount)" + CONTAINER_DOC,
                                   ["container"],
                                   {k[1:]: n for k, n in both.items() if k[0] == what}))
        return out


VFS_OPS = ("read", "write", "fsync", "open", "create", "unlink", "mkdir", "rmdir")


class Vfsstat(Collector):
    name = "vfsstat"
    per_syscall = True
    options = dict(ContainerLabels.OPTIONS)

    def configure(self, obj):
        syscall_tracepoints_only(obj)
        self.containers = ContainerLabels.of(obj, self.opts)

    def loaded(self, obj):
        sysactions.fill(obj, sysactions.VFSSTAT)

    def families(self):
        doc = "VFS reads, writes, fsyncs, opens, creates, unlinks, mkdirs, rmdirs (vfsstat)"
        if self.containers is not None:
            return [counter("corebpf_vfs_operations_total", doc + CONTAINER_DOC,
                            ["op", "container"],
                            self.containers.counters(self.obj.maps["cgroup_stats"], VFS_OPS))]
        per_cpu = self.obj.maps["stats"][0]
        counts = {(op,): sum(c.n[i] for c in per_cpu) for i, op in enumerate(VFS_OPS)}
        return [counter("corebpf_vfs_operations_total", doc, ["op"], counts)]


class Cachestat(Collector):
    name = "cachestat"

    def configure(self, obj):
        # bcc's kprobes (kernels without the page cache tracepoints) are
        # attached by name by the cachestat tool; the exporter serves the
        # tracepoint variant only
        for p in obj.programs.values():
            if p.variant == "kprobe":
                p.autoload = False

    def families(self):
        per_cpu = self.obj.maps["counts"][0]
        n = [sum(c.n[i] for c in per_cpu) for i in range(4)]
        return [counter("corebpf_page_cache_read_pages_total",
                        "Pages read() looked up in the page cache (cachestat)", [],
                        {(): n[0]}),
                counter("corebpf_page_cache_read_miss_pages_total",
                        "Pages read() had to add to the page cache: misses (cachestat)", [],
                        {(): n[1]}),
                counter("corebpf_buffer_dirtied_total",
                        "Buffers marked dirty, mark_buffer_dirty() calls (cachestat)", [],
                        {(): n[2]})]


class Hardirqs(Collector):
    name = "hardirqs"

    def families(self):
        secs = {}
        for k, ns in self.obj.maps["sums"].items():
            key = (k.name,)
            secs[key] = secs.get(key, 0) + ns / 1e9
        return [counter("corebpf_hardirq_seconds_total",
                        "Time spent in hard IRQ handlers, per handler name (hardirqs)",
                        ["irq"], secs)]


# the kernel's softirq_to_name[] (NR_SOFTIRQS = 10)
SOFTIRQS = ("hi", "timer", "net_tx", "net_rx", "block", "irq_poll", "tasklet", "sched",
            "hrtimer", "rcu")


class Softirqs(Collector):
    name = "softirqs"

    def families(self):
        secs = {}
        for vec, ns in self.obj.maps["sums"].items():
            key = (SOFTIRQS[vec] if vec < len(SOFTIRQS) else str(vec),)
            secs[key] = secs.get(key, 0) + ns / 1e9
        return [counter("corebpf_softirq_seconds_total",
                        "Time spent in soft IRQs, per vector (softirqs)", ["vector"], secs)]


class Tcpretrans(Collector):
    name = "tcpretrans"
    unused_ringbufs = ("events",)

    options = dict(ContainerLabels.OPTIONS)

    def configure(self, obj):
        obj.programs["tlp"].autoload = False
        # softirq: the socket's cgroup (cgroupid.bpf.h's sk_cgroup_id)
        self.containers = ContainerLabels.of(obj, self.opts)

    def families(self):
        doc = "TCP segments retransmitted (tcpretrans)"
        if self.containers is not None:
            counts = self.containers.counters(self.obj.maps["cgroup_totals"], ("ipv4", "ipv6"))
            return [counter("corebpf_tcp_retransmits_total", doc + CONTAINER_DOC,
                            ["family", "container"], counts)]
        totals = self.obj.maps["totals"]
        counts = {("ipv4",): percpu_sum(totals[0]), ("ipv6",): percpu_sum(totals[1])}
        return [counter("corebpf_tcp_retransmits_total", doc, ["family"], counts)]


def drop_reasons() -> dict:
    """{code: name} of enum skb_drop_reason, from skb:kfree_skb's print format."""
    try:
        with open(os.path.join(features.tracefs(), "events/skb/kfree_skb/format")) as f:
            text = f.read()
    except OSError:
        return {}
    return {int(c): n for c, n in re.findall(r'\{\s*(\d+),\s*"([A-Za-z0-9_]+)"\s*\}', text)}


class Tcpdrop(Collector):
    name = "tcpdrop"
    unused_ringbufs = ("events",)

    def configure(self, obj):
        obj.maps["stacks"].max_entries = 1
        self.reasons = drop_reasons()
        if not self.reasons:
            # kfree_skb without a reason (< 5.17): only tcp_drop() can serve
            for p in obj.programs.values():
                if p.variant != "kprobe":
                    p.autoload = False

    def families(self):
        counts = {}
        for code, n in self.obj.maps["reasons"].items():
            name = "NOT_SPECIFIED" if self.obj.variant == "kprobe" else \
                self.reasons.get(code, str(code))
            counts[(name,)] = counts.get((name,), 0) + n
        return [counter("corebpf_tcp_drops_total",
                        "TCP packets the kernel dropped, per drop reason (tcpdrop)",
                        ["reason"], counts)]


class Oomkill(Collector):
    name = "oomkill"
    unused_ringbufs = ("events",)

    def families(self):
        return [counter("corebpf_oom_kills_total", "Processes killed by the OOM killer (oomkill)",
                        [], {(): self.obj.bss.kills})]


def signal_name(sig: int) -> str:
    import signal
    try:
        return signal.Signals(sig).name
    except ValueError:
        return str(sig)


class Exitsnoop(Collector):
    name = "exitsnoop"
    unused_ringbufs = ("events",)

    def families(self):
        counts = {}
        for key, n in self.obj.maps["exits"].items():
            sig = key & 0x7F
            if sig:
                k = ("core_dump" if key & 0x80 else "signal", signal_name(sig))
            else:
                k = ("failure" if key & 0x100 else "success", "")
            counts[k] = counts.get(k, 0) + n
        return [counter("corebpf_process_exits_total",
                        "Processes that ended, by outcome: success (status 0), failure "
                        "(non-zero status), signal or core_dump (fatal signal) (exitsnoop)",
                        ["reason", "signal"], counts)]


ALL = (Biolatency, Runqlat, Cpudist, Ext4dist, Tcpconnlat, Tcplife, Syscount, Vfsstat,
       Cachestat, Hardirqs, Softirqs, Tcpretrans, Tcpdrop, Oomkill, Exitsnoop)
BY_NAME = {c.name: c for c in ALL}
