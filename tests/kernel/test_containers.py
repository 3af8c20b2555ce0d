"""--containers on the real kernel with a real runtime: podman (Debian's
podman + runc, README test command) runs a busybox root file system from a
temp dir (no registry); execsnoop/opensnoop show that container's id for its
processes and nothing for the host's."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import uuid

import pytest

from tests.helpers import Tool

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]

BUSYBOX = shutil.which("busybox")
# crun refuses hybrid cgroup hierarchies; runc serves both.  The ulimits: a
# hard RLIMIT_NOFILE below podman's default must not fail the run.
PODMAN = ["podman", "run", "--rm", "--runtime", "runc", "--cgroup-manager", "cgroupfs",
          "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024", "--network", "none"]


def _missing():
    for prog in ("podman", "runc"):
        if not shutil.which(prog):
            return f"{prog} is not installed (README test command: apt-get install podman runc)"
    if not BUSYBOX:
        return "busybox is not installed (busybox-static)"
    return None


@pytest.fixture(scope="module")
def rootfs(tmp_path_factory):
    why = _missing()
    if why:
        pytest.skip(why)
    root = tmp_path_factory.mktemp("ctr-root")
    for d in ("bin", "etc", "tmp", "proc", "sys", "dev", "data", "usr"):
        (root / d).mkdir()
    # the host's /usr, read-only, where a container needs more than busybox
    # (Container(..., host_usr=True): python3); /lib and /lib64 as on the host
    for d in ("lib", "lib64"):
        os.symlink("usr/" + d, root / d)
    shutil.copy(BUSYBOX, root / "bin" / "busybox")
    for applet in ("sh", "cat", "true", "echo", "dd", "sleep", "stat", "nc"):
        os.symlink("busybox", root / "bin" / applet)
    return root


def host_cgroup(pid="self") -> str:
    """This test's (or process pid's) cgroup as --containers names it
    (cgroupid.bpf.h's choice: v2 unless at the v2 root, else the pids/memory
    v1 cgroup); "" at the root."""
    lines = dict(l.split(":", 2)[1:] for l in open(f"/proc/{pid}/cgroup").read().splitlines())
    path = lines.get("", "/")
    if path == "/":
        path = lines.get("pids", lines.get("memory", "/"))
    return "" if path == "/" else path


class Container:
    """`script` running in a new container, which then waits until close():
    the tool names a container from its cgroupfs directory, which podman
    --rm removes when the container exits, and a loaded machine may hand
    the tool the events after that (a documented limit: see the README)."""

    def __init__(self, rootfs, script, host_usr=False):
        tag = uuid.uuid4().hex[:8]
        self.cidfile = rootfs.parent / ("cid-" + tag)
        self.go = rootfs / "tmp" / ("go-" + tag)
        self.proc = subprocess.Popen(
            PODMAN + (["-v", "/usr:/usr:ro"] if host_usr else []) +
            ["--cidfile", str(self.cidfile), "--rootfs", str(rootfs), "/bin/sh", "-c",
                      f"{script}; while [ ! -e /tmp/{self.go.name} ]; do /bin/sleep 0.1; done"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        cid = ""
        for _ in range(1200):
            if self.cidfile.exists():
                cid = self.cidfile.read_text().strip()
            if len(cid) == 64 or self.proc.poll() is not None:
                break
            time.sleep(0.1)
        if len(cid) != 64:
            self.close()
            raise AssertionError(f"podman: no container id ({self.proc.stderr.read()})")
        self.id = cid

    def close(self):
        self.go.write_text("")
        try:
            rc = self.proc.wait(120)
        finally:
            self.cidfile.unlink(missing_ok=True)
        assert rc == 0, self.proc.stderr.read()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def test_execsnoop_containers_text_and_json(rootfs):
    m = "corebpf-ctr-" + uuid.uuid4().hex[:8]
    t = Tool("execsnoop", "--containers")
    assert t.lines[0].split()[:3] == ["CONTAINER", "COMM", "PID"]
    with Container(rootfs, f"/bin/echo {m} in") as c:
        inside = t.wait_for(lambda l: m in l and "in" in l.split())
    cid = c.id
    subprocess.run(["/bin/echo", m, "host"], stdout=subprocess.DEVNULL, check=True)
    host = t.wait_for(lambda l: m in l and "host" in l.split())
    assert t.stop() == 0
    assert inside is not None and host is not None, t.text
    assert inside.split()[:2] == [cid[:12], "echo"], inside
    # the host's exec: no container (its cgroup path where it is not the root)
    want = [host_cgroup()] if host_cgroup() else []
    assert host.split()[:len(want) + 1] == want + ["echo"], host
    assert cid[:12] not in host

    j = Tool("execsnoop", "--containers", "--json", ready="stderr")
    with Container(rootfs, f"/bin/echo {m} json") as c:
        inside = j.wait_for(lambda l: m in l and '"json"' in l)
    cid = c.id
    subprocess.run(["/bin/echo", m, "hostjson"], stdout=subprocess.DEVNULL, check=True)
    host = j.wait_for(lambda l: m in l and '"hostjson"' in l)
    assert j.stop() == 0
    assert inside is not None and host is not None, j.text
    assert json.loads(inside)["container"] == cid
    assert json.loads(host)["container"] == host_cgroup()


def test_opensnoop_containers(rootfs):
    m = "corebpf-ctr-" + uuid.uuid4().hex[:8]
    (rootfs / "data" / m).write_text("x")
    host_file = rootfs / "data" / (m + "-host")
    host_file.write_text("y")
    t = Tool("opensnoop", "--containers", "-n", "cat")
    assert t.lines[0].split()[:3] == ["CONTAINER", "PID", "COMM"]
    with Container(rootfs, f"/bin/cat /data/{m}") as c:
        inside = t.wait_for(lambda l: l.endswith("/data/" + m))
    cid = c.id
    subprocess.run(["cat", str(host_file)], stdout=subprocess.DEVNULL, check=True)
    host = t.wait_for(lambda l: l.endswith(str(host_file)))
    assert t.stop() == 0
    assert inside is not None and host is not None, t.text
    assert inside.split()[0] == cid[:12], inside
    # the host's open: no container (its cgroup path where it is not the root)
    want = [host_cgroup()] if host_cgroup() else []
    assert host.split()[:len(want)] == want and host.split()[len(want)].isdigit(), host
    assert cid[:12] not in host
    # without --containers: no column
    plain = Tool("opensnoop")
    assert plain.stop() == 0
    assert "CONTAINER" not in plain.lines[0]


def test_statsnoop_containers(rootfs):
    """The same mechanism (tools/_containers) on a third tool."""
    m = "corebpf-ctr-" + uuid.uuid4().hex[:8]
    t = Tool("statsnoop", "--containers")
    assert t.lines[0].split()[:2] == ["CONTAINER", "PID"]
    with Container(rootfs, f"/bin/stat /{m}-in") as c:
        inside = t.wait_for(lambda l: l.endswith(f"/{m}-in"))
    cid = c.id
    os.path.exists(f"/{m}-host")          # a failed stat on the host
    host = t.wait_for(lambda l: l.endswith(f"/{m}-host"))
    assert t.stop() == 0
    assert inside is not None and host is not None, t.text
    assert inside.split()[0] == cid[:12], inside
    want = [host_cgroup()] if host_cgroup() else []
    assert host.split()[:len(want)] == want and host.split()[len(want)].isdigit(), host


def test_exporter_labels_biolatency_by_container(rootfs, tmp_path):
    """container = true: direct writes made inside the container are counted
    under its full id (each request's cgroup: its bio's blkcg), scraped while
    the container runs (labels are resolved at scrape time, from cgroupfs)."""
    from tests.kernel.test_exporter import http_get, sample, start_exporter
    cfg = tmp_path / "exporter.toml"
    cfg.write_text('collectors = ["biolatency"]\n'
                   '[biolatency]\nper_disk = false\nper_op = true\ncontainer = true\n')
    name = "io-" + uuid.uuid4().hex[:8]
    t, port = start_exporter("--config", str(cfg))
    try:
        with Container(rootfs, f"/bin/dd if=/dev/zero of=/data/{name} bs=4096 count=64 "
                               f"oflag=direct 2>/dev/null; echo > /tmp/{name}") as c:
            for _ in range(1200):
                if (rootfs / "tmp" / name).exists():
                    break
                time.sleep(0.1)
            text = http_get(f"http://127.0.0.1:{port}/metrics")
    finally:
        assert t.stop(signal.SIGTERM) == 0, t.stderr
    cid = c.id
    n = sample(text, "corebpf_block_io_latency_seconds_count", disk="", op="write",
               container=cid)
    assert n is not None and n >= 1, text
    # no label without the option (the default)
    t, port = start_exporter("--collectors", "biolatency")
    try:
        assert 'container="' not in http_get(f"http://127.0.0.1:{port}/metrics")
    finally:
        assert t.stop(signal.SIGTERM) == 0, t.stderr


# -- one event tool per family, the histogram tools, the exporter's cap ----------
# (the same mechanism: cgroupid.bpf.h's id in the record or map key, then
# tools/_containers; the host's events carry no container id)

def _first(line: str) -> str:
    return line.split()[0]


def test_exitsnoop_containers(rootfs):
    """process family: the exiting task's container (a CONTAINER column
    after the time columns, as execsnoop's)."""
    m = "x" + uuid.uuid4().hex[:6]       # an exit status the test picks
    code = int(m[1:], 16) % 200 + 20
    t = Tool("exitsnoop", "--containers")
    assert t.lines[0].split()[:2] == ["CONTAINER", "PCOMM"]
    with Container(rootfs, f"/bin/sh -c 'exit {code}'") as c:
        inside = t.wait_for(lambda l: l.endswith(f"code {code}"))
    cid = c.id
    subprocess.run(["/bin/sh", "-c", f"exit {code + 1}"])
    host = t.wait_for(lambda l: l.endswith(f"code {code + 1}"))
    assert t.stop() == 0
    assert inside is not None and host is not None, t.text
    assert inside.split()[:2] == [cid[:12], "sh"], inside
    assert cid[:12] not in host


