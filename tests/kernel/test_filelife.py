"""filelife on the real kernel: files this test creates and deletes, on ext4
(exact, ext4 tracepoints) and on tmpfs (path matching)."""
from __future__ import annotations

import os
import subprocess
import time
import uuid

import pytest

from tests.helpers import Tool, json_match, json_objects, run_tool

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]

EXT4_DIR = "/var/tmp"          # the root file system: ext4 on this machine kind
TMPFS_DIR = "/dev/shm"


def fs_type(path):
    return subprocess.run(["stat", "-f", "-c", "%T", path], capture_output=True,
                          text=True).stdout.strip()


def marker():
    return "corebpf_life_" + uuid.uuid4().hex[:8]


def test_ext4_file_created_and_removed_by_rm():
    assert fs_type(EXT4_DIR) == "ext2/ext3", "the test needs /var/tmp on ext4"
    name = marker()
    path = os.path.join(EXT4_DIR, name)
    t = Tool("filelife")
    assert t.lines[0].split() == ["TIME", "PID", "COMM", "AGE(s)", "FILE"]
    subprocess.run(["touch", path], check=True)
    time.sleep(1.2)
    subprocess.run(["rm", path], check=True)
    line = t.wait_for(lambda l: l.endswith(" " + name))
    assert t.stop() == 0
    assert line is not None, t.text
    hhmmss, pid, comm, age, fname = line.split()
    assert comm == "rm" and fname == name and float(age) >= 1.2


def test_tmpfs_relative_unlink_matched_by_path(tmp_path):
    assert fs_type(TMPFS_DIR) == "tmpfs"
    name = marker()
    t = Tool("filelife")
    subprocess.run(["touch", os.path.join(TMPFS_DIR, name)], check=True)
    time.sleep(0.3)
    # removed through a relative path, from another working directory
    subprocess.run(["rm", f"../shm/{name}"], cwd="/dev/mqueue" if os.path.isdir("/dev/mqueue")
                   else "/dev/pts", check=True)
    line = t.wait_for(lambda l: l.endswith(" " + name))
    t.stop()
    assert line is not None, t.text
    assert line.split()[2] == "rm" and float(line.split()[3]) >= 0.3


# "": the default (raw_syscalls' sys_enter/sys_exit and ext4's tracepoints,
# tp_btf); raw_tp; the classic tracepoints (the fallback): each sees ext4's
# births and deaths, a tmpfs file matched by path, and mknod
@pytest.mark.parametrize("probe", ["", "raw_tp", "tracepoint"])
def test_pid_filter_and_mknod(probe):
    mine, other = marker(), marker()
    t = Tool("filelife", "-p", os.getpid(), env={"COREBPF_PROBE": probe})
    p = os.path.join(TMPFS_DIR, mine)
    os.mknod(p)                                   # a regular file, made by mknod
    os.unlink(p)
    q = os.path.join(EXT4_DIR, mine + "_e")
    open(q, "w").close()
    os.unlink(q)
    subprocess.run(["sh", "-c", f"touch {EXT4_DIR}/{other}; rm {EXT4_DIR}/{other}"], check=True)
    t.wait_for(lambda l: l.endswith(" " + mine + "_e"))
    t.stop()
    got = [l.split()[-1] for l in t.lines[1:]]
    assert mine in got and mine + "_e" in got and other not in got, t.text
    assert all(l.split()[1] == str(os.getpid()) for l in t.lines[1:] if mine in l)


def test_files_that_stay_or_are_not_regular_are_not_reported():
    keep, fifo = marker(), marker()
    t = Tool("filelife", "-p", os.getpid())
    open(os.path.join(EXT4_DIR, keep), "w").close()
    os.mkfifo(os.path.join(TMPFS_DIR, fifo))
    os.unlink(os.path.join(TMPFS_DIR, fifo))
    done = marker()
    open(os.path.join(EXT4_DIR, done), "w").close()
    os.unlink(os.path.join(EXT4_DIR, done))
    t.wait_for(lambda l: l.endswith(" " + done))
    t.stop()
    os.unlink(os.path.join(EXT4_DIR, keep))
    assert not any(keep in l or fifo in l for l in t.lines), t.text


def test_bad_input_one_line():
    rc, out, err = run_tool("filelife", "-p", "0")
    assert rc != 0 and "no such process" in err and len(err.strip().splitlines()) == 1


def test_kprobe_variant_passes_the_verifier():
    import corebpf
    with corebpf.Object.open("filelife") as probe:
        names = [n for n, p in probe.programs.items() if p.variant == "kprobe"]
    assert len(names) == 5
    with corebpf.Object.open("filelife", only=names) as obj:
        obj.load(select=False)
        assert all(obj.programs[n].fd >= 0 for n in names)


@pytest.mark.parametrize("where", [EXT4_DIR, TMPFS_DIR])
def test_json_hostile_name(where):
    """--json: the name comes back byte for byte (ext4: from the tracepoint;
    tmpfs: matched by path), non-UTF-8 bytes as \\udcNN."""
    raw = b"corebpf_\x1b[2J\n\xff\xfe_" + uuid.uuid4().hex[:6].encode()
    path = os.path.join(os.fsencode(where), raw)
    t = Tool("filelife", "--json", "-p", os.getpid(), ready="stderr")
    with open(path, "wb"):
        pass
    time.sleep(0.2)
    os.unlink(path)
    line = t.wait_for(json_match(lambda d: d["file"].encode("utf-8", "surrogateescape") == raw))
    assert t.stop() == 0
    assert line is not None, (t.text, t.stderr)
    d = next(o for o in json_objects(t, "filelife") if o["file"] == os.fsdecode(raw))
    assert d["pid"] == os.getpid() and d["age_ns"] >= 200_000_000
    assert "\\udcff\\udcfe" in line and line.isascii()
