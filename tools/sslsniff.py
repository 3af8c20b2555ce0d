"""Sniff SSL data: the plaintext of TLS reads and writes made through
OpenSSL (SSL_read/SSL_write and their _ex forms), GnuTLS
(gnutls_record_recv/send) and NSS (NSPR's PR_Read/PR_Write/PR_Recv/PR_Send),
from uprobes on the libraries; libraries that are not installed are skipped.

examples:
    sslsniff              # sniff OpenSSL and GnuTLS functions
    sslsniff -p 181       # sniff PID 181 only
    sslsniff -u 1000      # sniff only UID 1000
    sslsniff -c curl      # sniff curl command only
    sslsniff --no-openssl # don't show OpenSSL calls
    sslsniff --no-gnutls  # don't show GnuTLS calls
    sslsniff --no-nss     # don't show NSS calls
    sslsniff --hexdump    # show data as hex instead of trying to decode it as UTF-8
    sslsniff -x           # show process UID and TID
    sslsniff -l           # show function latency
    sslsniff -l --handshake  # show SSL handshake latency
    sslsniff --extra-lib openssl:/path/libssl.so.1.1 # sniff extra library
"""
from __future__ import annotations

import argparse
import binascii
import os
import sys
import textwrap

import corebpf

from . import _cli, _containers, _jsonl

PROG = "sslsniff"
MAX_BUF_SIZE = 65536                # sslsniff.h
RW = {0: "READ/RECV", 1: "WRITE/SEND", 2: "HANDSHAKE"}
DEFAULT_LIBS = (("openssl", "ssl"), ("gnutls", "gnutls"), ("nss", "nspr4"))
# library kind -> [(symbol, entry program, return program, optional)]
PROBES = {
    "openssl": [("SSL_write", "rw_enter", "write_exit", False),
                ("SSL_read", "rw_enter", "read_exit", False),
                ("SSL_write_ex", "rw_ex_enter", "write_ex_exit", True),     # OpenSSL 1.1.1+
                ("SSL_read_ex", "rw_ex_enter", "read_ex_exit", True)],
    "gnutls": [("gnutls_record_send", "rw_enter", "write_exit", False),
               ("gnutls_record_recv", "rw_enter", "read_exit", False)],
    "nss": [("PR_Write", "rw_enter", "write_exit", False),
            ("PR_Send", "rw_enter", "write_exit", False),
            ("PR_Read", "rw_enter", "read_exit", False),
            ("PR_Recv", "rw_enter", "read_exit", False)],
}
HANDSHAKE = ("SSL_do_handshake", "handshake_enter", "handshake_exit", False)


def ssllib_type(text: str):
    try:
        kind, path = text.split(":", 1)
    except ValueError:
        raise argparse.ArgumentTypeError("Invalid SSL library param: %r" % text) from None
    if kind not in PROBES:
        raise argparse.ArgumentTypeError("Invalid SSL library type: %r" % kind)
    if not os.path.isfile(path):
        raise argparse.ArgumentTypeError("Invalid library path: %r" % path)
    return kind, path


# the ring buffer record carries at most MAX_BUF_SIZE bytes of data
buffer_size = _cli.Number(1, MAX_BUF_SIZE, "buffer_size")


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__)
    p.add_argument("-p", "--pid", type=_cli.pid_type, help="sniff this PID only.")
    p.add_argument("-u", "--uid", type=_cli.uid_type, help="sniff this UID only.")
    p.add_argument("-x", "--extra", action="store_true", help="show extra fields (UID, TID)")
    p.add_argument("-c", "--comm", help="sniff only commands matching string.")
    p.add_argument("-o", "--no-openssl", action="store_false", dest="openssl",
                   help="do not show OpenSSL calls.")
    p.add_argument("-g", "--no-gnutls", action="store_false", dest="gnutls",
                   help="do not show GnuTLS calls.")
    p.add_argument("-n", "--no-nss", action="store_false", dest="nss",
                   help="do not show NSS calls.")
    p.add_argument("-d", "--debug", action="count", default=0,
                   help="debug mode: list the probes attached (on stderr).")
    p.add_argument("--hexdump", action="store_true",
                   help="show data as hexdump instead of trying to decode it as UTF-8")
    p.add_argument("--max-buffer-size", type=buffer_size, default=8192,
                   help=f"Size of captured buffer (at most {MAX_BUF_SIZE})")
    p.add_argument("-l", "--latency", action="store_true", help="show function latency")
    p.add_argument("--handshake", action="store_true",
                   help="show SSL handshake latency, enabled only if latency option is on.")
    p.add_argument("--extra-lib", type=ssllib_type, action="append",
                   help="Intercept calls from extra library (format: lib_type:lib_path)")
    _jsonl.add_args(p)
    _containers.add_args(p)
    return p.parse_args(argv)


def header(extra: bool, latency: bool) -> str:
    h = "%-12s %-18s %-16s %-7s %-7s" % ("FUNC", "TIME(s)", "COMM", "PID", "LEN")
    if extra:
        h += " %-7s %-7s" % ("UID", "TID")
    if latency:
        h += " %-7s" % "LAT(ms)"
    return h


def _data(e) -> bytes:
    return bytes(e.buf) if e.buf_filled == 1 else b""


