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
    for d in ("bin", "etc", "tmp", "proc", "sys", "dev", "data"):
        (root / d).mkdir()
    shutil.copy(BUSYBOX, root / "bin" / "busybox")
    for applet in ("sh", "cat", "true", "echo", "dd", "sleep"):
        os.symlink("busybox", root / "bin" / applet)
    return root


def host_cgroup() -> str:
    """This test's cgroup as --containers names it (cgroupid.bpf.h's choice:
    v2 unless at the v2 root, else the pids/memory v1 cgroup); "" at the root."""
    lines = dict(l.split(":", 2)[1:] for l in open("/proc/self/cgroup").read().splitlines())
    path = lines.get("", "/")
    if path == "/":
        path = lines.get("pids", lines.get("memory", "/"))
    return "" if path == "/" else path


def run_container(rootfs, script):
    """Run `script` in a new container; return its full id."""
    cidfile = rootfs.parent / ("cid-" + uuid.uuid4().hex[:8])
    p = subprocess.run(PODMAN + ["--cidfile", str(cidfile), "--rootfs", str(rootfs),
                                 "/bin/sh", "-c", script],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    cid = cidfile.read_text().strip()
    cidfile.unlink()
    assert len(cid) == 64, cid
    return cid


def test_execsnoop_containers_text_and_json(rootfs):
    m = "corebpf-ctr-" + uuid.uuid4().hex[:8]
    t = Tool("execsnoop", "--containers")
    assert t.lines[0].split()[:3] == ["CONTAINER", "COMM", "PID"]
    cid = run_container(rootfs, f"/bin/echo {m} in; /bin/true")
    subprocess.run(["/bin/echo", m, "host"], stdout=subprocess.DEVNULL, check=True)
    inside = t.wait_for(lambda l: m in l and "in" in l.split())
    host = t.wait_for(lambda l: m in l and "host" in l.split())
    assert t.stop() == 0
    assert inside is not None and host is not None, t.text
    assert inside.split()[:2] == [cid[:12], "echo"], inside
    # the host's exec: no container (its cgroup path where it is not the root)
    want = [host_cgroup()] if host_cgroup() else []
    assert host.split()[:len(want) + 1] == want + ["echo"], host
    assert cid[:12] not in host

    j = Tool("execsnoop", "--containers", "--json", ready="stderr")
    cid = run_container(rootfs, f"/bin/echo {m} json")
    subprocess.run(["/bin/echo", m, "hostjson"], stdout=subprocess.DEVNULL, check=True)
    inside = j.wait_for(lambda l: m in l and '"json"' in l)
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
    cid = run_container(rootfs, f"/bin/cat /data/{m}")
    subprocess.run(["cat", str(host_file)], stdout=subprocess.DEVNULL, check=True)
    inside = t.wait_for(lambda l: l.endswith("/data/" + m))
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


def test_exporter_labels_biolatency_by_container(rootfs, tmp_path):
    """container = true: direct writes made inside the container are counted
    under its full id (each request's cgroup: its bio's blkcg), scraped while
    the container runs (labels are resolved at scrape time, from cgroupfs)."""
    from tests.kernel.test_exporter import http_get, sample, start_exporter
    cfg = tmp_path / "exporter.toml"
    cfg.write_text('collectors = ["biolatency"]\n'
                   '[biolatency]\nper_disk = false\nper_op = true\ncontainer = true\n')
    name = "io-" + uuid.uuid4().hex[:8]
    done, go = rootfs / "data" / (name + ".done"), rootfs / "data" / (name + ".go")
    cidfile = tmp_path / "cid"
    t, port = start_exporter("--config", str(cfg))
    ctr = None
    try:
        ctr = subprocess.Popen(
            PODMAN + ["--cidfile", str(cidfile), "--rootfs", str(rootfs), "/bin/sh", "-c",
                      f"/bin/dd if=/dev/zero of=/data/{name} bs=4096 count=64 oflag=direct "
                      f"2>/dev/null; echo > /data/{done.name}; "
                      f"while [ ! -e /data/{go.name} ]; do /bin/sleep 0.1; done"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for _ in range(1200):
            if done.exists() or ctr.poll() is not None:
                break
            time.sleep(0.1)
        assert done.exists(), ctr.stderr.read() if ctr.poll() is not None else "no dd"
        text = http_get(f"http://127.0.0.1:{port}/metrics")
    finally:
        go.write_text("")
        if ctr is not None:
            ctr.wait(120)
        assert t.stop(signal.SIGTERM) == 0, t.stderr
    cid = cidfile.read_text().strip()
    n = sample(text, "corebpf_block_io_latency_seconds_count", disk="", op="write",
               container=cid)
    assert n is not None and n >= 1, text
    # no label without the option (the default)
    t, port = start_exporter("--collectors", "biolatency")
    try:
        assert 'container="' not in http_get(f"http://127.0.0.1:{port}/metrics")
    finally:
        assert t.stop(signal.SIGTERM) == 0, t.stderr
