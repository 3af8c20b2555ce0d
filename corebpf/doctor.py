"""`corebpf doctor`: what this host can trace, and why not.

The host (kernel, architecture, libbpf, BTF, tracefs, the caller's
capabilities), every probe kind as corebpf.core.features answers it, and for
every tool whether it runs here and through which probes: each tool's own
code parses its options, picks its probe variants and loads its programs
into the kernel, in a load-only run (corebpf.core.loadonly) that stops where
it would attach.  Tools are checked in forked workers, one per CPU, each
running the tools one at a time (check_tool puts back what a tool's setup
changes in the process; a worker that dies or hangs is replaced).  `--json`
prints the same as one JSON document, described by corebpf/doctor.schema.json
(README, "corebpf doctor --json").
"""
from __future__ import annotations

import json
import os
import sys
import time

from . import __version__

# Tools that cannot start without arguments (a probe spec, a process), and
# the multitools' kernel-function path: (label, argv) per check, the first
# decides "runs here".  "{pid}" is the doctor's own PID: a process that
# exists and maps libc (nothing is attached to it).
_TP = "t:syscalls:sys_enter_getppid"
CHECKS = {
    "argdist": [("", ["-C", f"{_TP}()"]), ("kernel functions", ["-C", "p::vfs_read()"])],
    "funccount": [("", [_TP]), ("kernel functions", ["vfs_read"])],
    "funclatency": [("", ["c:getppid"]), ("kernel functions", ["vfs_read"])],
    "stackcount": [("", [_TP]), ("kernel functions", ["vfs_read"])],
    "trace": [("", [_TP]), ("kernel functions", ["p::vfs_read"])],
    "dbslower": [("", ["postgres", "-p", "{pid}"])],
    "dbstat": [("", ["postgres", "-p", "{pid}"])],
    "mysqld_qslower": [("", ["{pid}"])],
    "ucalls": [("", ["-l", "python", "{pid}"])],
    "uflow": [("", ["-l", "python", "{pid}"])],
    "ugc": [("", ["-l", "python", "{pid}"])],
    "uobjnew": [("", ["-l", "c", "{pid}"])],
    "uthreads": [("", ["{pid}"])],
}
TIMEOUT = 30            # seconds one tool's check may take
FORMAT = 1              # of --json (corebpf/doctor.schema.json)

# Probe kinds in the order `corebpf doctor` lists them.
PROBES = ("kprobe", "fentry", "tp_btf", "raw_tp", "tracepoint", "uprobe", "usdt",
          "perf_sampling", "ringbuf")
KIND_NAMES = {"perf_event": "perf sampling", "perf_sampling": "perf sampling"}

CAPS = ("CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP "
        "LINUX_IMMUTABLE NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK IPC_OWNER "
        "SYS_MODULE SYS_RAWIO SYS_CHROOT SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE "
        "SYS_RESOURCE SYS_TIME SYS_TTY_CONFIG MKNOD LEASE AUDIT_WRITE AUDIT_CONTROL SETFCAP "
        "MAC_OVERRIDE MAC_ADMIN SYSLOG WAKE_ALARM BLOCK_SUSPEND AUDIT_READ PERFMON BPF "
        "CHECKPOINT_RESTORE").split()
# what tracing asks of the caller, and why
TRACING_CAPS = {
    "CAP_BPF": "load programs, create maps",
    "CAP_PERFMON": "attach to tracepoints, kprobes, uprobes, perf events",
    "CAP_SYS_ADMIN": "all of the above on kernels before 5.8",
    "CAP_SYS_RESOURCE": "memlock limit for maps on kernels before 5.11",
    "CAP_SYS_PTRACE": "read other processes' memory maps (uprobes, USDT, user stacks)",
    "CAP_DAC_READ_SEARCH": "read tracefs and other users' /proc files",
    "CAP_SYSLOG": "kernel addresses in /proc/kallsyms (kernel stacks, symbols)",
}
SYSCTLS = ("kernel/unprivileged_bpf_disabled", "kernel/perf_event_paranoid",
           "kernel/kptr_restrict")


# -- the host ------------------------------------------------------------------------

