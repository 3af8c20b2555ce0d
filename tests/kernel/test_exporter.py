"""corebpf-exporter on the real kernel, scraped by a real Prometheus server
(Debian's `prometheus`, started here on 127.0.0.1 with a temporary config
and data dir): direct I/O, scheduling, TCP connects, a retransmit and
syscalls caused by the test show up in Prometheus' HTTP API."""
from __future__ import annotations

import ctypes
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

import pytest

from tests import matrix
from tests.helpers import Tool
from tests.nethelpers import Server, connect
from tests.netlab import NetLab

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]

SYS_SYSINFO = 99        # x86_64; a syscall nothing else on the machine makes often


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url: str, timeout: float = 10) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode()


def sample(text: str, name: str, **labels):
    """The value of sample `name` with exactly `labels` in exposition `text`, or None."""
    from prometheus_client.parser import text_string_to_metric_families
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            if s.name == name and s.labels == labels:
                return s.value
    return None


class Prometheus:
    """A Prometheus server scraping `target` every second, on a free port."""

    def __init__(self, target: str):
        self.dir = tempfile.mkdtemp(prefix="corebpf-prom-")
        cfg = os.path.join(self.dir, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                    "scrape_configs:\n  - job_name: corebpf\n    static_configs:\n"
                    f"      - targets: ['{target}']\n")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(os.path.join(self.dir, "log"), "w")
        self.proc = subprocess.Popen(
            ["prometheus", f"--config.file={cfg}", f"--storage.tsdb.path={self.dir}/data",
             f"--web.listen-address=127.0.0.1:{self.port}"],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            try:
                http_get(self.url + "/-/ready", timeout=2)
                break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.close()
                    raise AssertionError("prometheus did not start: " + self.logtext())
                time.sleep(0.2)

    def logtext(self) -> str:
        try:
            with open(os.path.join(self.dir, "log")) as f:
                return f.read()[-2000:]
        except OSError:
            return ""

    def query(self, expr: str) -> list:
        """[(labels, value)] of an instant query."""
        q = urllib.parse.urlencode({"query": expr})
        r = json.loads(http_get(f"{self.url}/api/v1/query?{q}"))
        assert r["status"] == "success", r
        return [(x["metric"], float(x["value"][1])) for x in r["data"]["result"]]

    def value(self, expr: str):
        """The single value of `expr`, or None while it has none."""
        res = self.query(expr)
        return res[0][1] if res else None

    def wait_value(self, expr: str, pred, timeout: float = 60, poke=None):
        """Poll `expr` until pred(value) (calling poke() between polls)."""
        deadline = time.monotonic() + timeout
        v = None
        while time.monotonic() < deadline:
            v = self.value(expr)
            if v is not None and pred(v):
                return v
            if poke:
                poke()
            time.sleep(0.5)
        raise AssertionError(f"{expr}: last value {v}")

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def start_exporter(*args, env=None) -> tuple:
    port = free_port()
    t = Tool("exporter", "--listen", f"127.0.0.1:{port}", *args, env=env, timeout=120)
    assert t.lines[0] == (f"corebpf-exporter: serving {t.lines[0].split()[2]} collectors "
                          f"on http://127.0.0.1:{port}/metrics"), t.lines
    return t, port


@pytest.fixture(scope="module")
def exporter():
    t, port = start_exporter()
    yield t, port
    assert t.stop(signal.SIGTERM) == 0, t.stderr
    assert "Traceback" not in t.stderr


@pytest.fixture(scope="module")
def prom(exporter):
    p = Prometheus(f"127.0.0.1:{exporter[1]}")
    try:
        p.wait_value('up{job="corebpf"}', lambda v: v == 1, timeout=60)
        yield p
    finally:
        p.close()


def direct_io(mb=4):
    path = f"/var/tmp/corebpf_exporter_{os.getpid()}"
    try:
        subprocess.run(["dd", "if=/dev/zero", f"of={path}", "bs=1M", f"count={mb}",
                        "oflag=direct", "status=none"], check=True)
    finally:
        if os.path.exists(path):
            os.unlink(path)


def test_every_collector_serves_here(exporter):
    t, port = exporter
    text = http_get(f"http://127.0.0.1:{port}/metrics")
    from corebpf.exporter.collectors import BY_NAME
    for name in BY_NAME:
        assert sample(text, "corebpf_collector_up", collector=name) == 1, name
    assert t.lines[0].split()[2] == str(len(BY_NAME))


def test_block_io_and_run_queue_quantiles(prom):
    q = ('histogram_quantile(0.99, sum by (le) '
         '(rate(corebpf_block_io_latency_seconds_bucket{op="write"}[1m])))')
    v = prom.wait_value(q, math.isfinite, poke=direct_io)
    assert 0 < v < 60
    q = 'histogram_quantile(0.99, sum by (le) (rate(corebpf_runqueue_latency_seconds_bucket[1m])))'
    v = prom.wait_value(q, math.isfinite, poke=lambda: subprocess.run(["true"]))
    assert 0 < v < 60
    # the exact sum is there too: a mean write latency
    q = ('sum(rate(corebpf_block_io_latency_seconds_sum{op="write"}[1m])) / '
         'sum(rate(corebpf_block_io_latency_seconds_count{op="write"}[1m]))')
    assert 0 < prom.wait_value(q, math.isfinite, poke=direct_io) < 60


def test_syscall_and_error_counters(prom):
    libc = ctypes.CDLL(None, use_errno=True)
    calls = 'sum(corebpf_syscalls_total{syscall="sysinfo"})'
    errors = 'sum(corebpf_syscall_errors_total{syscall="sysinfo"})'
    c0 = prom.value(calls) or 0
    e0 = prom.value(errors) or 0
    buf = ctypes.create_string_buffer(256)
    for _ in range(500):
        assert libc.syscall(SYS_SYSINFO, buf) == 0
    for _ in range(300):
        assert libc.syscall(SYS_SYSINFO, ctypes.c_void_p(8)) == -1      # EFAULT
    prom.wait_value(calls, lambda v: v >= c0 + 800)
    prom.wait_value(errors, lambda v: v >= e0 + 300)


def test_syscall_programs_chained():
    """ext4dist, vfsstat and syscount on raw_syscalls' sys_enter/sys_exit: one
    program attached per hook, the others reached by tail calls, and each
    collector still counts what the test does."""
    from corebpf.exporter.collectors import BY_NAME, chain_syscalls
    names = ["ext4dist", "vfsstat", "syscount"]
    cols = []
    try:
        for n in names:
            c = BY_NAME[n]({})
            c.start(chained=True)
            cols.append(c)
        variants = {c.obj.variant for c in cols}
        chains = chain_syscalls(cols)
        if len(variants) == 1:      # one program type: a single chain per hook
            assert chains == {"sys_enter": [["ext4dist", "vfsstat"]],
                              "sys_exit": [names]}, chains
        attached = sorted((c.name, l.target.rsplit("/", 1)[-1]) for c in cols
                          for l in c.obj.links
                          if l.target.rsplit("/", 1)[-1] in ("sys_enter", "sys_exit"))
        assert attached == sorted((ch[0], hook) for hook, chs in chains.items() for ch in chs)
        libc = ctypes.CDLL(None, use_errno=True)
        buf = ctypes.create_string_buffer(256)
        for _ in range(200):
            assert libc.syscall(SYS_SYSINFO, buf) == 0
        base = f"/var/tmp/corebpf_exporter_chain_{os.getpid()}"
        for i in range(20):
            os.mkdir(f"{base}_{i}")
            os.rmdir(f"{base}_{i}")
        fams = {f.name: f for c in cols for f in c.families()}
        calls = sum(s.value for s in fams["corebpf_syscalls"].samples
                    if s.labels.get("syscall") == "sysinfo")
        mkdirs = sum(s.value for s in fams["corebpf_vfs_operations"].samples
                     if s.labels.get("op") == "mkdir")
        assert calls >= 200 and mkdirs >= 20, (calls, mkdirs)
    finally:
        for c in cols:
            c.close()


def test_vfs_and_ext4_counters(exporter):
    """vfsstat's and ext4dist's collectors count what the test does (their
    objects' raw_syscalls variants count only the syscalls of the table the
    collector fills after load: an empty table counted nothing)."""
    _, port = exporter
    url = f"http://127.0.0.1:{port}/metrics"
    mkdirs = lambda: sample(http_get(url), "corebpf_vfs_operations_total", op="mkdir") or 0
    fsyncs = lambda: sample(http_get(url), "corebpf_ext4_operation_latency_seconds_count",
                            op="fsync") or 0
    m0, f0 = mkdirs(), fsyncs()
    base = f"/var/tmp/corebpf_exporter_vfs_{os.getpid()}"      # ext4 on the test machines
    for i in range(40):
        os.mkdir(f"{base}_{i}")
        os.rmdir(f"{base}_{i}")
    fd = os.open(base, os.O_CREAT | os.O_WRONLY, 0o600)
    try:
        for _ in range(30):
            os.write(fd, b"x")
            os.fsync(fd)
    finally:
        os.close(fd)
        os.unlink(base)
    assert mkdirs() >= m0 + 40
    assert fsyncs() >= f0 + 30


def test_tcp_connects_and_a_retransmit(prom):
    conns = 'sum(corebpf_tcp_connect_latency_seconds_count{family="ipv4"})'
    sessions = 'sum(corebpf_tcp_session_duration_seconds_count{family="ipv4"})'
    retrans = 'sum(corebpf_tcp_retransmits_total{family="ipv4"})'
    sent = 'sum(corebpf_tcp_session_sent_bytes_total{family="ipv4"})'
    c0, s0, r0, b0 = [prom.value(q) or 0 for q in (conns, sessions, retrans, sent)]
    with Server(reply=10) as srv:
        for _ in range(20):
            assert connect("127.0.0.1", srv.port, send=100, read=True)[1] == 10
    with NetLab() as lab:
        sink = lab.python(SINK, lab.peer4)
        port = int(sink.first_line)
        loss = lab.drop(port, drops=3, acks=True)
        c = socket.create_connection((lab.peer4, port))
        c.sendall(b"x" * 2000)
        assert NetLab.wait_dropped(loss, 3) == 3
        prom.wait_value(retrans, lambda v: v >= r0 + 1)
        c.close()
    prom.wait_value(conns, lambda v: v >= c0 + 21)
    prom.wait_value(sessions, lambda v: v >= s0 + 20)
    prom.wait_value(sent, lambda v: v >= b0 + 20 * 100)


SINK = r'''
import socket, sys
l = socket.socket()
l.bind((sys.argv[1], 0)); l.listen(); print(l.getsockname()[1], flush=True)
c, _ = l.accept()
while c.recv(65536): pass
'''


def test_process_exits_by_signal(prom):
    killed = 'sum(corebpf_process_exits_total{reason="signal",signal="SIGKILL"})'
    failed = 'sum(corebpf_process_exits_total{reason="failure"})'
    k0, f0 = prom.value(killed) or 0, prom.value(failed) or 0
    for _ in range(3):
        p = subprocess.Popen(["sleep", "30"])
        p.kill()
        p.wait()
        subprocess.run(["false"])
    prom.wait_value(killed, lambda v: v >= k0 + 3)
    prom.wait_value(failed, lambda v: v >= f0 + 3)


def test_self_metrics_and_bpf_stats(exporter):
    _, port = exporter
    url = f"http://127.0.0.1:{port}/metrics"
    with open("/proc/sys/kernel/bpf_stats_enabled") as f:
        before = f.read().strip()
    try:
        with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
            f.write("1")
        subprocess.run(["true"])
        time.sleep(0.5)
        text = http_get(url)
    finally:
        with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
            f.write(before)
    runs = {l.split()[0]: float(l.split()[1]) for l in text.splitlines()
            if l.startswith("corebpf_collector_bpf_runs_total{")}
    assert runs['corebpf_collector_bpf_runs_total{collector="runqlat"}'] > 0
    assert "corebpf_exporter_scrape_duration_seconds " in text
    assert 'corebpf_collector_scrape_duration_seconds{collector="syscount"}' in text
    assert sample(text, "corebpf_collector_lost_events_total", collector="biolatency") == 0


# -- the exposition format -------------------------------------------------------

# every corebpf family: its type; a new family joins this table with a name
# that says its unit (_seconds, _bytes, _pages; counters _total)
FAMILIES = {
    "corebpf_block_io_latency_seconds": "histogram",
    "corebpf_runqueue_latency_seconds": "histogram",
    "corebpf_task_oncpu_seconds": "histogram",
    "corebpf_ext4_operation_latency_seconds": "histogram",
    "corebpf_tcp_connect_latency_seconds": "histogram",
    "corebpf_tcp_session_duration_seconds": "histogram",
    "corebpf_tcp_session_sent_bytes": "counter",
    "corebpf_tcp_session_received_bytes": "counter",
    "corebpf_syscalls": "counter",
    "corebpf_syscall_errors": "counter",
    "corebpf_vfs_operations": "counter",
    "corebpf_page_cache_read_pages": "counter",
    "corebpf_page_cache_read_miss_pages": "counter",
    "corebpf_buffer_dirtied": "counter",
    "corebpf_hardirq_seconds": "counter",
    "corebpf_softirq_seconds": "counter",
    "corebpf_tcp_retransmits": "counter",
    "corebpf_tcp_drops": "counter",
    "corebpf_oom_kills": "counter",
    "corebpf_process_exits": "counter",
    "corebpf_collector_up": "gauge",
    "corebpf_collector_scrape_duration_seconds": "gauge",
    "corebpf_collector_lost_events": "counter",
    "corebpf_exporter_scrape_duration_seconds": "gauge",
}
NON_BASE_UNITS = ("_ms", "_us", "_ns", "_usecs", "_msecs", "_nsecs", "_milliseconds",
                  "_microseconds", "_nanoseconds", "_kb", "_mb", "_kbytes", "_minutes")


def test_metrics_parse_with_help_type_and_units(exporter):
    from prometheus_client.parser import text_string_to_metric_families
    _, port = exporter
    direct_io()
    text = http_get(f"http://127.0.0.1:{port}/metrics")
    seen = {}
    for fam in text_string_to_metric_families(text):
        assert fam.documentation, f"{fam.name}: no HELP"
        assert fam.type in ("counter", "gauge", "histogram"), f"{fam.name}: TYPE {fam.type}"
        assert not any(u + "_" in fam.name + "_" for u in NON_BASE_UNITS), fam.name
        for s in fam.samples:
            if fam.type == "counter":
                assert s.name.endswith(("_total", "_created")), s.name
            if fam.type == "histogram":
                assert s.name.rsplit("_", 1)[-1] in ("bucket", "sum", "count", "created")
                assert fam.name.endswith("_seconds"), fam.name
            assert s.value >= 0 and not math.isnan(s.value), s
        seen[fam.name] = fam.type
    mine = {n: t for n, t in seen.items() if n.startswith("corebpf_")}
    assert mine == FAMILIES
    assert seen["process_resident_memory_bytes"] == "gauge"
    # buckets: cumulative, ending at +Inf == _count
    fam = next(f for f in text_string_to_metric_families(text)
               if f.name == "corebpf_block_io_latency_seconds")
    series = {}
    for s in fam.samples:
        key = tuple(sorted((k, v) for k, v in s.labels.items() if k != "le"))
        series.setdefault(key, {})[s.labels.get("le", s.name)] = s.value
    assert any(v.get("corebpf_block_io_latency_seconds_count", 0) > 0 for v in series.values())
    for v in series.values():
        les = sorted((float(k), n) for k, n in v.items() if not k.startswith("corebpf"))
        counts = [n for _, n in les]
        assert counts == sorted(counts)
        assert les[0][0] == 2e-06 and les[-1][0] == math.inf
        assert counts[-1] == v["corebpf_block_io_latency_seconds_count"]


# -- collectors the kernel cannot serve, signals ------------------------------------


def test_unservable_collector_is_down_and_reported_once():
    # this kernel has no kprobes: forcing them leaves cpudist (tp_btf, raw_tp,
    # kprobe) with nothing to load, while runqlat has no kprobe variant
    t, port = start_exporter("--collectors", "runqlat,cpudist",
                             env={"COREBPF_PROBE": "kprobe"})
    import corebpf
    if corebpf.features.kprobes():
        t.stop(signal.SIGTERM)
        pytest.skip("this kernel has kprobes: cpudist can serve")
    text = http_get(f"http://127.0.0.1:{port}/metrics")
    http_get(f"http://127.0.0.1:{port}/metrics")
    assert sample(text, "corebpf_collector_up", collector="cpudist") == 0
    assert sample(text, "corebpf_collector_up", collector="runqlat") == 1
    assert "corebpf_runqueue_latency_seconds_bucket" in text
    assert "corebpf_task_oncpu_seconds" not in text
    assert t.lines[0].split()[2] == "1"
    assert t.stop(signal.SIGINT) == 0
    lines = t.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("corebpf-exporter: cpudist: not serving: "), \
        t.stderr
    assert "kprobes" in lines[0]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL],
                         ids=["SIGTERM", "SIGINT", "SIGKILL"])