def test_killsnoop_containers_json(rootfs):
    """signal family, --json: the sender's container, the host's cgroup."""
    sig = 0                               # kill -0: a probe, nothing delivered
    j = Tool("killsnoop", "--containers", "--json", ready="stderr")
    tag = str(os.getpid() + 7000000)      # a target PID no one has: ESRCH, from both sides
    with Container(rootfs, f"kill -{sig} {tag} 2>/dev/null") as c:
        inside = j.wait_for(lambda l: f'"tpid":{tag}' in l)
    cid = c.id
    with pytest.raises(ProcessLookupError):
        os.kill(int(tag), sig)
    host = j.wait_for(lambda l: f'"tpid":{tag}' in l and f'"pid":{os.getpid()},' in l)
    assert j.stop() == 0
    assert inside is not None and host is not None, j.text
    assert json.loads(inside)["container"] == cid
    assert json.loads(host)["container"] == host_cgroup()


def test_tcpconnect_tcpstates_containers(rootfs):
    """network family: a connect() inside the container's network namespace
    (its loopback, refused: the SYN still goes out).  tcpconnect names the
    connecting task's container, tcpstates (softirq: no task) the socket's
    (cgroupid.bpf.h's sk_cgroup_id)."""
    t = Tool("tcpconnect", "--containers", "-P", "9")
    cols = t.wait_for(lambda l: l.startswith("CONTAINER"))
    assert cols is not None and cols.split()[:2] == ["CONTAINER", "PID"], t.text
    s = Tool("tcpstates", "--containers", "-D", "9", "--json", ready="stderr")
    with Container(rootfs, "/bin/nc -w 1 127.0.0.1 9 </dev/null 2>/dev/null; true") as c:
        inside = t.wait_for(lambda l: l.split()[-1:] == ["9"] and "nc" in l.split())
        closed = s.wait_for(lambda l: '"newstate":"CLOSE"' in l)
    cid = c.id
    assert t.stop() == 0 and s.stop() == 0
    assert inside is not None, t.text
    assert _first(inside) == cid[:12], inside
    assert closed is not None, s.text
    assert json.loads(closed)["container"] == cid


