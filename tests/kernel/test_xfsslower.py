"""xfsslower on the real kernel: a XFS file system made for the test (loop
device); one process works on it, then on ext4: the tool reports the
first with bcc's columns, and nothing of the second (tests/fstools.py)."""
from __future__ import annotations

import pytest

from tests import fstools

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]


class TestXfsslower(fstools.BccSlowerTests):
    PROG, FS, TITLE = "xfsslower", "xfs", "XFS"
