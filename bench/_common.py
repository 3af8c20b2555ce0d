"""What the bench scripts share: the per-tool table (tests/matrix.py), the
equivalent bcc / libbpf-tools / bpftrace commands, running a tracer until
it is attached, the C load generator, medians and the machine line."""
from __future__ import annotations

import os
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import matrix  # noqa: E402  (the table lives with the tests)

BT_DIR = Path(os.environ.get("BPFTRACE_TOOLS_DIR", "/usr/sbin"))
BCC_DIR = Path(os.environ.get("BCC_TOOLS_DIR", "/usr/sbin"))


def libbpf_tools_dir():
    """$LIBBPF_TOOLS_DIR, else Debian's libbpf-tools package (/usr/sbin) when
    installed; None if neither."""
    d = os.environ.get("LIBBPF_TOOLS_DIR")
    if d:
        return Path(d)
    if Path("/usr/share/doc/libbpf-tools").exists():
        return Path("/usr/sbin")
    return None


def _is_elf(p: Path) -> bool:
    try:
        with open(p, "rb") as f:
            return f.read(4) == b"\x7fELF"
    except OSError:
        return False


class Impl:
    """One way to run a tool: a command and how to see that it is attached."""

    def __init__(self, label, cmd, skip_lines=(), ready_on_stderr=False):
        self.label = label
        self.cmd = cmd
        self.skip_lines = skip_lines    # stdout lines printed before attaching
        self.ready_on_stderr = ready_on_stderr      # --json: the header is on stderr
        self.error = None               # why it cannot run here (filled by probe())

    def __repr__(self):
        return f"<{self.label}: {' '.join(self.cmd)}>"


def corebpf_impl(name, args=()):
    bindir = os.environ.get("COREBPF_BIN")
    cmd = [os.path.join(bindir, name)] if bindir else [sys.executable, "-m", "corebpf", name]
    return Impl("corebpf", cmd + list(args))


def before_impl(name, args, before):
    """The corebpf of another built checkout `before` (e.g. main's: `git
    archive main` + its objects), labelled cb-before, for before/after in one run."""
    i = corebpf_impl(name, args)
    code = (f"import sys; sys.path[0:0] = [{str(before)!r}]; "
            "from corebpf.__main__ import main; sys.exit(main())")
    i.label, i.cmd = "cb-before", [sys.executable, "-c", code, name] + list(args)
    return i


def forced_impl(name, args, kind):
    """This checkout's corebpf with COREBPF_PROBE=kind (labelled cb-KIND):
    a tool's variant beside its default one in the same run."""
    i = corebpf_impl(name, args)
    i.label, i.cmd = "cb-" + kind, ["env", "COREBPF_PROBE=" + kind] + i.cmd
    return i


def equivalents(name, args=None, spec=None):
    """Impl of bpftrace, libbpf-tools and bcc for tool `name` (those named in the
    table, whether or not installed: an Impl whose .error says why it is absent)."""
    spec = spec or matrix.TOOLS.get(name)
    out = []
    if spec is None:
        return out
    if spec.bpftrace:
        bt = shutil.which("bpftrace")
        script = spec.bpftrace
        if script.endswith(".bt"):
            path = BT_DIR / script
            impl = Impl("bpftrace", [bt or "bpftrace", str(path)], skip_lines=("Attaching",))
            if not path.exists():
                impl.error = f"{path} not found (Debian package bpftrace)"
        else:
            impl = Impl("bpftrace", [bt or "bpftrace", "-e", script], skip_lines=("Attaching",))
        if not bt:
            impl.error = "bpftrace not installed (Debian package bpftrace)"
        out.append(impl)
    if spec.libbpf:
        tname, targs = spec.libbpf
        d = libbpf_tools_dir()
        path = (d / (tname or name)) if d else None
        # C stdio block-buffers a pipe: line-buffer it so the header shows at once
        impl = Impl("libbpf-tools", ["stdbuf", "-oL", str(path or (tname or name)),
                                     *(targs if args is None else args)])
        if d is None:
            impl.error = "no libbpf-tools (set LIBBPF_TOOLS_DIR, or Debian package libbpf-tools)"
        elif not _is_elf(path):
            impl.error = f"{path} is not a libbpf-tools binary"
        out.append(impl)
    if spec.bcc:
        tname, targs = spec.bcc
        path = BCC_DIR / f"{tname or name}-bpfcc"
        impl = Impl("bcc", [str(path), *(targs if args is None else args)])
        if not path.exists():
            impl.error = f"{path} not found (Debian package bpfcc-tools)"
        out.append(impl)
    return out


