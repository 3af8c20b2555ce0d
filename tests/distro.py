"""The runtimes and servers the tests drive, found where Debian installs them
(12: python3.11, PostgreSQL 15, Ruby 3.1, OpenJDK 17; 13: python3.13,
PostgreSQL 17, Ruby 3.3, OpenJDK 21): the README's test command installs the
release-neutral packages (python3, postgresql, ruby, default-jdk-headless)."""
from __future__ import annotations

import glob
import os
import re
import shutil


def _version_key(path: str):
    return [int(n) for n in re.findall(r"\d+", path)]


def _newest(pattern: str):
    paths = sorted(glob.glob(pattern), key=_version_key)
    return paths[-1] if paths else None


# Debian's own CPython, the binary /usr/bin/python3 points to (built with
# USDT probes: function__entry/return, gc__start/done, ...)
PYTHON = os.path.realpath("/usr/bin/python3")
PYTHON_NAME = os.path.basename(PYTHON)                  # python3.11, python3.13
PYTHON_VERSION = PYTHON_NAME[len("python"):]            # 3.11, 3.13

# PostgreSQL's server binaries (built with USDT probes)
PGBIN = _newest("/usr/lib/postgresql/*/bin") or "/usr/lib/postgresql/15/bin"
POSTGRES = os.path.join(PGBIN, "postgres")

# Ruby: the interpreter and libruby (which carries the ruby provider's probes,
# when built with them)
RUBY = os.path.realpath(shutil.which("ruby") or "/usr/bin/ruby")
LIBRUBY = _newest("/usr/lib/*-linux-gnu/libruby-*.so.*.*.*") or \
    _newest("/usr/lib/*-linux-gnu/libruby-*.so.*")


def python_function_probes_missing():
    """Why Python's function__entry/function__return probes cannot be traced
    (None: they can).  CPython 3.12 dropped them (Debian 13's python3.13)."""
    from corebpf.user import usdt
    have = {p.name for p in usdt.probes(PYTHON) if p.provider == "python"}
    if not {"function__entry", "function__return"} <= have:
        return f"{PYTHON_NAME} has no python:function__entry/return USDT probes"
    return None


def ruby_usdt_missing():
    """Why Ruby's USDT probes cannot be traced here (None: they can).
    Debian 13's libruby-3.3 is built without them."""
    from corebpf.user import usdt
    if not LIBRUBY:
        return "no libruby (Debian package ruby)"
    if not usdt.probes(LIBRUBY):
        return f"{os.path.basename(LIBRUBY)} is built without USDT probes (no .note.stapsdt)"
    return None
