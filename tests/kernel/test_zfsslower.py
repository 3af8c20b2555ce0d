"""zfsslower and zfsdist: ZFS is out of tree (no Debian kernel has it), so
on a kernel without it the tools say so in one line; their formats are bcc's
(tests/unit/test_fs_formats.py) and their probes the generic ones that
xfsslower's and btrfsslower's tests run."""
from __future__ import annotations

import pytest

from corebpf import features
from tests.helpers import run_tool

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]

NO_ZFS = ("error: this kernel has no zfs file system (zfs not in /proc/filesystems: "
          "load its module or mount one first)\n")


@pytest.mark.skipif(features.filesystem("zfs"), reason="the kernel has ZFS: cannot show the refusal")
@pytest.mark.parametrize("tool,args", [("zfsslower", ["1"]), ("zfsdist", ["1", "1"]),
                                       ("fsslower", ["-t", "zfs"]), ("fsdist", ["-t", "zfs"]),
                                       ("zfsslower", ["--json"]), ("zfsdist", ["--json"])])
def test_without_zfs_one_line(tool, args):
    rc, out, err = run_tool(tool, *args)
    assert (rc, out, err) == (1, "", f"{tool}: {NO_ZFS}")


def test_bad_input_comes_first():
    rc, out, err = run_tool("zfsslower", "-p", "0")
    assert rc == 2 and "no such process" in err and len(err.splitlines()) == 1
