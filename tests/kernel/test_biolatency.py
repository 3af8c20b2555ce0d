"""biolatency on the real kernel: it counts direct I/O this test performs."""
from __future__ import annotations

import os
import re
import subprocess

import pytest

from tests.helpers import Tool, run_tool

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]


def direct_io(path, mb=8):
    subprocess.run(["dd", "if=/dev/zero", f"of={path}", "bs=1M", f"count={mb}",
                    "oflag=direct", "status=none"], check=True)


@pytest.fixture
def scratch():
    # on the root file system (a real block device), not a tmpfs
    d = "/var/tmp"
    path = os.path.join(d, f"corebpf_bio_{os.getpid()}")
    yield path
    if os.path.exists(path):
        os.unlink(path)


def counts(lines):
    return sum(int(m.group(1)) for l in lines
               for m in [re.match(r"\s*\d+ -> \d+\s+: (\d+)\s+\|", l)] if m)


def test_histogram_counts_direct_io(scratch):
    t = Tool("biolatency")
    assert t.lines[0] == "Tracing block device I/O... Hit Ctrl-C to end."
    direct_io(scratch)
    assert t.stop() == 0
    assert any(re.match(r"\s+usecs\s+: count\s+distribution", l) for l in t.lines), t.text
    assert counts(t.lines) >= 8


def test_per_disk_interval_count_and_extension(scratch):
    t = Tool("biolatency", "-D", "-e", "-T", "1", "2")
    direct_io(scratch)
    assert t.wait(timeout=20) == 0          # ends by itself after 2 intervals
    disks = [l for l in t.lines if l.startswith("disk = ")]
    assert disks and all(d != "disk = ?" for d in disks), t.text
    assert any(re.match(r"avg = \d+ usecs, total: \d+ usecs, count: \d+", l) for l in t.lines)
    assert sum(bool(re.fullmatch(r"\d\d:\d\d:\d\d", l.strip())) for l in t.lines) == 2


def test_flags_and_milliseconds(scratch):
    t = Tool("biolatency", "-F", "-m")
    direct_io(scratch)
    t.stop()
    assert any(re.match(r"flags = (\w+-)*Write$", l) for l in t.lines), t.text
    assert any("msecs" in l for l in t.lines)


def test_json(scratch):
    # -j prints no header, so keep the disk busy until the one interval ends
    t = Tool("biolatency", "-j", "1", "1", ready=False)
    while t.proc.poll() is None:
        direct_io(scratch, 2)
    assert t.wait(timeout=20) == 0
    import json
    d = [json.loads(l) for l in t.lines]             # JSON Lines (not bcc's dict text)
    assert len(d) == 1 and d[0]["unit"] == "usecs" and d[0]["histograms"][0]["buckets"]


def test_classic_tracepoint_variant(scratch):
    t = Tool("biolatency", "--probe", "tracepoint", "--verbose")
    direct_io(scratch)
    t.stop()
    assert "using tp (tracepoint) probes" in t.stderr
    assert counts(t.lines) >= 8


@pytest.mark.parametrize("args,msg", [
    (["-D", "-F"], "can only use -D or -F"),
    (["-d", "nosuchdisk"], "no such disk 'nosuchdisk'"),
    (["0"], "must be positive"),
    (["-1"], "must be positive"),
    (["99999999999"], "too large"),
    (["--bogus"], "unrecognized arguments"),
])
def test_bad_input_one_line(args, msg):
    rc, out, err = run_tool("biolatency", *args)
    assert rc != 0 and msg in err and len(err.strip().splitlines()) == 1, err