def test_ext4slower_containers(rootfs):
    """file system family (the *slower tools share tools/_fs): writes made
    in the container, on this ext4 file system, under its id."""
    m = "corebpf-ctr-" + uuid.uuid4().hex[:8]
    t = Tool("ext4slower", "--containers", "0")
    cols = t.wait_for(lambda l: l.startswith("TIME"))
    assert cols is not None and cols.split()[:2] == ["TIME", "CONTAINER"], t.text
    with Container(rootfs, f"/bin/dd if=/dev/zero of=/data/{m} bs=4096 count=2 2>/dev/null"
                   ) as c:
        inside = t.wait_for(lambda l: l.endswith(" " + m) and " W " in l)
    cid = c.id
    assert t.stop() == 0
    assert inside is not None, t.text
    assert inside.split()[1] == cid[:12], inside


def test_block_tools_containers(rootfs):
    """block family: biosnoop names the submitting task's container, bitesize
    (printed at Ctrl-C, while the container runs) the request's cgroup."""
    m = "io-" + uuid.uuid4().hex[:8]
    t = Tool("biosnoop", "--containers")
    cols = t.wait_for(lambda l: l.startswith("CONTAINER"))
    assert cols is not None, t.text
    b = Tool("bitesize", "--containers")
    with Container(rootfs, f"/bin/dd if=/dev/zero of=/data/{m} bs=4096 count=16 "
                           f"oflag=direct 2>/dev/null") as c:
        inside = t.wait_for(lambda l: l.split()[:1] == [c.id[:12]], timeout=30)
        assert b.stop() == 0
    assert t.stop() == 0
    assert inside is not None and inside.split()[2] == "dd", t.text
    assert f"container = {c.id[:12]}" in b.lines, b.text


