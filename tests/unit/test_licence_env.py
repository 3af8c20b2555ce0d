"""One licence story (README "Licence") and every environment variable the
tools honour documented (README "Environment"), checked against the tree."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
BPF_SPDX = "SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)"
GPL_COMPATIBLE = ("GPL", "GPL v2", "GPL and additional rights", "Dual BSD/GPL",
                  "Dual MIT/GPL", "Dual MPL/GPL")      # the kernel's license_is_gpl_compatible()


def _section(title: str) -> str:
    m = re.search(rf"^## {title}\n(.*?)(?=^## |\Z)", README, re.S | re.M)
    assert m, f"README has no '## {title}' section"
    return m.group(1)


def test_licence_files_are_in_the_repository():
    assert "Apache License" in (ROOT / "LICENSE").read_text()
    assert "GNU GENERAL PUBLIC LICENSE" in (ROOT / "LICENSE.GPL-2.0").read_text()
    assert "Version 2, June 1991" in (ROOT / "LICENSE.GPL-2.0").read_text()
    assert "GNU LESSER GENERAL PUBLIC LICENSE" in (ROOT / "LICENSE.LGPL-2.1").read_text()
    assert "Redistribution and use" in (ROOT / "LICENSE.BSD-2-Clause").read_text()
    text = _section("Licence")
    for name in ("LICENSE", "LICENSE.GPL-2.0", "LICENSE.LGPL-2.1", "LICENSE.BSD-2-Clause"):
        assert f"({name})" in text, name


@pytest.mark.parametrize("path", sorted(p.relative_to(ROOT) for d in ("bpf_src", "tests/bpf")
                                        for p in (ROOT / d).iterdir()
                                        if p.suffix in (".c", ".h")), ids=str)
def test_bpf_sources_say_their_licence(path):
    assert BPF_SPDX in (ROOT / path).read_text().splitlines()[0], path


def test_generated_kernel_types_say_theirs():
    for h in (ROOT / "vmlinux").glob("*/vmlinux.h"):
        with open(h) as f:
            assert f.readline().strip() == "/* SPDX-License-Identifier: GPL-2.0-only */", h


def test_programs_are_declared_gpl_compatible_and_alike():
    """The objects' license section and the generated programs' license say
    the same, GPL-compatible (GPL-only helpers are called)."""
    from corebpf.compiler import genprog
    header = (ROOT / "bpf_src" / "corebpf.bpf.h").read_text()
    m = re.search(r'char LICENSE\[\] SEC\("license"\) = "([^"]+)";', header)
    assert m and m.group(1) == genprog.LICENSE
    assert genprog.LICENSE in GPL_COMPATIBLE
    assert f"`{genprog.LICENSE}`" in _section("Licence")


def test_built_objects_carry_the_license_section():
    from elftools.elf.elffile import ELFFile
    objs = sorted((ROOT / "corebpf" / "bpf").glob("*/*.bpf.o"))      # every architecture
    assert objs, "no objects: run build.py"
    for o in objs:
        with open(o, "rb") as f:
            sec = ELFFile(f).get_section_by_name("license")
            assert sec is not None, o.name
            assert sec.data().rstrip(b"\0").decode() in GPL_COMPATIBLE, o.name


def test_package_metadata_tells_the_same_story():
    pyproject = (ROOT / "pyproject.toml").read_text()
    m = re.search(r'^license = \{text = "([^"]+)"\}', pyproject, re.M)
    assert m and f"`{m.group(1)}`" in _section("Licence")
    for lic in ("Apache-2.0", "GPL-2.0-only", "LGPL-2.1", "BSD-2-Clause"):
        assert lic in m.group(1)


def test_every_environment_variable_is_documented():
    """A variable the library or a tool reads is in the README's table (with
    the security note): they choose what a root process loads."""
    env = _section("Environment")
    read = set()
    pat = re.compile(r'environ(?:\.get\(|\[)\s*"([A-Z_][A-Z0-9_]*)"|getenv\(\s*"([A-Z_0-9]+)"')
    for d in ("corebpf", "tools"):
        for f in (ROOT / d).rglob("*.py"):
            if f.name == "_libbpf_ffi.py":
                continue
            for m in pat.finditer(f.read_text()):
                read.add(m.group(1) or m.group(2))
    assert {"COREBPF_LIBBPF", "COREBPF_BTF", "COREBPF_PROBE", "COREBPF_DEBUG",
            "COREBPF_JOURNAL_SOCKET", "PATH"} <= read
    missing = sorted(v for v in read if f"`{v}`" not in env)
    assert not missing, f"document these in the README's Environment section: {missing}"
    for words in ("sudo", "env_reset", "PYTHONPATH", "python3 -I"):
        assert words in env, words