def _read(path: str):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def capabilities() -> dict:
    """The caller's effective capabilities, and whether it can load BPF."""
    eff = 0
    for line in (_read("/proc/self/status") or "").splitlines():
        if line.startswith("CapEff:"):
            eff = int(line.split()[1], 16)
    have = ["CAP_" + n for i, n in enumerate(CAPS) if eff >> i & 1]
    can = "CAP_SYS_ADMIN" in have or ("CAP_BPF" in have and "CAP_PERFMON" in have)
    return {
        "uid": os.getuid(), "euid": os.geteuid(),
        "effective": have,
        "tracing": {c: c in have for c in TRACING_CAPS},
        "can_load_bpf": can,
        "sysctl": {s.replace("/", "."): _int(_read("/proc/sys/" + s)) for s in SYSCTLS},
        "lockdown": _lockdown(),
    }


def _int(text):
    try:
        return int(text)
    except (TypeError, ValueError):
        return None


def _lockdown():
    text = _read("/sys/kernel/security/lockdown")        # "none [integrity] confidentiality"
    if not text:
        return None
    for word in text.split():
        if word.startswith("["):
            return word.strip("[]")
    return None


def libbpf_info() -> dict:
    """Version and path of the libbpf corebpf loaded (or why it could not)."""
    from .core import _libbpf
    try:
        L = _libbpf.lib()
    except _libbpf.LibbpfUnavailable as e:
        return {"version": None, "path": None, "error": str(e)}
    version = _libbpf.ffi.string(L.libbpf_version_string()).decode().lstrip("v")
    path = None
    for line in (_read("/proc/self/maps") or "").splitlines():
        f = line.split(None, 5)
        if len(f) == 6 and "libbpf.so" in os.path.basename(f[5]):
            path = f[5]
            break
    return {"version": version, "path": path, "error": None}


def host() -> dict:
    from .core import features
    from .core.paths import OBJ_DIR
    u = os.uname()
    btf = features.btf_path()
    try:
        btf_size = os.stat(btf).st_size
    except OSError:
        btf_size = None
    try:
        tracefs, tracefs_error = features.tracefs(), None
    except OSError as e:
        tracefs, tracefs_error = None, str(e)
    objects = sorted(f for f in os.listdir(OBJ_DIR) if f.endswith(".bpf.o")) \
        if os.path.isdir(OBJ_DIR) else []
    return {
        "corebpf": {"version": __version__, "package": os.path.dirname(os.path.abspath(__file__)),
                    "objects": OBJ_DIR, "object_count": len(objects),
                    "python": sys.version.split()[0], "executable": sys.executable},
        "kernel": {"release": u.release, "version": u.version, "machine": u.machine},
        "libbpf": libbpf_info(),
        "btf": {"path": btf, "readable": features.has_btf(), "size": btf_size,
                "override": bool(os.environ.get("COREBPF_BTF"))},
        "tracefs": {"path": tracefs, "error": tracefs_error},
        "capabilities": capabilities(),
    }


def probes(can_load: bool) -> dict:
    """Each probe kind: {"ok": True/False/None (not checked), "detail": text}."""
    from .core import features, perf
    from .core._libbpf import LibbpfUnavailable
    unchecked = "not checked: loading BPF needs CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN)"

    def loaded(fn, no):
        if not can_load:
            return None, unchecked
        try:
            ok = fn()
        except LibbpfUnavailable as e:
            return None, f"not checked: {e}"
        return ok, "" if ok else no

    try:
        tfs, tfs_why = features.tracefs(), ""
    except OSError as e:
        tfs, tfs_why = None, str(e)
    nobtf = f"no kernel BTF ({features.btf_path()} unreadable)"
    out = {}
    out["kprobe"] = (features.kprobes(),
                     "no kprobe PMU and no kprobe_events in tracefs (CONFIG_KPROBES)")
    out["fentry"] = loaded(features.fentry,
                           "a fentry program does not load and attach here (BPF trampolines)"
                           if features.has_btf() else nobtf)
    out["tp_btf"] = loaded(features.tp_btf, "a tp_btf program does not load here"
                           if features.has_btf() else nobtf)
    out["raw_tp"] = loaded(features.raw_tp, "a raw_tp program does not load here")
    out["tracepoint"] = (tfs is not None, tfs_why)
    out["uprobe"] = (features.uprobes(), "no uprobe PMU and no uprobe_events in tracefs "
                                         "(CONFIG_UPROBE_EVENTS)")
    out["usdt"] = (out["uprobe"][0], "USDT probes are uprobes: " + out["uprobe"][1])
    out["perf_sampling"] = (perf.can_sample(), "a software cpu-clock perf event does not "
                                               "open (kernel.perf_event_paranoid, CAP_PERFMON)")
    out["ringbuf"] = loaded(features.ringbuf, "no BPF ring buffers (Linux 5.8)")
    return {k: {"ok": ok, "detail": "" if ok else why} for k, (ok, why) in out.items()}