@pytest.mark.parametrize("tool", ["runqlat", "cpudist"])
def test_histograms_per_container(rootfs, tool):
    """One histogram per container: the container's tasks (its shell and the
    sleeps it starts) wake up and run, under `container = SHORT-ID`."""
    t = Tool(tool, "--containers", "1")
    with Container(rootfs, "true") as c:
        head = t.wait_for(lambda l: l == f"container = {c.id[:12]}", timeout=30)
    assert t.stop() == 0
    assert head is not None, t.text
    j = Tool(tool, "--containers", "--json", "1", ready="stderr")
    with Container(rootfs, "true") as c:
        line = j.wait_for(lambda l: c.id in l, timeout=30)
    assert j.stop() == 0
    assert line is not None, j.text
    names = [h["container"] for h in json.loads(line)["histograms"]]
    assert c.id in names and len(names) == len(set(names)), names


def test_exporter_container_label_and_cap(rootfs, tmp_path):
    """A real Prometheus scrapes the exporter.  cpudist: container = true
    labels its series by container; runqlat with container_top = 1 keeps one
    container label and sums the rest under "other" (the host's cgroups and
    the container: at least two with run queue waits)."""
    from tests.kernel.test_exporter import Prometheus, start_exporter
    cfg = tmp_path / "exporter.toml"
    cfg.write_text('collectors = ["runqlat", "cpudist"]\n'
                   '[runqlat]\ncontainer = true\ncontainer_top = 1\n'
                   '[cpudist]\ncontainer = true\n')
    t, port = start_exporter("--config", str(cfg))
    prom = None
    try:
        prom = Prometheus(f"127.0.0.1:{port}")
        with Container(rootfs, "true") as c:
            on_cpu = prom.wait_value(
                f'sum(corebpf_task_oncpu_seconds_count{{container="{c.id}"}})', lambda v: v > 0)
            q = "corebpf_runqueue_latency_seconds_count"
            prom.wait_value(f'sum({q}{{container="other"}})', lambda v: v > 0)
            labels = {m.get("container", "") for m, _ in prom.query(q)}     # "": no label
    finally:
        if prom is not None:
            prom.close()
        assert t.stop(signal.SIGTERM) == 0, t.stderr
    assert on_cpu > 0
    assert "other" in labels and len(labels) == 2, labels


