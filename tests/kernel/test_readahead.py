"""readahead on the real kernel.  Only kernel functions carry readahead's page births and
uses: fentry, else kprobes.  See tests/fnprobes.py; its probes
fire in the kernel matrix's guests (tests/kernel/test_extras_probe_paths.py),
its formats are checked in tests/unit/test_extras_formats.py."""
from __future__ import annotations

import pytest

from tests.fnprobes import FunctionOnlyTests

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]


class TestReadahead(FunctionOnlyTests):
    PROG = "readahead"
    ARGS = ("-d", "1")
    TARGET = {"ra_enter": "page_cache_ra_order", "ra_exit": "page_cache_ra_order",
              "alloc": "filemap_alloc_folio_noprof", "access": "folio_mark_accessed"}
