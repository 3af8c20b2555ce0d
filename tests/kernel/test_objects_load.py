"""Every program of every packaged object passes the verifier on this kernel,
whichever variant the tools would choose here: kprobe variants must load even
where kprobes cannot attach, and so must each compiler's code (CI builds the
package with Debian 12's clang 14 in the fresh root, the host may have a newer
one).  fentry programs are included where the kernel loads fentry at all."""
from __future__ import annotations

import os

import pytest

import corebpf
from corebpf import features
from corebpf.core.paths import OBJ_DIR

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]

OBJECTS = sorted(f[:-len(".bpf.o")] for f in os.listdir(OBJ_DIR) if f.endswith(".bpf.o"))


def test_objects_are_packaged():
    assert {"execsnoop", "opensnoop", "biolatency", "features"} <= set(OBJECTS)


@pytest.mark.parametrize("name", [n for n in OBJECTS if n != "features"])
def test_every_program_loads(name):
    with corebpf.Object.open(name) as obj:
        progs = [p for p in obj.programs.values() if p.kind != "fentry" or features.fentry()]
        for p in obj.programs.values():
            p.autoload = p in progs
        obj.load(select=False)
        assert all(p.fd >= 0 for p in progs)