# -- the USDT tools and the multitools (programs generated by corebpf.compiler) -------

def _pid_of(marker: str, timeout: float = 30) -> int:
    """The host PID of the process whose command line holds `marker`."""
    deadline = time.monotonic() + timeout
    me = str(os.getpid())
    while time.monotonic() < deadline:
        for d in os.listdir("/proc"):
            if not d.isdigit() or d == me:
                continue
            try:
                with open(f"/proc/{d}/cmdline", "rb") as f:
                    cmd = f.read()
            except OSError:
                continue
            if marker.encode() in cmd and cmd.startswith(b"/usr/bin/python3"):
                return int(d)
        time.sleep(0.1)
    raise AssertionError(f"no process with {marker} in its command line")


def _usdt_view(pid: int) -> str:
    """What the USDT lookup sees of process `pid` (for a failure's message)."""
    from corebpf.symbols import elf
    from corebpf.user import usdt
    out = []
    try:
        out.append(f"exe -> {os.readlink(f'/proc/{pid}/exe')}")
        with open(f"/proc/{pid}/maps") as f:
            out += [ln.rstrip() for ln in f if "python" in ln or "libc" in ln][:6]
        for p, ino, rng in elf._maps_paths(pid):
            for cand in (p, f"/proc/{pid}/root" + p, f"/proc/{pid}/map_files/{rng}"):
                try:
                    st = os.stat(cand)
                    out.append(f"{cand}: ino {st.st_ino} (maps {ino}) dev {st.st_dev:x} "
                               f"mapped={elf._is_mapped_file(cand, ino)}")
                except OSError as e:
                    out.append(f"{cand}: {e}")
        bins = elf.process_binaries(pid)
        out.append(f"process_binaries: {bins}")
        for b in bins:
            try:
                out.append(f"{b}: {len(usdt.probes(b))} probes")
            except Exception as e:      # noqa: BLE001 (a diagnostic)
                out.append(f"{b}: {type(e).__name__}: {e}")
    except Exception as e:              # noqa: BLE001
        out.append(f"{type(e).__name__}: {e}")
    return "\n".join(out)


def test_ugc_uthreads_containers(rootfs):
    """USDT family: ugc on a python3 inside the container (the host's /usr,
    read-only) shows the container's id; on a host python3, no id.  uthreads
    (a uprobe and task_newtask) on the container's python3: its id."""
    m = "ctr" + uuid.uuid4().hex[:8]
    code = (f"import gc, threading, time\nwhile 1:\n gc.collect(); time.sleep(0.05)\n"
            f" threading.Thread(target=time.sleep, args=(0.01,)).start()  # {m}")
    host = subprocess.Popen(["/usr/bin/python3", "-c", code + "-host"])
    try:
        with Container(rootfs, f"/usr/bin/python3 -c '{code}' & true", host_usr=True) as c:
            pid = _pid_of(f"# {m}\x00")
            try:
                t = Tool("ugc", "--containers", "-l", "python", pid)
            except AssertionError as e:
                raise AssertionError(f"{e}\n{_usdt_view(pid)}") from None
            h = Tool("ugc", "--containers", "-l", "python", host.pid)
            u = Tool("uthreads", "--containers", "-l", "none", pid)
            inside = t.wait_for(lambda l: l.endswith(" objects"))
            outside = h.wait_for(lambda l: l.endswith(" objects"))
            thread = u.wait_for(lambda l: " pthread " in l)
            assert t.stop() == 0 and h.stop() == 0 and u.stop() == 0
    finally:
        host.kill()
        host.wait()
    assert t.lines[1].split()[:2] == ["CONTAINER", "START"], t.text
    assert inside is not None and inside.split()[0] == c.id[:12], t.text
    assert outside is not None, h.text
    want = [host_cgroup()] if host_cgroup() else []
    assert outside.split()[:len(want)] == want and c.id[:12] not in outside, outside
    float(outside.split()[len(want)])         # START: no container column before it
    assert u.lines[1].split()[:2] == ["CONTAINER", "TIME"], u.text
    assert thread is not None and thread.split()[0] == c.id[:12], u.text


