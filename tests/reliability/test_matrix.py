"""The table in tests/matrix.py covers every tool: a tool added without a row
fails here (so it cannot slip past the cleanup, signal and bad-input tests
and the benchmarks)."""
from __future__ import annotations

import subprocess
import sys

import pytest

from tests import matrix


def test_every_tool_has_a_row():
    missing = matrix.missing_from_table()
    assert not missing, "; ".join(
        f"add {t} to the table (TOOLS in {matrix.TABLE_FILE})" for t in missing)


def test_discovery_matches_the_command_line():
    out = subprocess.run([sys.executable, "-m", "corebpf", "--list"], capture_output=True,
                         text=True, check=True).stdout.split()
    assert out == matrix.discover()


@pytest.mark.parametrize("name", matrix.discover())
def test_row_is_well_formed(name):
    s = matrix.spec(name)
    assert s.interval in (None, "pos", "-i")
    assert s.head is None or isinstance(s.head, tuple)
    for args, text in s.bad:
        assert isinstance(args, tuple) and isinstance(text, str)


def test_spec_of_an_unknown_tool_says_what_to_do():
    with pytest.raises(AssertionError, match="add nosuchtool to the table"):
        matrix.spec("nosuchtool")
