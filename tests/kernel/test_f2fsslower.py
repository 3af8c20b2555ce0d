"""f2fsslower on the real kernel: a f2fs file system made for the test (loop
device); one process works on it, then on ext4: the tool reports the
first with bcc's columns, and nothing of the second (tests/fstools.py)."""
from __future__ import annotations

import pytest

from tests import fstools

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]


class TestF2fsslower(fstools.BccSlowerTests):
    PROG, FS, TITLE = "f2fsslower", "f2fs", "f2fs"
    CSV_FLAG = "-s"