# -- running a tracer -----------------------------------------------------------------------

class Running:
    """A tracer started with stdout to `out` (a file path) or a pipe; start()
    returns once it printed its first line after `skip_lines` (attached)."""

    def __init__(self, impl: Impl, out=None, timeout=60):
        self.impl = impl
        self.t0 = time.monotonic()
        self.out_path = out
        self.resent = False
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        # An installed package has its .pyc files; let a checkout write them too
        # (the first, warm-up run does) rather than compile every module each run.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        self._errf = tempfile.TemporaryFile()
        if out:
            # the tracer writes to a file; its first line is seen there
            self._outf = open(out, "wb")
            self.proc = subprocess.Popen(impl.cmd, stdout=self._outf, stderr=self._errf,
                                         stdin=subprocess.DEVNULL, env=env, cwd=ROOT)
        else:
            self._outf = None
            self.proc = subprocess.Popen(impl.cmd, stdout=subprocess.PIPE, stderr=self._errf,
                                         stdin=subprocess.DEVNULL, env=env, cwd=ROOT)
        self.ready = self._wait_ready(timeout)

    def _read_more(self):
        """Output so far: the file, or what the pipe had (accumulated)."""
        if self.out_path:
            with open(self.out_path, "rb") as f:
                return f.read()
        r, _, _ = select.select([self.proc.stdout], [], [], 0.05)
        if r:
            self._seen += os.read(self.proc.stdout.fileno(), 65536)
        return self._seen

    def _attached(self, text: bytes) -> bool:
        for ln in text.split(b"\n")[:-1]:
            if not ln.decode("utf-8", "replace").startswith(self.impl.skip_lines or ("\0",)):
                return True
        return False

    def _wait_ready(self, timeout):
        self._seen = b""
        deadline = self.t0 + timeout
        while not (self.impl.ready_on_stderr and os.fstat(self._errf.fileno()).st_size > 0
                   or self._attached(self._read_more())):
            if self.proc.poll() is not None:
                err = self.stderr_text().strip().splitlines()
                raise RuntimeError(err[-1] if err else f"exited with {self.proc.returncode}")
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"not attached within {timeout} s")
            if self.out_path:
                time.sleep(0.002)
        return time.monotonic() - self.t0

    def stderr_text(self):
        self._errf.seek(0)
        return self._errf.read().decode("utf-8", "replace")

    def stop(self, sig=signal.SIGINT, timeout=60):
        """Signal it; return (seconds to exit, cpu seconds, max RSS KiB, status).
        A tracer still running 2 s later gets the signal again (as a user
        would press Ctrl-C again: bpftrace can miss one that arrives just
        after its header), and SIGKILL after `timeout`."""
        hwm = _vm_hwm(self.proc.pid)
        t1 = time.monotonic()
        self.proc.send_signal(sig)
        resend = t1 + 2
        while True:
            pid, status, ru = os.wait4(self.proc.pid, os.WNOHANG)
            if pid:
                break
            now = time.monotonic()
            if now > t1 + timeout:
                self.proc.kill()
            elif now > resend:
                self.proc.send_signal(sig)
                self.resent = True
                resend = now + 2
            if self._outf is None:
                # keep draining so a full pipe cannot hold it up
                r, _, _ = select.select([self.proc.stdout], [], [], 0.002)
                if r:
                    os.read(self.proc.stdout.fileno(), 1 << 16)
            else:
                time.sleep(0.002)
        self.proc.returncode = os.waitstatus_to_exitcode(status)
        exit_s = time.monotonic() - t1
        if self._outf:
            self._outf.close()
        return exit_s, ru.ru_utime + ru.ru_stime, hwm or ru.ru_maxrss, self.proc.returncode

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def _vm_hwm(pid) -> int:
    """Peak RSS (KiB) of the process's current program.  Not wait4's
    ru_maxrss: Linux carries the pre-exec RSS of the forked parent (this
    bench, ~30 MB) into it."""
    try:
        with open(f"/proc/{pid}/status") as f:
            return next(int(l.split()[1]) for l in f if l.startswith("VmHWM:"))
    except (OSError, StopIteration, ValueError):
        return 0


