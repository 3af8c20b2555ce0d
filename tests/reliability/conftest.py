"""Fixtures of the reliability suite; the soak test is collected only when
asked for (`-m soak`, or COREBPF_SOAK=1): it runs for COREBPF_SOAK_SECONDS
(default 600)."""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.conftest import ROOT


def pytest_configure(config):
    config.addinivalue_line("markers", "soak: long-running soak test (run with -m soak)")


def pytest_collection_modifyitems(config, items):
    if "soak" in (config.option.markexpr or "") or os.environ.get("COREBPF_SOAK"):
        return
    keep, drop = [], []
    for it in items:
        (drop if it.get_closest_marker("soak") else keep).append(it)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(scope="session")
def gen(tmp_path_factory):
    """bench/gen.c built with cc -O2: the C load generator of the benches."""
    d = tmp_path_factory.mktemp("gen")
    cc = os.environ.get("CC") or shutil.which("gcc") or shutil.which("cc") or "clang"
    out = d / "gen"
    subprocess.run([cc, "-O2", "-o", str(out), str(ROOT / "bench" / "gen.c")], check=True,
                   capture_output=True)
    return out