# -- the tools ------------------------------------------------------------------------

def _reason(name: str, stderr: str) -> str:
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    if not lines:
        return ""
    line = lines[-1]
    for prefix in (f"{name}: error: ", f"{name}: "):
        if line.startswith(prefix):
            line = line[len(prefix):]
    return line


def check_tool(name: str, argv) -> dict:
    """Run tool `name` with argv in a load-only run (in this process): what
    it loaded, or the one line it printed on why it cannot run.  The
    process's signal mask and stop-signal handlers, which a tool's setup
    changes, are restored afterwards."""
    import contextlib
    import importlib
    import io
    import signal

    from .core import loadonly
    err = io.StringIO()
    t0 = time.monotonic()
    rc = None
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    handlers = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        mod = importlib.import_module(f"corebpf.tools.{name}")
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err), \
                loadonly.enabled():
            try:
                rc = mod.main(list(argv))
            finally:
                for s, h in handlers.items():
                    signal.signal(s, h)
                signal.pthread_sigmask(signal.SIG_SETMASK, mask)
    except loadonly.Loaded as e:
        return {"runs": True, "via": e.kinds, "variant": e.variant, "reason": None,
                "seconds": round(time.monotonic() - t0, 3)}
    except SystemExit as e:
        rc = e.code
    except Exception as e:                  # a tool's bug, reported as such
        return _failed(f"crashed: {type(e).__name__}: {e}", round(time.monotonic() - t0, 3))
    seconds = round(time.monotonic() - t0, 3)
    if rc in (0, None):
        return {"runs": True, "via": [], "variant": None, "reason": None, "seconds": seconds}
    return _failed(_reason(name, err.getvalue()) or f"exit status {rc} before loading", seconds)


def _write_all(fd: int, data: bytes):
    while data:
        data = data[os.write(fd, data):]


def _worker(rfd: int, wfd: int):
    """In a forked worker: for each job line on rfd ([tool, argv]), check the
    tool and write its JSON answer as a line on wfd; exit at EOF."""
    try:
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):            # C-level output (libbpf) goes nowhere
            os.dup2(devnull, fd)
        with os.fdopen(rfd, "rb") as jobs:
            for line in jobs:
                name, argv = json.loads(line)
                try:
                    res = check_tool(name, argv)
                except BaseException as e:  # noqa: B036 -- anything, even a Ctrl-C: say so
                    res = _failed(f"crashed: {type(e).__name__}: {e}")
                _write_all(wfd, json.dumps(res).encode() + b"\n")
    finally:
        os._exit(0)


def _failed(reason: str, seconds=None) -> dict:
    return {"runs": False, "via": [], "variant": None, "reason": reason, "seconds": seconds}


