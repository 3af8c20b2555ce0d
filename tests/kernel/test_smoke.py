"""Every tool on this kernel: start it as a user would, cause its activity,
see it in its output -- or, where this kernel cannot serve the tool (its
row's `needs` in tests/matrix.py, asked of corebpf.features), see the tool's
one line `NAME: error: ...` and exit status 1.  Any other outcome fails:
a tool that cannot load, attach or print here although the kernel has what
its row says it needs is a bug, not a skip.

This runs with the suite on this host and, in every kernel of the matrix,
inside a guest (.ci/kernel-matrix).  The tools run in batches
(COREBPF_SMOKE_BATCH at a time, default 16) while tests.matrix.workload() and
the activities their rows name run beside them; a batch ends when every
tool's line is seen, or, with a tool that prints when stopped, after MIN_RUN
of activity and two whole loops of the workload.  COREBPF_SMOKE_REPORT=FILE
appends one JSON line per tool (kernel, outcome, the line seen or the error,
seconds to the first line and to the line seen) for the matrix's status table.

How the tools start: forked from a fork server (tests/zygote.py) that
imported corebpf, its command line and every tool's module once.  Under
emulation the interpreter's start and `import corebpf` cost ~2.4 s of guest
CPU per tool, more than the tool's own work; forked, a tool runs its own
code from `corebpf.__main__.main([NAME, *ARGS])` on exactly as a user's
start does -- argument parsing, feature probes, BTF, loading and attaching
its objects, its output on its own stdout/stderr pipes, SIGINT as
KeyboardInterrupt, its exit status -- only the interpreter's start and the
imports are shared.  The imports themselves (and every tool started as
`python3 -m corebpf NAME`) are proven by the rest of the suite, which
starts tools as users do everywhere else; COREBPF_SMOKE_FORK=0 runs this
test that way too.
"""
from __future__ import annotations

import json
import os
import platform
import re
import select
import shutil
import signal
import threading
import time

import pytest

from tests import matrix, workloads
from tests.helpers import Tool, stuck_state

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]

ROWS = dict(matrix.present())
# COREBPF_SMOKE_FORK=0: every tool a fresh `python3 -m corebpf NAME` (the default:
# forked from tests/zygote.py's server, which imported corebpf and the tools once)
FORK = os.environ.get("COREBPF_SMOKE_FORK", "1") != "0"
BATCH = int(os.environ.get("COREBPF_SMOKE_BATCH", "16"))
START_TIMEOUT = 120.0      # from start to header, all of a batch (emulated kernels are slow)
MIN_RUN = 3.0              # workload time a tool that prints when stopped gets after its header
MAX_RUN = 30.0             # at most, waiting for the lines the rows expect
EXIT_TIMEOUT = 120.0       # SIGINT -> exit, all of a batch at once (then SIGKILL)
# Tools that slow every other tool beside them in an emulated guest (memleak
# walks the stack of every kernel allocation and free: its own Ctrl-C took
# 57-70 s in the 6.1 guest beside 15 tools) run in a batch of their own.
SOLO = {"memleak"}
MB = 1 << 20
READLINE_MARKER = "echo corebpf-smoke-readline"


# -- activities (Spec.activity) ------------------------------------------------------------

def _oom():
    from tests.memcg import MemoryCgroup, provoke_oom
    with MemoryCgroup(128 * MB) as cg:
        provoke_oom(cg)


def _reclaim():
    import subprocess
    from tests.memcg import MemoryCgroup
    path = os.path.join(workloads.SCRATCH_DIR, "corebpf_smoke_reclaim_%d" % os.getpid())
    try:
        workloads.uncached_file(path, 48)
        with MemoryCgroup(16 * MB) as cg:
            cg.popen(["cat", path], stdout=subprocess.DEVNULL).wait(timeout=120)
    finally:
        os.unlink(path)


def _tcpdrop():
    from tests.nethelpers import abort_on_data
    abort_on_data("127.0.0.1")


