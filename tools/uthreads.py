"""Trace thread creation in a process: every pthread_create() (with the new
thread's TID and start routine), and for Java, thread start and stop events
from the JVM's USDT probes.  bcc reads glibc's USDT probe pthread_start, which
Debian's glibc does not have; here a uprobe on pthread_create() supplies the
start routine and the task:task_newtask tracepoint the new TID.

examples:
    uthreads -l java 185   # trace Java threads in process 185
    uthreads -l none 12245 # trace only pthreads in process 12245
"""
from __future__ import annotations

import time

import corebpf
from corebpf.user import uprobes
from corebpf.symbols.elf import sym_text

from . import _cli, _containers, _jsonl, _ulang

PROG = "uthreads"


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__)
    p.add_argument("-l", "--language", choices=("c", "java", "none"),
                   help="language to trace (c or none: pthreads only; default: detected)")
    p.add_argument("pid", type=_cli.pid_type, help="process to trace")
    _jsonl.add_args(p)
    _containers.add_args(p)
    return p.parse_args(argv)


F = _jsonl.Field
JSON = _jsonl.Events("one object per thread created (pthread) or Java thread start/stop", [
    F("type", "string", "pthread, start or stop (the last two: Java)"),
    F("tid", "integer", "the thread's native ID", get=lambda e: e.native_id),
    F("routine", "string", "start routine's symbol (pthread)", optional=True),
    F("routine_addr", "string", "start routine's address, hex (pthread)", optional=True),
    F("runtime_id", "integer", "the JVM's thread ID (start, stop)", optional=True),
    F("name", "string", "the Java thread's name (start, stop)", optional=True),
    _containers.FIELD,
])


def json_record(e, pid: int) -> dict:
    if e.type == "pthread":
        return JSON.record(e, routine=sym_text(pid, e.runtime_id),
                           routine_addr=hex(e.runtime_id), runtime_id=None, name=None)
    return JSON.record(e, routine=None, routine_addr=None)


HEADER = "%-8s %-16s %-8s %-30s" % ("TIME", "ID", "TYPE", "DESCRIPTION")


def format_event(e, seconds: float, pid: int) -> str:
    if e.type == "pthread":
        tid, desc = e.native_id, sym_text(pid, e.runtime_id)
    else:
        tid, desc = "R=%s/N=%s" % (e.runtime_id, e.native_id), e.name
    return "%-8.3f %-16s %-8s %-30s" % (seconds, tid, e.type, desc)


def pthread_library(pid: int) -> str:
    """libc (glibc >= 2.34) or libpthread: whichever defines pthread_create."""
    libc = uprobes.resolve("c", pid)
    return libc if uprobes.has_function(libc, "pthread_create") else uprobes.resolve("pthread", pid)


def run(argv=None):
    a = parse(argv)
    lang = a.language or _ulang.detect_language(("java",), a.pid)
    if lang in ("c", "none"):
        lang = None
    _cli.setup(a)
    lib = pthread_library(a.pid)
    with corebpf.Object.open(PROG) as obj:
        obj.rodata.targ_tgid = a.pid
        obj.programs["java_thread"].autoload = lang == "java"
        _containers.apply(obj, a)
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        obj.load()
        uprobes.attach(obj.programs["pthread_create_entry"], lib, "pthread_create", pid=a.pid)
        uprobes.attach(obj.programs["pthread_create_return"], lib, "pthread_create", pid=a.pid,
                       retprobe=True)
        obj.attach("newtask")
        if lang == "java":
            _ulang.attach_all(obj.programs["java_thread"], ("thread__start",), a.pid, cookie=0)
            _ulang.attach_all(obj.programs["java_thread"], ("thread__stop",), a.pid, cookie=1)
        _jsonl.status(a, "Tracing thread events in process %d (language: %s)... Ctrl-C to quit."
                      % (a.pid, lang or "none"))
        start = time.time()
        head, text = _containers.column(
            a, HEADER, lambda e: format_event(e, time.time() - start, a.pid))
        rb, out = _jsonl.ring(obj, a, _jsonl.Custom(lambda e: json_record(e, a.pid)), text, head)
        _cli.event_loop(rb, out)
    return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