F = _jsonl.Field
JSON = _jsonl.Events("one object per TLS read, write (or handshake, --handshake)", [
    F("func", "string", "READ/RECV, WRITE/SEND or HANDSHAKE", get=lambda e: RW.get(e.rw, "?")),
    F("timestamp_ns", "integer", "kernel time (CLOCK_MONOTONIC)", "ns"),
    F("comm", "string", "command name"),
    F("pid", "integer", "process ID"),
    F("tid", "integer", "thread ID"),
    F("uid", "integer", "user ID"),
    F("len", "integer", "bytes read or written (the call's result)", "bytes"),
    F("latency_ns", "integer|null", "time the call took, null if not measured (-l)", "ns",
      get=lambda e: e.delta_ns or None),
    F("data", "string|null", "the plaintext captured (at most --max-buffer-size bytes), "
                             "exact: bytes that are not UTF-8 as \\udcNN; null if none",
      get=lambda e: _jsonl.raw(_data(e)) if e.buf_filled == 1 else None),
    F("truncated_bytes", "integer", "bytes of the call not captured", "bytes",
      get=lambda e: max(0, e.len - len(_data(e)))),
    _containers.FIELD,
])


def format_event(e, start_ns: int, a) -> str:
    """bcc's text for one event: the base line, then the data between marks."""
    data = e.buf if e.buf_filled == 1 else b""
    truncated = e.len - len(data)
    fields = {"func": RW.get(e.rw, "?"), "time": (e.timestamp_ns - start_ns) / 1e9,
              "comm": _cli.printable(e.comm, ""), "pid": e.pid, "tid": e.tid, "uid": e.uid,
              "len": e.len,
              "lat": "%.3f" % (e.delta_ns / 1e6) if e.delta_ns else "N/A"}
    fmt = "%(func)-12s %(time)-18.9f %(comm)-16s %(pid)-7d %(len)-6d"
    if a.extra:
        fmt += " %(uid)-7d %(tid)-7d"
    if a.latency:
        fmt += " %(lat)-7s"
    base = fmt % fields
    if not data:
        return base
    if a.hexdump:
        text = textwrap.fill(binascii.hexlify(data).decode(), width=32)
    else:
        text = _cli.printable(data.decode("utf-8", "replace"))
    end = "-" * 5 + " END DATA " + "-" * 5
    if truncated > 0:
        end = "-" * 5 + " END DATA (TRUNCATED, " + str(truncated) + " bytes lost) " + "-" * 5
    return "%s\n%s\n%s\n%s\n\n" % (base, "-" * 5 + " DATA " + "-" * 5, text, end)


def attach(obj, kind: str, lib: str, pid, handshake: bool, debug) -> int:
    """Attach the probes of library `lib` (a TLS library of `kind`); the
    number of functions probed.  ElfError if `lib` lacks a required one."""
    from corebpf.user import uprobes
    from corebpf.symbols.elf import ElfError
    P = obj.programs
    n = 0
    for sym, entry, ret, optional in PROBES[kind] + ([HANDSHAKE] if handshake else []):
        try:
            uprobes.attach(P[entry], lib, sym, pid=pid or -1)
        except ElfError:
            if optional:
                continue
            raise
        uprobes.attach(P[ret], lib, sym, pid=pid or -1, retprobe=True)
        n += 1
        if debug:
            sys.stderr.write(f"{PROG}: probing {sym} in {uprobes.resolve(lib, pid)}\n")
    return n


def run(argv=None):
    a = parse(argv)
    _cli.setup(a)
    from corebpf.user import uprobes
    from corebpf.symbols.elf import ElfError
    handshake = a.latency and a.handshake
    libs = []
    for kind, lib in DEFAULT_LIBS:
        if not getattr(a, kind):
            continue
        try:
            uprobes.resolve(lib, a.pid)
        except ElfError:
            continue                # not installed here: nothing of it to sniff
        libs.append((kind, lib))
    libs += list(a.extra_lib or ())
    if not libs:
        raise _cli.UsageError("no TLS library to sniff: libssl (OpenSSL), libgnutls (GnuTLS) "
                              "and libnspr4 (NSS) not found or disabled; --extra-lib names one")
    with corebpf.Object.open(PROG) as obj:
        obj.rodata.targ_tgid = a.pid or 0
        obj.rodata.targ_uid = a.uid if a.uid is not None else 2**32 - 1
        obj.rodata.targ_max_buf = a.max_buffer_size
        obj.maps["scratch"].max_entries = corebpf.features.possible_cpus()
        for name in ("handshake_enter", "handshake_exit"):
            obj.programs[name].autoload = handshake
        _containers.apply(obj, a)
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        obj.load()
        for kind, lib in libs:
            attach(obj, kind, lib, a.pid, handshake and kind == "openssl", a.debug)
        start = []

        def text(e):
            if a.comm and a.comm != e.comm:
                return None
            if not start:
                start.append(e.timestamp_ns)
            return format_event(e, start[0], a)

        def record(e):
            return None if a.comm and a.comm != e.comm else JSON.record(e)

        head, text = _containers.column(a, header(a.extra, a.latency), text)
        rb, out = _jsonl.ring(obj, a, _jsonl.Custom(record), text, head)
        _cli.event_loop(rb, out)
        return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
