"""vfscount needs kprobes: here it must load its program and then say, in one
line, which kernel feature is missing; where kprobes exist it counts."""
from __future__ import annotations

import os

import pytest

import corebpf
from corebpf import features
from tests.helpers import run_tool

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]


def test_program_passes_the_verifier():
    with corebpf.Object.open("vfscount", only=["count__kprobe"]) as obj:
        obj.load(select=False)
        assert obj.programs["count__kprobe"].fd >= 0


def test_runs_or_names_the_missing_feature(tmp_path):
    rc, out, err = run_tool("vfscount", "1", timeout=60)
    if features.kprobes():
        assert rc == 0 and out.startswith("Tracing... Ctrl-C to end.")
        assert "vfs_read" in out or "vfs_write" in out
    else:
        assert rc == 1 and out == ""
        assert err.strip() == "vfscount: error: vfscount: this kernel lacks kprobes (CONFIG_KPROBES)"


@pytest.mark.parametrize("args,msg", [
    (["0"], "must be positive"),
    (["abc"], "invalid integer"),
    (["1", "2"], "unrecognized arguments"),
])
def test_bad_input_one_line(args, msg):
    rc, out, err = run_tool("vfscount", *args)
    assert rc == 2 and msg in err and len(err.strip().splitlines()) == 1, err
