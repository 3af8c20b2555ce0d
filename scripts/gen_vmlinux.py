#!/usr/bin/env python3
"""Generate vmlinux/ARCH/vmlinux.h from a Debian kernel package's BTF.

    python3 scripts/gen_vmlinux.py --arch arm64 [--package linux-image-...-arm64] [--module ext4]

End to end: downloads the kernel package through tests/vm/apt (a private APT
configuration: the machine's sources and architectures are left alone),
unpacks it, cuts the BTF blob out of the kernel image, and writes the C
header with `bpftool btf dump ... format c`, module BTF merged in (split
BTF dumped on top of the kernel's: the header holds both).

Why cut the blob out: Debian's arm64 `vmlinuz` is a raw `Image`, not an ELF
file, so bpftool cannot read its .BTF section.  The blob starts with the BTF
header (magic 0xeb9f, version 1, header length 24); its length follows from
the header.  A gzip-compressed image is decompressed first.

Default package: the newest 6.18 kernel for ARCH in trixie-backports (the
headers the objects are compiled against; CO-RE adapts them to older
kernels).  Modules: ext4 (a module on arm64; ext4slower, ext4dist and
filelife need its types).  Needs bpftool, dpkg, xz, and root for apt.
"""
from __future__ import annotations

import argparse
import gzip
import lzma
import os
import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("VM_CACHE", "/var/lib/corebpf-vm"))
DEB_ARCH = {"arm64": "arm64", "x86": "amd64"}
DEFAULT_SERIES = r"6\.18\.[0-9]+\+deb13"

BTF_MAGIC = b"\x9f\xeb\x01\x00"


class GenError(Exception):
    pass


def cut_btf(image: bytes) -> bytes:
    """The largest well-formed BTF blob inside a raw kernel image."""
    best = b""
    i = image.find(BTF_MAGIC)
    while i >= 0:
        if i + 24 <= len(image):
            hdr_len, type_off, type_len, str_off, str_len = struct.unpack_from(
                "<IIIII", image, i + 4)
            end = i + hdr_len + max(type_off + type_len, str_off + str_len)
            if (hdr_len == 24 and type_off == 0 and str_off == type_len and str_len
                    and end <= len(image) and image[i + hdr_len + str_off] == 0
                    and end - i > len(best)):
                best = image[i:end]
        i = image.find(BTF_MAGIC, i + 1)
    if not best:
        raise GenError("no BTF blob in the kernel image (CONFIG_DEBUG_INFO_BTF off?)")
    return best


def read_maybe_compressed(path: Path) -> bytes:
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        return gzip.decompress(data)
    if data[:6] == b"\xfd7zXZ\x00":
        return lzma.decompress(data)
    return data


def newest_package(arch: str) -> str:
    deb = DEB_ARCH[arch]
    out = subprocess.run([str(ROOT / "tests/vm/apt"), "-a", deb, "apt-cache", "search",
                          "--names-only", f"^linux-image-{DEFAULT_SERIES}-{deb}$"],
                         capture_output=True, text=True)
    names = [ln.split()[0] for ln in out.stdout.splitlines() if ln.strip()]
    if not names:
        raise GenError(f"no {DEFAULT_SERIES} kernel package for {deb}: {out.stderr.strip()}")
    return sorted(names, key=lambda n: [int(x) for x in n.split("-")[2].split("+")[0].split(".")])[-1]


def download(pkg: str, arch: str) -> Path:
    debs = CACHE / arch / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    os.chmod(debs, 0o777)
    found = sorted(debs.glob(f"{pkg}_*.deb"))
    if not found:
        subprocess.run([str(ROOT / "tests/vm/apt"), "-a", DEB_ARCH[arch], "apt-get", "-q",
                        "download", pkg], cwd=debs, check=True, stdout=sys.stderr)
        found = sorted(debs.glob(f"{pkg}_*.deb"))
    if not found:
        raise GenError(f"{pkg}: download failed")
    return found[-1]


def generate(deb: Path, modules: list, out: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="gen-vmlinux-") as tmp:
        t = Path(tmp)
        subprocess.run(["dpkg", "-x", str(deb), str(t / "x")], check=True)
        images = sorted((t / "x").glob("boot/vmlinuz-*")) or \
            sorted((t / "x").glob("usr/lib/modules/*/vmlinuz"))
        if not images:
            raise GenError(f"{deb.name}: no vmlinuz inside")
        blob = cut_btf(read_maybe_compressed(images[0]))
        base = t / "vmlinux.btf"
        base.write_bytes(blob)
        dump = ["bpftool", "btf", "dump", "file", str(base), "format", "c"]
        split = None
        for m in modules:
            kos = [p for d in ("lib/modules", "usr/lib/modules")
                   for p in (t / "x" / d).glob(f"*/kernel/**/{m}.ko*")]
            if not kos:
                raise GenError(f"{deb.name}: no module {m}")
            ko = t / f"{m}.ko"
            ko.write_bytes(read_maybe_compressed(kos[0]))
            split = ko
        if len(modules) > 1:
            raise GenError("one module at a time: split BTF dumps hold one module")
        if split is not None:
            dump = ["bpftool", "-B", str(base), "btf", "dump", "file", str(split), "format", "c"]
        r = subprocess.run(dump, capture_output=True)
        if r.returncode != 0:
            raise GenError(f"bpftool failed: {r.stderr.decode(errors='replace').strip()}")
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp_out = out.with_suffix(".h.tmp")
        tmp_out.write_bytes(b"/* SPDX-License-Identifier: GPL-2.0-only */\n"
                            b"/* Generated from the Linux kernel BTF (bpftool btf dump format c): "
                            b"kernel types. */\n" + r.stdout)
        os.replace(tmp_out, out)
        print(f"{out.relative_to(ROOT)}: {len(r.stdout) // 1024} KiB from {deb.name} "
              f"(BTF {len(blob) // 1024} KiB{', + ' + ', '.join(modules) if modules else ''})",
              file=sys.stderr)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--arch", choices=sorted(DEB_ARCH), default="arm64")
    p.add_argument("--package", help="kernel package (default: newest 6.18 of trixie-backports)")
    p.add_argument("--deb", type=Path, help="a kernel .deb already on disk (no download)")
    p.add_argument("--module", action="append", default=None,
                   help="module whose BTF is merged in (default: ext4)")
    p.add_argument("-o", "--output", type=Path, help="default: vmlinux/ARCH/vmlinux.h")
    a = p.parse_args(argv)
    if shutil.which("bpftool") is None:
        print("gen_vmlinux: error: bpftool not found (apt-get install bpftool)", file=sys.stderr)
        return 1
    try:
        deb = a.deb or download(a.package or newest_package(a.arch), a.arch)
        generate(deb, ["ext4"] if a.module is None else a.module,
                 a.output or ROOT / "vmlinux" / a.arch / "vmlinux.h")
    except (GenError, subprocess.CalledProcessError, OSError) as e:
        print(f"gen_vmlinux: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
