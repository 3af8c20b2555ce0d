"""mdflush on the real kernel.  Only a kernel function carries md flushes
(md_flush_request): fentry, else kprobes.  See tests/fnprobes.py; its probes
fire in the kernel matrix's guests (tests/kernel/test_extras_probe_paths.py),
its formats are checked in tests/unit/test_extras_formats.py."""
from __future__ import annotations

import pytest

from tests.fnprobes import FunctionOnlyTests

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]


class TestMdflush(FunctionOnlyTests):
    PROG = "mdflush"
