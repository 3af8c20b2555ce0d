"""Print one line per garbage collection in a Java, Node.js, Python or Ruby
process (start, duration, description), from its runtime's USDT GC probes.

examples:
    ugc -l java 185        # trace Java GCs in process 185
    ugc -l ruby 1344 -m    # trace Ruby GCs reporting in ms
    ugc -M 10 -l java 185  # trace only Java GCs longer than 10ms
    ugc -l python 2020 -F 'gen 2'   # only Python collections of generation 2
"""
from __future__ import annotations

import time

import corebpf

from . import _cli, _containers, _jsonl, _ulang

PROG = "ugc"
LANGS = ("java", "node", "python", "ruby")
GC_PLAIN, GC_PYTHON, GC_JAVA_POOL, GC_NODE = range(4)
NODE_FLAGS = (("GC scavenge", 1), ("GC mark-sweep-compact", 2), ("GC incremental mark", 4),
              ("GC weak callbacks", 8))

# per language: up to two (begin, end, kind, plain description) probe pairs
PAIRS = {
    "java": (("mem__pool__gc__begin", "mem__pool__gc__end", GC_JAVA_POOL, None),
             ("gc__begin", "gc__end", GC_PLAIN, "no additional info available")),
    "node": (("gc__start", "gc__done", GC_NODE, None),),
    "python": (("gc__start", "gc__done", GC_PYTHON, None),),
    "ruby": (("gc__mark__begin", "gc__mark__end", GC_PLAIN, "GC mark stage"),
             ("gc__sweep__begin", "gc__sweep__end", GC_PLAIN, "GC sweep stage")),
}


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__)
    p.add_argument("-l", "--language", choices=LANGS, help="language to trace (default: detected)")
    p.add_argument("pid", type=_cli.pid_type, help="process to trace")
    p.add_argument("-m", "--milliseconds", action="store_true",
                   help="durations in milliseconds (default: microseconds)")
    p.add_argument("-M", "--minimum", type=_cli.unsigned(64, scale=1000000), default=0,
                   help="only GCs longer than this many milliseconds")
    p.add_argument("-F", "--filter", help="only GCs whose description contains this text")
    _jsonl.add_args(p)
    _containers.add_args(p)
    return p.parse_args(argv)


F = _jsonl.Field
JSON = _jsonl.Events("one object per garbage collection", [
    F("elapsed_ns", "integer", "the collection's duration", "ns"),
    F("description", "string", "what the runtime reported (the DESCRIPTION column)"),
    _containers.FIELD,
])


def describe(lang: str, e) -> str:
    """The DESCRIPTION column for a GC event."""
    pair = PAIRS[lang][e.probe if e.probe < len(PAIRS[lang]) else 0]
    kind, text = pair[2], pair[3]
    if kind == GC_PYTHON:
        return "gen %d GC collected %d objects" % (e.field1, e.field2)
    if kind == GC_JAVA_POOL:
        return "%s %s used=%d->%d max=%d->%d" % (e.string1, e.string2, e.field1, e.field3,
                                                 e.field2, e.field4)
    if kind == GC_NODE:
        return ", ".join(d for d, bit in NODE_FLAGS if e.field1 & bit)
    return text


def format_event(lang: str, e, seconds: float, ms: bool) -> str:
    return "%-8.3f %-8.2f %s" % (seconds, e.elapsed_ns / (1e6 if ms else 1e3), describe(lang, e))


def run(argv=None):
    a = parse(argv)
    lang = _ulang.language(LANGS, a)
    _cli.setup(a)
    pairs = PAIRS[lang]
    with corebpf.Object.open(PROG) as obj:
        obj.rodata.targ_kind = [p[2] for p in pairs] + [0] * (2 - len(pairs))
        obj.rodata.targ_min_ns = a.minimum * 1000000
        _containers.apply(obj, a)
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        obj.load()
        for i, (begin, end, _, _) in enumerate(pairs):
            _ulang.attach_all(obj.programs["gc_begin"], (begin,), a.pid, cookie=i)
            _ulang.attach_all(obj.programs["gc_end"], (end,), a.pid, cookie=i)
        _jsonl.status(a, "Tracing garbage collections in %s process %d... Ctrl-C to quit."
                      % (lang, a.pid))
        start = time.time()

        def text(e):
            line = format_event(lang, e, time.time() - start, a.milliseconds)
            if a.filter and a.filter not in describe(lang, e):
                return None
            return line

        def record(e):
            desc = describe(lang, e)
            if a.filter and a.filter not in desc:
                return None
            return JSON.record(e, description=desc)

        header = "%-8s %-8s %-40s" % ("START", "TIME (ms)" if a.milliseconds else "TIME (us)",
                                      "DESCRIPTION")
        header, text = _containers.column(a, header, text)
        rb, out = _jsonl.ring(obj, a, _jsonl.Custom(record), text, header)
        _cli.event_loop(rb, out)
    return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
