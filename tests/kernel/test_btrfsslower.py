"""btrfsslower on the real kernel: a btrfs file system made for the test (loop
device); one process works on it, then on ext4: the tool reports the
first with bcc's columns, and nothing of the second (tests/fstools.py)."""
from __future__ import annotations

import pytest

from tests import fstools
from tests.helpers import run_tool

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]


class TestBtrfsslower(fstools.BccSlowerTests):
    PROG, FS, TITLE = "btrfsslower", "btrfs", "btrfs"
    PID_WIDTH = 7

    def test_duration_ends_the_trace(self, mnt):
        rc, out, err = run_tool(self.PROG, "-d", "1", "0", timeout=60)
        assert rc == 0 and out.splitlines()[0] == "Tracing btrfs operations", (out, err)