def probe(impl: Impl) -> Impl:
    """Try an equivalent once; set impl.error to its first complaint if it
    cannot attach here (bcc without kernel headers, a kprobe tool, ...)."""
    if impl.error:
        return impl
    try:
        r = Running(impl, timeout=60)
        time.sleep(0.3)             # bcc prints its complaint on stdout, then dies
        if r.proc.poll() is not None:
            raise RuntimeError(r.stderr_text().strip().splitlines()[-1:] or ["exited"])
    except RuntimeError as e:
        impl.error = bcc_reason(impl) if impl.label == "bcc" else str(e)[:200]
        return impl
    r.stop()
    return impl


def bcc_reason(impl: Impl) -> str:
    """The line of bcc's stderr that says why it cannot run (it prints a
    Python traceback after the real reason)."""
    try:
        p = subprocess.run(impl.cmd, capture_output=True, text=True, timeout=120,
                           stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return "timed out"
    for line in (p.stdout + p.stderr).splitlines():
        if any(k in line for k in ("kernel headers", "Failed", "failed", "error:",
                                   "Exception:", "cannot", "not found")):
            return line.strip()
    return (p.stderr.strip().splitlines() or ["exited"])[-1]


# -- the load generator ---------------------------------------------------------------------------

def build_gen(outdir=None) -> Path:
    """Compile bench/gen.c (and the static gen-child it execs); return gen's path."""
    d = Path(outdir or tempfile.mkdtemp(prefix="corebpf-bench-"))
    cc = os.environ.get("CC") or shutil.which("gcc") or shutil.which("cc") or "clang"
    subprocess.run([cc, "-O2", "-o", str(d / "gen"), str(ROOT / "bench" / "gen.c")], check=True)
    r = subprocess.run([cc, "-O2", "-static", "-o", str(d / "gen-child"),
                        str(ROOT / "bench" / "gen-child.c")], capture_output=True)
    if r.returncode:        # no static libc: a dynamic child is fine, only slower
        subprocess.run([cc, "-O2", "-o", str(d / "gen-child"),
                        str(ROOT / "bench" / "gen-child.c")], check=True)
    return d / "gen"


def run_gen(gen: Path, *args) -> float:
    """Run the generator; return the seconds its loop took."""
    p = subprocess.run([str(gen), *map(str, args)], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, check=True)
    return float(p.stdout.split()[-1])


# -- figures ------------------------------------------------------------------------------------------

def median(xs):
    return statistics.median(xs) if xs else float("nan")


def machine_line() -> str:
    try:
        from corebpf.core import _libbpf
        _libbpf.lib()
        lv = "%d.%d" % _libbpf.VERSION
    except Exception:           # the line is informational
        lv = "?"
    try:
        model = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                     if l.startswith("model name"))
    except (OSError, StopIteration):
        model = "?"
    load = open("/proc/loadavg").read().split()[:3]
    return (f"# {time.strftime('%Y-%m-%d %H:%M %Z')}  kernel {os.uname().release}  "
            f"{os.cpu_count()} CPUs ({model})  libbpf {lv}  Python "
            f"{sys.version.split()[0]}  load {' '.join(load)}")


def require_root(prog):
    if os.geteuid() != 0:
        sys.exit(f"{prog}: run as root")
