"""Every tool on this kernel: start it as a user would, cause its activity,
see it in its output -- or, where this kernel cannot serve the tool (its
row's `needs` in tests/matrix.py, asked of corebpf.features), see the tool's
one line `NAME: error: ...` and exit status 1.  Any other outcome fails:
a tool that cannot load, attach or print here although the kernel has what
its row says it needs is a bug, not a skip.

This runs with the suite on this host and, in every kernel of the matrix,
inside a guest (.ci/kernel-matrix).  Under emulation each start costs a
second or two, so the tools run in batches (COREBPF_SMOKE_BATCH at a time,
default 8) while tests.matrix.workload() and the activities their rows name
run beside them.  COREBPF_SMOKE_REPORT=FILE appends one JSON line per tool
(kernel, outcome, the line seen or the error) for the matrix's status table.
"""
from __future__ import annotations

import json
import os
import platform
import re
import shutil
import signal
import threading
import time

import pytest

from tests import matrix, workloads
from tests.helpers import Tool, stuck_state

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]

ROWS = dict(matrix.present())
BATCH = int(os.environ.get("COREBPF_SMOKE_BATCH", "8"))
START_TIMEOUT = 120.0      # from start to header, all of a batch (emulated kernels are slow)
MIN_RUN = 3.0              # workload time every tool gets after its header
MAX_RUN = 30.0             # at most, waiting for the lines the rows expect
EXIT_TIMEOUT = 60.0         # SIGINT -> exit, all of a batch
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
    if target in ("mysql", "threads", "malloc") and not (
            shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")):
        return "no C compiler to build the USDT target (tests/progs/usdt_target.c)"
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


class Run:
    """One tool of the smoke run and what it did."""

    def __init__(self, name: str, s: matrix.Spec, wl):
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
        self.tool = Tool(name, *argv, ready=False)
        self.started = None          # seconds to the first line
        self.line = None             # the line that matched
        self.seen = None             # seconds to that line
        self.rc = None
        self.stderr = ""

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

    @property
    def running(self):
        return self.tool.proc.poll() is None

    def finish(self, timeout=60.0):
        self.rc = self.tool._collect(timeout, kill_wait=10)
        self.stderr = self.tool.stderr
        if self.started is None and self.tool.lines:
            self.started = time.monotonic() - self.t0
        if self.line is None:
            self.line = next((l for l in self.tool.lines if self.see.search(l)), None)


def _run_batch(batch, results):
    with matrix.workload(seconds=START_TIMEOUT + MAX_RUN + 60) as wl:
        runs = [Run(n, s, wl) for n, s in batch]
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            for r in runs:
                r.poll()
            if all(r.started is not None or not r.running for r in runs):
                break
            time.sleep(0.05)
        threads = [threading.Thread(target=ACTIVITIES[a], daemon=True)
                   for a in sorted({s.activity for _, s in batch if s.activity})]
        for th in threads:
            th.start()
        t0 = time.monotonic()
        while time.monotonic() - t0 < MAX_RUN:
            for r in runs:
                r.poll()
            busy = any(th.is_alive() for th in threads)
            waiting = [r for r in runs if r.running and r.line is None and r.spec.summary is None]
            if not busy and not waiting and time.monotonic() - t0 >= MIN_RUN:
                break
            time.sleep(0.1)
        for r in runs:
            if r.running:
                r.tool.proc.send_signal(signal.SIGINT)
        # one deadline for the whole batch (not 60 s per tool in turn): a
        # tool that has not exited 60 s after SIGINT is shown with what it is
        # stuck in (and the kernel's last messages), then killed
        deadline = time.monotonic() + EXIT_TIMEOUT
        while time.monotonic() < deadline and any(r.running for r in runs):
            for r in runs:
                r.poll()
            time.sleep(0.1)
        stuck = [r for r in runs if r.running]
        if stuck:
            _console("smoke: %d s after SIGINT still running: %s" % (EXIT_TIMEOUT, "; ".join(
                "%s (PID %d) %s" % (r.name, r.tool.proc.pid, stuck_state(r.tool.proc.pid))
                for r in stuck)))
            _console("smoke: workload PID %d: %s" % (wl.pid, stuck_state(wl.pid)))
            _console(_dmesg_tail())
        for r in runs:
            r.finish(timeout=0.1)
            results[r.name] = r
        for th in threads:
            th.join(60)


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
            "start_s": r.started and round(r.started, 1), "seen_s": r.seen and round(r.seen, 1)}
        with open(path, "a") as f:
            f.write(json.dumps({"kernel": platform.release(), "tool": name,
                                "outcome": outcome, "detail": detail, **times}) + "\n")


@pytest.fixture(scope="module")
def results(request):
    """Runs every selected tool once, in batches; {name: Run or skip reason}."""
    out = {}
    todo = []
    for n in _selected(request.session):
        why = _missing_prerequisite(ROWS[n])
        if why:
            out[n] = why
            _report(n, why)
        else:
            todo.append((n, ROWS[n]))
    # tools that share an activity run together, so it runs once
    todo.sort(key=lambda p: (p[1].activity or "", p[0]))
    tr = request.config.pluginmanager.get_plugin("terminalreporter")
    cm = request.config.pluginmanager.get_plugin("capturemanager")
    if tr is not None and cm is not None:
        _REPORTER[:] = [(tr, cm)]
    for i in range(0, len(todo), BATCH):
        t0 = time.monotonic()
        batch = todo[i:i + BATCH]
        _run_batch(batch, out)
        for n, _ in batch:
            _report(n, out[n])
        # progress (and the cost of a batch) where CI logs show it, past pytest's capture
        _console("smoke: %s in %.1f s" % (" ".join(n for n, _ in batch), time.monotonic() - t0))
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