def test_nothing_left_attached_after(sig):
    probes_before = matrix.tracefs_probes()
    t, port = start_exporter()
    http_get(f"http://127.0.0.1:{port}/metrics")
    pid = t.proc.pid
    objs = matrix.owned_objects(pid)
    assert len(objs["prog"]) >= 15 and objs["link"], objs
    rc = t.stop(sig)
    if sig == signal.SIGKILL:
        assert rc == -signal.SIGKILL
    else:
        assert rc == 0, t.stderr
        assert t.stderr == ""
    left = matrix.remaining(objs)
    assert not left, f"left loaded after {sig.name}: {left}"
    assert not matrix.probes_of(pid, matrix.tracefs_probes() - probes_before)
    with pytest.raises(OSError):
        http_get(f"http://127.0.0.1:{port}/metrics", timeout=2)


def _vm_kb(pid: int) -> dict:
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmHWM", "VmRSS"):
                out[k] = int(v.split()[0])
    return out


def test_cold_cache_start_peak_memory(tmp_path):
    """With an empty minimal-BTF cache the exporter's entries are computed by
    a short-lived child (kcache.prepare): written for every collector's
    object, used as written by the next start, and the daemon's own peak
    (VmHWM) stays near the warm start's.  Computed in the daemon, the
    kernel's parsed BTF added ~13 MB here (52 vs 39 MB)."""
    from corebpf.core import kcache
    from corebpf.core.paths import object_path
    from corebpf.exporter.collectors import BY_NAME
    cache = tmp_path / "cache"
    env = {"COREBPF_CACHE": "on", "COREBPF_CACHE_DIR": str(cache)}
    peaks, stamps = [], []
    for _ in range(2):
        t, port = start_exporter(env=env)
        try:
            served = int(t.lines[0].split()[2])
            http_get(f"http://127.0.0.1:{port}/metrics")
            peaks.append(_vm_kb(t.proc.pid)["VmHWM"])
            files = {n: kcache.entry_path(str(cache), object_path(c.name), c.name)
                     for n, c in BY_NAME.items()}
            stamps.append({n: os.lstat(p).st_mtime_ns for n, p in files.items()
                           if os.path.exists(p)})
        finally:
            assert t.stop(signal.SIGTERM) == 0, t.stderr
        assert "Traceback" not in t.stderr
    assert len(stamps[0]) >= served, f"entries written: {sorted(stamps[0])}"
    assert stamps[1] == stamps[0], "the warm start rewrote entries"
    assert peaks[0] <= peaks[1] + 4 * 1024, f"VmHWM cold {peaks[0]} kB, warm {peaks[1]} kB"


