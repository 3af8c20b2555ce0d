"""cachestat on the real kernel: a file pushed out of the page cache and read
twice gives misses, then hits; a file written and read back gives hits;
interval/count; Ctrl-C; the kprobe variant."""
from __future__ import annotations

import os
import re
import signal
import uuid

import pytest

import corebpf
from tests.helpers import Tool, json_objects, run_tool

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]

MB = 1 << 20
ROW = re.compile(r"^(?:\d\d:\d\d:\d\d )?\s*(\d+)\s+(\d+)\s+(\d+)\s+([\d.]+)%\s+(\d+)\s+(\d+)$")


@pytest.fixture
def cold_file():
    path = os.path.join("/var/tmp", "corebpf_cs_" + uuid.uuid4().hex[:8])
    with open(path, "wb") as f:
        for _ in range(32):
            f.write(os.urandom(MB))
        f.flush()
        os.fsync(f.fileno())
    fd = os.open(path, os.O_RDONLY)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)   # out of the page cache
    os.close(fd)
    yield path
    os.unlink(path)


def read_all(path):
    with open(path, "rb", buffering=0) as f:
        while f.read(128 * 1024):
            pass


def rows(lines):
    return [tuple(int(x) if i != 3 else float(x) for i, x in enumerate(m.groups()))
            for m in map(ROW.match, lines) if m]


def test_misses_then_hits(cold_file):
    t = Tool("cachestat", "-T", "1")
    assert t.lines[0].split() == ["TIME", "HITS", "MISSES", "DIRTIES", "HITRATIO",
                                  "BUFFERS_MB", "CACHED_MB"]
    read_all(cold_file)                 # 8192 pages from disk
    read_all(cold_file)                 # the same pages from the cache
    read_all(cold_file)
    assert t.stop(signal.SIGINT) == 0
    assert t.lines[-1] == "Detaching..."
    r = rows(t.lines)
    assert sum(m for _, m, *_ in r) >= 8000, t.text
    assert sum(h for h, *_ in r) >= 16000, t.text
    assert all(0 <= row[3] <= 100 for row in r)


def test_written_then_read_back_is_hits():
    """A file written and read back by the same task: its pages are in the
    cache, the read is hits (the write's added pages are not its misses)."""
    path = os.path.join("/var/tmp", "corebpf_cs_w_" + uuid.uuid4().hex[:8])
    t = Tool("cachestat", "1")
    try:
        with open(path, "wb", buffering=0) as f:
            for _ in range(64):
                f.write(b"w" * MB)        # 16384 new pages, dirtied, not flushed
        read_all(path)                    # the same 16384 pages, from the cache
    finally:
        os.unlink(path)
    assert t.stop(signal.SIGINT) == 0
    r = rows(t.lines)
    assert sum(h for h, *_ in r) >= 16000, t.text


def test_interval_and_count_end_without_detaching():
    t = Tool("cachestat", "1", "2")
    assert t.wait(timeout=20) == 0
    assert len(rows(t.lines)) == 2 and "Detaching..." not in t.lines, t.text


def test_kprobe_variant_passes_the_verifier():
    with corebpf.Object.open("cachestat") as probe:
        names = [n for n, p in probe.programs.items() if p.variant == "kprobe"]
    with corebpf.Object.open("cachestat", only=names) as obj:
        obj.load(select=False)
        assert all(obj.programs[n].fd >= 0 for n in names)


@pytest.mark.parametrize("args,msg", [
    (["0"], "must be positive"),
    (["1", "0"], "must be positive"),
    (["-x"], "unrecognized arguments"),
])
def test_bad_input_one_line(args, msg):
    rc, out, err = run_tool("cachestat", *args)
    assert rc != 0 and msg in err and len(err.strip().splitlines()) == 1, err


def test_json(cold_file):
    t = Tool("cachestat", "--json", "1", ready="stderr")
    read_all(cold_file)                 # 8192 pages from disk
    read_all(cold_file)                 # the same pages from the cache
    read_all(cold_file)
    assert t.stop(signal.SIGINT) == 0
    assert t.stderr.splitlines()[-1] == "Detaching..."
    objs = json_objects(t, "cachestat")
    assert sum(d["misses"] for d in objs) >= 8000, t.text
    assert sum(d["hits"] for d in objs) >= 16000, t.text
    assert all(0 <= d["hit_ratio"] <= 1 and d["cached_bytes"] > 0 for d in objs)
