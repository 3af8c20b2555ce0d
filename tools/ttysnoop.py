"""Snoop output from a pts or tty device, eg, a shell.

examples:
    ttysnoop /dev/pts/2          # snoop output from /dev/pts/2
    ttysnoop 2                   # snoop output from /dev/pts/2 (shortcut)
    ttysnoop /dev/console        # snoop output from the system console
    ttysnoop /dev/tty0           # snoop output from /dev/tty0
    ttysnoop /dev/pts/2 -s 1024  # snoop output from /dev/pts/2 with data size 1024
    ttysnoop /dev/pts/2 -c 2     # snoop output from /dev/pts/2 with 2 checks for 256 bytes
                                   of data in buffer (potentially retrieving 512 bytes)

probes: the write and writev system call tracepoints, for files that are the
device (its inode); with --probe fentry or --probe kprobe, on kernels that
have them: tty_write (as bcc), which also sees writes made without these
syscalls (io_uring, splice).  One empty line is printed once tracing starts.
"""
from __future__ import annotations

import os
import stat
import sys

import corebpf
from corebpf import features

from . import _cli, _jsonl

PROG = "ttysnoop"
MAX_DATASIZE = 8192     # ttysnoop.h
MAX_DATACOUNT = 256


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__)
    p.add_argument("-C", "--noclear", action="store_true", help="don't clear the screen")
    p.add_argument("device", help="path to a tty device (eg, /dev/tty0) or pts number")
    p.add_argument("-s", "--datasize", default=256, type=_cli.Number(1, MAX_DATASIZE, "datasize"),
                   help="size of the transmitting buffer (default 256)")
    p.add_argument("-c", "--datacount", default=16, type=_cli.Number(1, MAX_DATACOUNT, "datacount"),
                   help="number of times we check for 'data-size' data (default 16)")
    _jsonl.add_args(p)
    return p.parse_args(argv)


def device(path: str):
    """(path, inode, kernel dev_t) of the tty to snoop; UsageError if it is none."""
    if not path.startswith("/"):
        path = "/dev/pts/" + path
    try:
        st = os.stat(path)
    except OSError as e:
        raise _cli.UsageError(f"unable to read device {path}: {e.strerror}") from None
    except ValueError:          # a NUL in the name
        raise _cli.UsageError(f"unable to read device {path!r}") from None
    if not stat.S_ISCHR(st.st_mode):
        raise _cli.UsageError(f"{path} is not a character device")
    return path, st.st_ino, _cli.kernel_dev(st.st_dev)


def chunk(raw: bytes) -> bytes:
    n = int.from_bytes(raw[:4], sys.byteorder)
    return raw[4:4 + n]


def decode(raw: bytes) -> str:
    return chunk(raw).decode("utf-8", "replace")


F = _jsonl.Field
JSON = _jsonl.Events("one object per chunk written to the tty (a write() is read in at most "
                     "--datacount chunks of --datasize bytes)", [
    F("data", "string", "the bytes written, exact: bytes that are not UTF-8 as \\udcNN",
      get=lambda raw: _jsonl.raw(chunk(raw))),
])


def choose_programs(obj):
    """Before load: the variants with bpf_loop (5.17) or their *_noloop twins
    (at most 4 chunks per write), and tty_write's prototype for the function
    variants: (kiocb, iov_iter) from 5.11, (file, buf, count, ppos) before."""
    loop = features.bpf_helper("loop")
    forced = features.forced_probe()        # a variant by name (tests) stays
    for p in obj.programs.values():
        if p.variant and p.variant != forced and p.variant.endswith("_noloop") == loop:
            p.autoload = False
    if features.kernel_btf():
        from corebpf.core import kbtf
        k = kbtf.vmlinux()
        params = k.func_proto("tty_write")
        if params:
            obj.rodata.targ_file_args = k.type_name(params[0][1]) == "struct file *"


def run(argv=None):
    a = parse(argv)
    path, ino, dev = device(a.device)
    _cli.setup(a)
    with corebpf.Object.open(PROG) as obj:
        choose_programs(obj)
        obj.rodata.targ_ino = ino
        obj.rodata.targ_dev = dev
        obj.rodata.targ_datasize = a.datasize
        obj.rodata.targ_datacount = a.datacount
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        obj.load()
        obj.attach()
        if a.json:
            rb, out = _jsonl.ring(obj, a, _jsonl.Custom(JSON.record), None,
                                  f"Tracing writes to {path}... Hit Ctrl-C to end.",
                                  raw=True)
            _cli.event_loop(rb, out)
            return 0
        out = sys.stdout
        rb = obj.ring_buffer("events", lambda raw: out.write(decode(raw)), raw=True)
        if not a.noclear:
            _cli.clear_screen()
        out.write("\n")       # (bcc prints nothing: a first line says "attached")
        out.flush()

        class Flush:        # the data as it comes, no line breaks of its own
            lines = ()

            @staticmethod
            def flush():
                out.flush()

        _cli.event_loop(rb, Flush())
    return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