def test_bad_input_is_one_line():
    cases = [
        (["--collectors", "biolatency,nope"], "no collector 'nope'"),
        (["--listen", "localhost"], "is not HOST:PORT"),
        (["--listen", "127.0.0.1:99999"], "the port must be 1-65535"),
        (["--config", "/nonexistent/x.toml"], "cannot read /nonexistent/x.toml"),
    ]
    for args, msg in cases:
        p = subprocess.run(matrix.tool_cmd("exporter", *args), capture_output=True, text=True,
                           timeout=60)
        assert p.returncode == 2, (args, p.stderr)
        lines = p.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("corebpf-exporter: error: "), p.stderr
        assert msg in lines[0], lines
        assert p.stdout == ""


def test_port_in_use_is_one_line():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        p = subprocess.run(matrix.tool_cmd("exporter", "--collectors", "runqlat", "--listen",
                                           f"127.0.0.1:{port}"),
                           capture_output=True, text=True, timeout=120)
    assert p.returncode == 2, p.stderr
    assert p.stderr == (f"corebpf-exporter: error: cannot listen on 127.0.0.1:{port}: "
                        "Address already in use\n")


def test_config_file_options(tmp_path):
    cfg = tmp_path / "exporter.toml"
    cfg.write_text('collectors = ["biolatency", "syscount"]\n'
                   '[biolatency]\nper_disk = false\nper_op = true\n'
                   '[syscount]\nlatency = true\n')
    t, port = start_exporter("--config", str(cfg))
    try:
        direct_io()
        text = http_get(f"http://127.0.0.1:{port}/metrics")
    finally:
        assert t.stop(signal.SIGTERM) == 0
    assert t.lines[0].split()[2] == "2"
    assert sample(text, "corebpf_block_io_latency_seconds_count", disk="", op="write") > 0
    assert sample(text, "corebpf_syscall_seconds_total", syscall="read") > 0
    assert "corebpf_runqueue_latency_seconds" not in text


