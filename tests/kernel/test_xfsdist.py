"""xfsdist on the real kernel: a XFS file system made for the test (loop
device); one process works on it, then on ext4: the tool reports the
first's latencies, and nothing of the second (tests/fstools.py)."""
from __future__ import annotations

import pytest

from tests import fstools

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]


class TestXfsdist(fstools.BccDistTests):
    PROG, FS, TITLE = "xfsdist", "xfs", "XFS"