def _devnull(seconds=3.0):
    """Text written to /dev/null (the device ttysnoop's smoke run watches)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        with open("/dev/null", "w") as f:
            f.write("corebpf-smoke-tty\n")
        time.sleep(0.2)


ACTIVITIES = {
    "devnull": _devnull,                            # writes to /dev/null (ttysnoop)
    "oom": _oom,                                    # a real OOM kill in a memory cgroup
    "reclaim": _reclaim,                            # memcg reclaim: reading 48 MiB in 16 MiB
    "tcpdrop": _tcpdrop,                            # data sent to a shut-down socket
    "retrans": workloads.syn_retransmit,            # SYNs dropped by a full accept queue
    "bash": lambda: workloads.bash_typing(READLINE_MARKER),
}


def _missing_prerequisite(s: matrix.Spec):
    """Why the test cannot cause this tool's activity here (a named skip),
    or None.  Kernel features are not prerequisites: `needs` decides those."""
    if s.activity in ("oom", "reclaim"):
        from corebpf import features
        if not features.memory_cgroup():
            return "no memory cgroup hierarchy mounted (corebpf.features.memory_cgroup)"
    if s.activity == "bash" and not shutil.which("bash"):
        return "no bash to type into"
    target = s.smoke_target or s.target
    if target in ("mysql", "threads", "malloc"):
        from tests import usdt_prog
        why = usdt_prog.missing()
        if why:
            return why
    if target == "pybusy" and s.see and "corebpf_smoke_call" in s.see:
        from tests import distro
        return distro.python_function_probes_missing()      # Debian 13's python3.13
    return None


# -- running the tools ------------------------------------------------------------------------

_REPORTER = []     # (terminalreporter, capturemanager) of this session, set by results()


def _console(text: str):
    """Progress and diagnostics, written and flushed at once past pytest's
    capture: a guest killed at its timeout still shows how far it got and
    what hung."""
    if not _REPORTER:
        print(text, flush=True)
        return
    tr, cm = _REPORTER[0]
    with cm.global_and_fixture_disabled():
        for line in text.rstrip("\n").split("\n"):
            tr.write_line(line)
        tr._tw.flush()


def _dmesg_tail(n=25) -> str:
    import subprocess
    try:
        out = subprocess.run(["dmesg"], capture_output=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError) as e:
        return f"smoke: no dmesg ({e})"
    return "\n".join(out.decode("utf-8", "replace").splitlines()[-n:])


class Forked(Tool):
    """A tool forked by the fork server (tests/zygote.py), read and stopped as Tool."""

    def __init__(self, server, name, *args):
        self.cmd = ["(forked) python3 -m corebpf", name, *map(str, args)]
        self.proc = server.start([name, *args])
        self.lines, self._buf, self._err = [], b"", b""


class Run:
    """One tool of the smoke run and what it did."""

    def __init__(self, name: str, s: matrix.Spec, wl, server=None):
        self.name, self.spec = name, s
        argv = s.args if s.smoke is None else s.smoke
        argv = tuple(str(wl.pid) if a == "WLPID" else a for a in argv)
        if s.smoke_target:
            argv = matrix.resolve(matrix.Spec(target=s.smoke_target), argv)
        else:
            argv = matrix.resolve(s, argv)
        self.argv = argv
        self.see = re.compile((s.see or r".").replace("{wlpid}", str(wl.pid)))
        self.t0 = time.monotonic()
        self.tool = Forked(server, name, *argv) if server else Tool(name, *argv, ready=False)
        self.started = None          # seconds to the first line
        self.line = None             # the line that matched
        self.seen = None             # seconds to that line
        self.rc = None
        self.stderr = ""
        self.stopped = None          # seconds from Ctrl-C to its exit
        # a line to wait for while it runs (summary tools print when stopped;
        # a known failure and a kernel that cannot serve the tool print none)
        self.expect = (s.summary is None and matrix.available(s)
                       and matrix.known_failure(s) is None)

    def poll(self):
        t = self.tool
        if self.rc is None and t.proc.poll() is None:
            t._read(0)
        if self.started is None and t.lines:
            self.started = time.monotonic() - self.t0
        if self.line is None:
            self.line = next((l for l in t.lines if self.see.search(l)), None)
            if self.line is not None:
                self.seen = time.monotonic() - self.t0

    def drain_stderr(self):
        """What is on stderr now (a tool blocked on a full pipe cannot exit)."""
        t = self.tool
        while select.select([t.proc.stderr], [], [], 0)[0]:
            chunk = os.read(t.proc.stderr.fileno(), 65536)
            if not chunk:
                break
            t._err += chunk

    @property
    def running(self):
        return self.tool.proc.poll() is None

    def finish(self, t_stop, timeout=0.1):
        """Collects what is left (SIGKILL if it has not exited: EXIT_TIMEOUT is over)."""
        self.rc = self.tool._collect(timeout, kill_wait=10)
        if self.stopped is None:
            self.stopped = time.monotonic() - t_stop
        self.stderr = self.tool.stderr
        if self.started is None and self.tool.lines:
            self.started = time.monotonic() - self.t0
        if self.line is None:
            self.line = next((l for l in self.tool.lines if self.see.search(l)), None)


def _run_batch(batch, results, server=None) -> tuple:
    """Runs a batch: the seconds its phases took (start, run, the workload's
    loops in it, stop), what the run still waited for when it ended, the
    tool slowest to stop."""
    with matrix.workload(seconds=START_TIMEOUT + MAX_RUN + 60) as wl:
        t_start = time.monotonic()
        runs = [Run(n, s, wl, server) for n, s in batch]
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            for r in runs:
                r.poll()
            if all(r.started is not None or not r.running for r in runs):
                break
            time.sleep(0.05)
        threads = [threading.Thread(target=ACTIVITIES[a], daemon=True, name=a)
                   for a in sorted({s.activity for _, s in batch if s.activity})]
        for th in threads:
            th.start()
        t0 = time.monotonic()
        # tools that print when stopped get MIN_RUN of activity and two more
        # of the workload's loops: the second begins after every tool's header,
        # so each event happens while all of them are attached however long a
        # loop takes (beside 16 tools in an emulated arm64 6.1 guest: more than
        # MIN_RUN, and stackcount saw no getppid); the others are done once
        # their line is seen
        summary = any(r.spec.summary is not None and r.running for r in runs)
        min_run = MIN_RUN if summary else 0
        loops = wl.iterations() + 2 if summary else 0
        while time.monotonic() - t0 < MAX_RUN:
            for r in runs:
                r.poll()
            busy = any(th.is_alive() for th in threads)
            waiting = [r for r in runs if r.running and r.line is None and r.expect]
            if (not busy and not waiting and time.monotonic() - t0 >= min_run
                    and wl.iterations() >= loops):
                break
            time.sleep(0.05)
        late = [r.name for r in runs if r.running and r.line is None and r.expect]
        late += [th.name for th in threads if th.is_alive()]
        ran = wl.iterations() - loops + 2 if summary else None
        if wl.iterations() < loops:
            late.append("workload (%d loops of 2 done)" % (wl.iterations() - loops + 2))
        t_stop = time.monotonic()
        for r in runs:
            if r.running:
                r.tool.proc.send_signal(signal.SIGINT)
        # one deadline for the whole batch (not 60 s per tool in turn), each
        # tool's own time to exit recorded: a tool that has not exited
        # EXIT_TIMEOUT after SIGINT is shown with what it is stuck in (and the
        # kernel's last messages), then killed
        while time.monotonic() - t_stop < EXIT_TIMEOUT:
            for r in runs:
                if r.stopped is None:
                    r.poll()
                    r.drain_stderr()
                    if not r.running:
                        r.stopped = time.monotonic() - t_stop
            if all(r.stopped is not None for r in runs):
                break
            time.sleep(0.05)
        stuck = [r for r in runs if r.stopped is None]
        if stuck:
            _console("smoke: %d s after SIGINT still running: %s" % (EXIT_TIMEOUT, "; ".join(
                "%s (PID %d) %s" % (r.name, r.tool.proc.pid, stuck_state(r.tool.proc.pid))
                for r in stuck)))
            _console("smoke: workload PID %d: %s" % (wl.pid, stuck_state(wl.pid)))
            _console(_dmesg_tail())
        for r in runs:
            r.finish(t_stop)
            results[r.name] = r
        for th in threads:
            th.join(60)
        slow = max(runs, key=lambda r: r.stopped)
        return (t0 - t_start, t_stop - t0, "" if ran is None else " (%d loops)" % ran,
                time.monotonic() - t_stop,
                " ".join(late) or "-", "%s %.1f s" % (slow.name, slow.stopped))


def _selected(session) -> list:
    names = []
    for item in session.items:
        if item.module.__name__ == __name__ and hasattr(item, "callspec"):
            n = item.callspec.params.get("name")
            if n in ROWS and n not in names:
                names.append(n)
    return names


def _outcome(r) -> tuple:
    """("runs" | "cannot" | "fail" | "skip", the line seen or the error)."""
    if isinstance(r, str):
        return "skip", r
    s = r.spec
    err = [l for l in r.stderr.splitlines() if l.strip()]
    if not matrix.available(s):
        ok = (r.rc == 1 and len(err) == 1 and err[0].startswith(f"{r.name}: error: ")
              and len(r.tool.lines) == 0)
        return ("cannot" if ok else "fail"), (err[0] if len(err) == 1 else r.stderr)
    if r.rc == 0 and r.line is not None and "Traceback" not in r.stderr:
        return "runs", r.line
    return "fail", (err[-1] if err else f"exit {r.rc}, no line matching {r.see.pattern!r}")


def _report(name, r):
    """One JSON line per tool, written as soon as its batch ends (a guest
    that dies mid-run still tells how far it got)."""
    path = os.environ.get("COREBPF_SMOKE_REPORT")
    if path:
        outcome, detail = _outcome(r)
        known = None if isinstance(r, str) else matrix.known_failure(r.spec)
        if outcome == "fail" and known and re.search(known[0], str(detail)):
            outcome, detail = "xfail", f"{known[1]}: {detail}"
        times = {} if isinstance(r, str) else {
            "start_s": r.started and round(r.started, 1), "seen_s": r.seen and round(r.seen, 1),
            "stop_s": r.stopped and round(r.stopped, 1)}
        with open(path, "a") as f:
            f.write(json.dumps({"kernel": platform.release(), "tool": name,
                                "outcome": outcome, "detail": detail, **times}) + "\n")


def _age() -> float:
    """Seconds since this process started (/proc: the boot-time clock)."""
    with open("/proc/self/stat") as f:
        start = int(f.read().rsplit(")", 1)[1].split()[19]) / os.sysconf("SC_CLK_TCK")
    with open("/proc/uptime") as f:
        return float(f.read().split()[0]) - start


@pytest.fixture(scope="module")
def results(request, tmp_path_factory):
    """Runs every selected tool once, in batches; {name: Run or skip reason}."""
    # as users run them: with the per-kernel minimal-BTF cache (corebpf.core.kcache;
    # the rest of the suite turns it off, tests/conftest.py), in a directory of
    # this run's own, so every kernel of the matrix builds and uses it
    mp = pytest.MonkeyPatch()
    request.addfinalizer(mp.undo)
    mp.setenv("COREBPF_CACHE", "on")
    mp.setenv("COREBPF_CACHE_DIR", str(tmp_path_factory.mktemp("smoke") / "btf-cache"))
    out = {}
    todo = []
    for n in _selected(request.session):
        why = _missing_prerequisite(ROWS[n])
        if why:
            out[n] = why
            _report(n, why)
        else:
            todo.append((n, ROWS[n]))
    # tools that share an activity run together, so it runs once; those that
    # print when stopped (MIN_RUN of activity) together, so few batches wait
    todo.sort(key=lambda p: (p[1].activity or "", p[1].summary is None, p[0]))
    tr = request.config.pluginmanager.get_plugin("terminalreporter")
    cm = request.config.pluginmanager.get_plugin("capturemanager")

    if tr is not None and cm is not None:
        _REPORTER[:] = [(tr, cm)]

    def progress(text):
        # progress (and the cost of a batch) where CI logs show it, past pytest's capture
        _console("smoke: " + text)
    progress("%.1f s since this interpreter started (its start-up, plugins, collection)"
             % _age())
    server = None
    if FORK and todo:
        from tests.zygote import Server
        t0 = time.monotonic()
        server = Server([n for n, _ in todo])
        progress("fork server ready in %.1f s" % (time.monotonic() - t0))
    try:
        rest = [p for p in todo if p[0] not in SOLO]
        batches = [rest[i:i + BATCH] for i in range(0, len(rest), BATCH)]
        batches += [[p] for p in todo if p[0] in SOLO]
        for batch in batches:
            t0 = time.monotonic()
            phases = _run_batch(batch, out, server)
            for n, _ in batch:
                _report(n, out[n])
            progress("%s in %.1f s (start %.1f, run %.1f%s, stop %.1f; waited for %s; "
                     "slowest to stop %s)" % (
                " ".join(n for n, _ in batch), time.monotonic() - t0, *phases))
    finally:
        if server is not None:
            server.close()
    yield out


def _show(r: Run) -> str:
    out = "\n".join(r.tool.lines[-15:])
    return (f"{r.name} {' '.join(r.argv)}: exit {r.rc}, first line after "
            f"{r.started if r.started is None else round(r.started, 1)} s\n"
            f"--- stdout (last lines)\n{out}\n--- stderr\n{r.stderr.strip()}")


@pytest.mark.parametrize("name", sorted(ROWS))
def test_smoke(name, results):
    r = results[name]
    outcome, detail = _outcome(r)
    if outcome == "skip":
        pytest.skip(r)
    known = matrix.known_failure(r.spec)
    if known is not None:
        pattern, why = known
        assert outcome == "fail", (f"{name} {outcome} here although its row's smoke_fails "
                                   f"says it fails ({why}): remove that entry\n" + _show(r))
        assert re.search(pattern, str(detail)), (
            f"{name} fails, but not as its row's smoke_fails says ({pattern!r}: {why})\n"
            + _show(r))
        pytest.xfail(f"{why}: {detail}")
    if not matrix.available(r.spec):
        assert outcome == "cannot", (f"this kernel lacks all of {r.spec.needs}: expected one "
                                     f"line '{name}: error: ...' and exit 1\n" + _show(r))
        return
    assert r.rc == 0, _show(r)
    assert "Traceback" not in r.stderr, _show(r)
    assert r.line is not None, f"no line matching {r.see.pattern!r}\n" + _show(r)