# -- the systemd unit's privileges ------------------------------------------------

UNIT = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                    "contrib", "systemd", "corebpf-exporter.service")


def unit_settings() -> dict:
    out = {}
    with open(UNIT) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith(("#", "[")):
                k, _, v = line.partition("=")
                out[k] = v
    return out


def test_every_collector_serves_with_the_unit_capabilities_only():
    """What the unit grants (its CapabilityBoundingSet, no new privileges),
    applied with setpriv: every collector still loads and attaches."""
    u = unit_settings()
    assert u["NoNewPrivileges"] == "yes" and u["ProtectSystem"] == "strict"
    caps = u["CapabilityBoundingSet"].split()
    assert caps and "CAP_SYS_ADMIN" not in caps
    spec = "-all," + ",".join("+" + c[4:].lower() for c in caps)
    port = free_port()
    cmd = ["setpriv", f"--bounding-set={spec}", "--inh-caps=-all", "--no-new-privs", "--",
           *matrix.tool_cmd("exporter", "--listen", f"127.0.0.1:{port}")]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline()
        from corebpf.exporter.collectors import BY_NAME
        assert line.startswith(f"corebpf-exporter: serving {len(BY_NAME)} collectors"), \
            line + p.stderr.read() if p.poll() is not None else line
        with open(f"/proc/{p.pid}/status") as f:
            eff = next(int(l.split()[1], 16) for l in f if l.startswith("CapEff:"))
        assert eff & (1 << 21) == 0         # no CAP_SYS_ADMIN
        text = http_get(f"http://127.0.0.1:{port}/metrics")
        for name in BY_NAME:
            assert sample(text, "corebpf_collector_up", collector=name) == 1, name
    finally:
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    assert err == ""