class _Workers:
    """Forked workers, each checking one tool at a time (tools run in turn in a
    worker: check_tool() puts back what a tool's setup changes; a worker that
    dies or overruns TIMEOUT is replaced).  A fork per tool would cost about
    twice the CPU: every child copies the pages it touches."""

    def __init__(self):
        self.procs = {}             # read fd -> [pid, write fd, job, start, buffer]

    def spawn(self):
        jr, jw = os.pipe()
        rr, rw = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(jw)
            os.close(rr)
            for fd, w in self.procs.items():    # the other workers' pipes: their EOFs
                os.close(fd)
                os.close(w[1])
            _worker(jr, rw)
        os.close(jr)
        os.close(rw)
        self.procs[rr] = [pid, jw, None, 0.0, b""]

    def idle(self) -> list:
        return [fd for fd, w in self.procs.items() if w[2] is None]

    def send(self, fd: int, job):
        w = self.procs[fd]
        w[2], w[3] = job, time.monotonic()
        _write_all(w[1], json.dumps([job[0], job[2]]).encode() + b"\n")

    def end(self, fd: int, kill: bool = False):
        import signal
        pid, jw = self.procs.pop(fd)[:2]
        if kill:
            os.kill(pid, signal.SIGKILL)
        os.close(jw)                # EOF: the worker exits
        os.close(fd)
        os.waitpid(pid, 0)


def _preload(names):
    """Import the tools and fill the kernel caches once, before forking: the
    workers inherit them instead of each doing it again."""
    import importlib
    from .core import features
    for n in names:
        try:
            importlib.import_module(f"corebpf.tools.{n}")
        except Exception:           # noqa: BLE001 -- the worker reports it
            pass
    features.raw_tracepoint_exists("sched_switch")      # available_events, read once


def check_tools(names, jobs: int = None) -> dict:
    """{(tool, label): result} for every check of every tool, in forked
    workers, `jobs` of them (default: the number of CPUs)."""
    import select
    pid_text = str(os.getpid())
    todo = []
    for n in names:
        for label, argv in CHECKS.get(n, [("", [])]):
            todo.append((n, label, [a.replace("{pid}", pid_text) for a in argv]))
    jobs = min(jobs or max(1, len(os.sched_getaffinity(0))), len(todo))
    _preload(names)
    results = {}
    sys.stdout.flush()
    sys.stderr.flush()
    pool = _Workers()
    try:
        for _ in range(jobs):
            pool.spawn()
        while todo or any(w[2] for w in pool.procs.values()):
            for fd in pool.idle():
                if todo:
                    pool.send(fd, todo.pop(0))
                else:
                    pool.end(fd)
            ready, _, _ = select.select(list(pool.procs), [], [], 0.5)
            for fd in ready:
                w = pool.procs[fd]
                chunk = os.read(fd, 65536)
                if not chunk:               # died mid-check
                    job, t0 = w[2], w[3]
                    pool.end(fd)
                    if job:
                        results[job[:2]] = _failed("the check died without an answer",
                                                   round(time.monotonic() - t0, 3))
                    if todo:
                        pool.spawn()
                    continue
                w[4] += chunk
                while b"\n" in w[4] and w[2]:
                    line, w[4] = w[4].split(b"\n", 1)
                    results[w[2][:2]] = json.loads(line)
                    w[2] = None
            now = time.monotonic()
            for fd, w in list(pool.procs.items()):
                if w[2] and now - w[3] > TIMEOUT:
                    results[w[2][:2]] = _failed(f"no answer within {TIMEOUT} s", TIMEOUT)
                    pool.end(fd, kill=True)
                    if todo:
                        pool.spawn()
    finally:
        for fd in list(pool.procs):         # interrupted: end them all
            pool.end(fd, kill=True)
    return results


def tools_report(names, jobs: int = None) -> dict:
    raw = check_tools(names, jobs)
    out = {}
    for n in names:
        checks = CHECKS.get(n, [("", [])])
        main = dict(raw[(n, checks[0][0])])
        main["also"] = {label: {k: raw[(n, label)][k] for k in ("runs", "via", "reason")}
                        for label, _ in checks[1:]}
        out[n] = main
    return out


# -- the report ------------------------------------------------------------------------

def report(names=None, jobs: int = None) -> dict:
    """Everything `corebpf doctor` says, as one JSON-able dict."""
    from . import tools
    t0 = time.monotonic()
    rep = {"format": FORMAT}
    rep.update(host())
    rep["probes"] = probes(rep["capabilities"]["can_load_bpf"])
    names = list(names) if names else tools.names()
    rep["tools"] = tools_report(names, jobs)
    ok = sum(1 for r in rep["tools"].values() if r["runs"])
    rep["summary"] = {"tools": len(names), "run_here": ok, "cannot": len(names) - ok,
                      "seconds": round(time.monotonic() - t0, 2)}
    return rep