def test_trace_containers_text_and_json(rootfs):
    """A multitool: trace's generated program reads the task's cgroup
    (CodeGen.task_cgroup_id, cgroupid.bpf.h's semantics): a CONTAINER column
    with the container's id for its open, nothing for the host's."""
    m = "corebpf-ctr-" + uuid.uuid4().hex[:8]
    (rootfs / "data" / m).write_text("x")
    host_file = rootfs / "data" / (m + "-host")
    host_file.write_text("y")
    probe = 't:syscalls:sys_enter_openat "%s", args->filename'
    t = Tool("trace", "--containers", "-n", "cat", probe)
    j = Tool("trace", "--containers", "--json", "-n", "cat", probe, ready="stderr")
    assert t.lines[0].split()[:3] == ["CONTAINER", "PID", "TID"], t.text
    with Container(rootfs, f"/bin/cat /data/{m}") as c:
        inside = t.wait_for(lambda l: l.endswith("/data/" + m))
        inside_j = j.wait_for(lambda l: f'"/data/{m}"' in l)
    subprocess.run(["cat", str(host_file)], stdout=subprocess.DEVNULL, check=True)
    host = t.wait_for(lambda l: l.endswith(str(host_file)))
    host_j = j.wait_for(lambda l: str(host_file) in l)
    assert t.stop() == 0 and j.stop() == 0
    assert inside is not None and host is not None, t.text
    assert inside.split()[0] == c.id[:12], inside
    want = [host_cgroup()] if host_cgroup() else []
    assert host.split()[:len(want)] == want and host.split()[len(want)].isdigit(), host
    assert inside_j is not None and host_j is not None, j.text
    assert json.loads(inside_j)["container"] == c.id
    assert json.loads(host_j)["container"] == host_cgroup()


def test_funcinterval_per_container(rootfs):
    """A histogram multitool: funcinterval keys its generated maps by the
    task's cgroup; the container's sleeps (busybox's wait loop) get a
    `container = ID` histogram of their own."""
    t = Tool("funcinterval", "--containers", "-m", "-i", "1",
             "t:syscalls:sys_enter_clock_nanosleep")
    with Container(rootfs, "true") as c:
        head = t.wait_for(lambda l: l == f"container = {c.id[:12]}", timeout=30)
    assert t.stop() == 0
    assert head is not None, t.text


def test_funcslower_funclatency_containers(rootfs):
    """The uprobe multitools: a python3 in the container sleeping through
    the host's libc (the same file, /usr read-only): funcslower's CONTAINER
    column and funclatency's `container = ID` histogram name the container."""
    m = "ctr" + uuid.uuid4().hex[:8]
    code = f"import time\nwhile 1:\n time.sleep(0.02)  # {m}"
    s = Tool("funcslower", "--containers", "-m", "10", "c:clock_nanosleep")
    f = Tool("funclatency", "--containers", "-m", "-i", "1", "c:clock_nanosleep")
    with Container(rootfs, f"/usr/bin/python3 -c '{code}' & true", host_usr=True) as c:
        pid = _pid_of(f"# {m}\x00")
        slow = s.wait_for(lambda l: l.split()[1:3] == ["python3", str(pid)], timeout=30)
        head = f.wait_for(lambda l: l == f"container = {c.id[:12]}", timeout=30)
    assert s.stop() == 0 and f.stop() == 0
    assert s.lines[1].split()[:2] == ["CONTAINER", "COMM"], s.text
    assert slow is not None and slow.split()[0] == c.id[:12], s.text
    assert head is not None, f.text