def test_comm_labels_with_a_cap(tmp_path):
    cfg = tmp_path / "exporter.toml"
    cfg.write_text('collectors = ["syscount"]\n[syscount]\ncomm_top = 10000\n')
    t, port = start_exporter("--config", str(cfg))
    comm = 'cb"q\\%d' % (os.getpid() % 1000)         # quotes and backslashes: escaped
    code = ("import ctypes, sys; libc = ctypes.CDLL(None, use_errno=True); "
            "libc.prctl(15, sys.argv[1].encode()); b = ctypes.create_string_buffer(256)\n"
            "for _ in range(400): libc.syscall(%d, b)\n"
            "for _ in range(100): libc.syscall(%d, ctypes.c_void_p(8))" % (SYS_SYSINFO,
                                                                             SYS_SYSINFO))
    try:
        subprocess.run([sys.executable, "-c", code, comm], check=True)
        text = http_get(f"http://127.0.0.1:{port}/metrics")
    finally:
        assert t.stop(signal.SIGTERM) == 0
    assert sample(text, "corebpf_comm_syscalls_total", comm=comm) >= 500
    assert sample(text, "corebpf_comm_syscall_errors_total", comm=comm) >= 100
    assert sample(text, "corebpf_comm_syscalls_total", comm="other") >= 0