def _via(r) -> str:
    if not r["via"]:
        return "loads no BPF"
    return "via " + " + ".join(KIND_NAMES.get(k, k) for k in r["via"])


def format_text(rep) -> str:
    c, k, lb, btf = rep["corebpf"], rep["kernel"], rep["libbpf"], rep["btf"]
    caps, tfs = rep["capabilities"], rep["tracefs"]
    lines = [f"corebpf {c['version']} (Python {c['python']}, {c['package']})",
             f"{'kernel':14}{k['release']} {k['machine']}",
             f"{'libbpf':14}" + (f"{lb['version']} {lb['path']}" if lb["version"]
                                 else f"unavailable: {lb['error']}"),
             f"{'BTF':14}" + (f"{btf['path']} ({btf['size'] / 2**20:.1f} MiB)" if btf["readable"]
                              else f"{btf['path']}: not readable")
             + (" (COREBPF_BTF)" if btf["override"] else ""),
             f"{'tracefs':14}" + (tfs["path"] or f"unavailable: {tfs['error']}")]
    need = [cap for cap, on in caps["tracing"].items() if not on]
    lines.append(f"{'caller':14}uid {caps['uid']}" +
                 (f" (euid {caps['euid']})" if caps["euid"] != caps["uid"] else "") + ", " +
                 ("can load BPF" if caps["can_load_bpf"] else
                  "cannot load BPF: needs CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN") +
                 (f"; lacks {' '.join(need)}" if need else "; has every capability tracing uses"))
    sysctl = ", ".join(f"{k.split('.', 1)[1]}={v}" for k, v in caps["sysctl"].items()
                       if v is not None)
    lines.append(f"{'sysctl':14}{sysctl}" +
                 (f"; lockdown={caps['lockdown']}" if caps["lockdown"] else ""))
    lines.append("")
    lines.append("probe kinds")
    for name in PROBES:
        p = rep["probes"][name]
        state = {True: "yes", False: "no", None: "?"}[p["ok"]]
        lines.append(f"  {KIND_NAMES.get(name, name):14}{state:5}{p['detail']}".rstrip())
    s = rep["summary"]
    lines.append("")
    lines.append(f"tools: {s['run_here']} of {s['tools']} run here "
                 f"(each loaded, none attached, in {s['seconds']:.1f} s)")
    for name, r in rep["tools"].items():
        text = _via(r) if r["runs"] else r["reason"]
        for label, a in r["also"].items():
            text += f"; {label}: " + (_via(a) if a["runs"] else f"no ({a['reason']})")
        lines.append(f"  {name:16}{'yes' if r['runs'] else 'no':5}{text}")
    return "\n".join(lines)


def parser(parser_class=None):
    """The options of `corebpf doctor` (also read by the man page generator)."""
    import argparse
    p = (parser_class or argparse.ArgumentParser)(
        prog="corebpf doctor",
        description="Show what this host can trace: kernel, libbpf, BTF, tracefs, the "
                    "caller's capabilities, each probe kind, and for every tool whether it "
                    "runs here and through which probes (each tool's programs are loaded, "
                    "none attached).")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.add_argument("-j", "--jobs", type=int, metavar="N",
                   help="tools checked at once (default: the number of CPUs)")
    p.add_argument("tools", nargs="*", metavar="TOOL", help="check only these tools")
    return p


def main(argv=None, parser_class=None) -> int:
    p = parser(parser_class)
    a = p.parse_args(argv)
    from . import tools
    known = tools.names()
    bad = [t for t in a.tools if t not in known]
    if bad:
        p.error(f"no tool named {bad[0]!r} (corebpf list shows them)")
    if a.jobs is not None and a.jobs < 1:
        p.error("--jobs must be at least 1")
    rep = report(a.tools or None, a.jobs)
    print(json.dumps(rep, indent=2) if a.json else format_text(rep))
    return 0
