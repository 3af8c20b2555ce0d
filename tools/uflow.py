"""Print the flow of method calls (entries and returns, indented by call
depth) in a Java, Perl, PHP, Python, Ruby or Tcl process, from its runtime's
USDT probes.  On Debian's Python 3.11 returns are complete but entries are
sparse (its function__entry probe fires only for frames entered from C).

examples:
    uflow -l java 185                # trace Java method calls in process 185
    uflow -l ruby 134                # trace Ruby method calls in process 134
    uflow -M indexOf -l java 185     # trace only 'indexOf'-prefixed methods
    uflow -C '<stdin>' -l python 180 # trace only REPL-defined methods
"""
from __future__ import annotations

import time

import corebpf

from . import _cli, _containers, _jsonl, _ulang

PROG = "uflow"
LANGS = ("java", "perl", "php", "python", "ruby", "tcl")
NAME_LEN = 80


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__)
    p.add_argument("-l", "--language", choices=LANGS, help="language to trace (default: detected)")
    p.add_argument("pid", type=_cli.pid_type, help="process to trace")
    p.add_argument("-M", "--method", help="only methods whose name starts with this")
    p.add_argument("-C", "--class", dest="clazz", help="only classes whose name starts with this")
    _jsonl.add_args(p)
    _containers.add_args(p)
    return p.parse_args(argv)


F = _jsonl.Field
JSON = _jsonl.Events("one object per method entry or return", [
    F("cpu", "integer", "CPU"),
    F("pid", "integer", "process ID", get=lambda e: e.id >> 32),
    F("tid", "integer", "thread ID", get=lambda e: e.id & 0xFFFFFFFF),
    F("entry", "boolean", "true: the method was entered, false: it returned",
      get=lambda e: bool(e.entry)),
    F("depth", "integer", "call depth in the thread (1: outermost; 0: a return whose entry was not seen)"),
    F("class_name", "string", "class (module or file, by language)", get=lambda e: e.clazz),
    F("method", "string", "method name"),
    _containers.FIELD,
])


HEADER = "%-3s %-6s %-6s %-8s %s" % ("CPU", "PID", "TID", "TIME(us)", "METHOD")


def format_event(e, seconds: float) -> str:
    # bcc's TIME(us) column holds seconds since the tool started
    text = "  " * (e.depth - 1) + ("-> " if e.entry else "<- ") + e.clazz + "." + e.method
    return "%-3d %-6d %-6d %-8.3f %-40s" % (e.cpu, e.id >> 32, e.id & 0xFFFFFFFF, seconds, text)


def _prefix(obj, what: str, text):
    if text:
        raw = text.encode()[:NAME_LEN - 1]
        obj.rodata[f"targ_{what}_prefix"] = raw.decode("utf-8", "ignore")
        obj.rodata[f"targ_{what}_prefix_len"] = len(raw)


def run(argv=None):
    a = parse(argv)
    lang = _ulang.language(LANGS, a)
    _cli.setup(a)
    spec = _ulang.METHODS[lang]
    entries = ("proc__args",) if lang == "tcl" else spec["entry"]
    with corebpf.Object.open(PROG) as obj:
        _ulang.method_rodata(obj, lang)
        _prefix(obj, "class", a.clazz)
        _prefix(obj, "method", a.method)
        _containers.apply(obj, a)
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        obj.load()
        _ulang.attach_all(obj.programs["method_entry"], entries, a.pid)
        _ulang.attach_all(obj.programs["method_return"], spec["ret"], a.pid)
        _jsonl.status(a, "Tracing method calls in %s process %d... Ctrl-C to quit."
                      % (lang, a.pid))
        start = time.time()
        head, text = _containers.column(a, HEADER,
                                        lambda e: format_event(e, time.time() - start))
        rb, out = _jsonl.ring(obj, a, JSON, text, head)
        _cli.event_loop(rb, out)
    return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
