"""Summarize object allocations in a process: by type for Java, Ruby and Tcl
(their runtimes' USDT probes), by size for C (a uprobe on libc malloc).

examples:
    uobjnew -l java 145         # summarize Java allocations in process 145
    uobjnew -l c 2020 1         # grab malloc() sizes and print every second
    uobjnew -l ruby 6712 -C 10  # top 10 Ruby types by number of allocations
    uobjnew -l ruby 6712 -S 10  # top 10 Ruby types by total size
"""
from __future__ import annotations


import corebpf
from corebpf.user import uprobes

from . import _cli, _jsonl, _ulang

PROG = "uobjnew"
LANGS = ("c", "java", "ruby", "tcl")
RUBY_BUILTINS = (("string__create", 1), ("hash__create", 2), ("array__create", 3))


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__)
    p.add_argument("-l", "--language", choices=LANGS, help="language to trace (default: detected)")
    p.add_argument("pid", type=_cli.pid_type, help="process to trace")
    p.add_argument("interval", type=_cli.positive_int, nargs="?",
                   help="print every this many seconds")
    p.add_argument("-C", "--top-count", type=_cli.positive_int,
                   help="print only this many types, the most often allocated")
    p.add_argument("-S", "--top-size", type=_cli.positive_int,
                   help="print only this many types, the most bytes allocated")
    _jsonl.add_args(p)
    return p.parse_args(argv)


F = _jsonl.Field
JSON = _jsonl.Intervals("one object per interval, or one at the end: allocations by type",
                        rows=[
    F("type", "string", "type name (java, ruby, tcl; not for c)", optional=True,
      get=lambda kv: kv[0].name or None),
    F("size", "integer", "the malloc() size (c)", "bytes", optional=True,
      get=lambda kv: kv[0].size if not kv[0].name else None),
    F("allocs", "integer", "allocations counted", get=lambda kv: kv[1].num_allocs),
    F("total_bytes", "integer", "bytes allocated (0 where the runtime does not say)", "bytes",
      get=lambda kv: kv[1].total_size),
])


def top(items, top_count=None, top_size=None) -> list:
    """The rows of one report, in bcc's order (most last)."""
    if top_count:
        return sorted(items, key=lambda kv: kv[1].num_allocs)[-top_count:]
    if top_size:
        return sorted(items, key=lambda kv: kv[1].total_size)[-top_size:]
    return sorted(items, key=lambda kv: kv[1].total_size)


def report(items, lang: str, top_count=None, top_size=None) -> str:
    """One report from the `allocs` map items [(key, value)]."""
    data = top(items, top_count, top_size)
    lines = ["", "%-30s %8s %12s" % ("NAME/TYPE", "# ALLOCS", "# BYTES")]
    for k, v in data:
        name = "block size %d" % k.size if lang == "c" else k.name
        lines.append("%-30s %8d %12d" % (name, v.num_allocs, v.total_size))
    return "\n".join(lines)


def attach(obj, lang: str, pid: int):
    P = obj.programs
    if lang == "c":
        uprobes.attach(P["malloc_entry"], "c", "malloc", pid=pid)
    elif lang == "java":
        _ulang.attach_all(P["java_alloc"], ("object__alloc",), pid)
    elif lang == "ruby":
        _ulang.attach_all(P["ruby_object"], ("object__create",), pid)
        for name, cookie in RUBY_BUILTINS:
            _ulang.attach_all(P["ruby_builtin"], (name,), pid, cookie=cookie)
    else:
        _ulang.attach_all(P["tcl_alloc"], ("obj__create",), pid)


def run(argv=None):
    a = parse(argv)
    lang = _ulang.language(LANGS, a)
    _cli.setup(a)
    used = {"c": ("malloc_entry",), "java": ("java_alloc",),
            "ruby": ("ruby_object", "ruby_builtin"), "tcl": ("tcl_alloc",)}[lang]
    with corebpf.Object.open(PROG) as obj:
        for name, prog in obj.programs.items():
            prog.autoload = name in used
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        obj.load()
        attach(obj, lang, a.pid)
        _jsonl.status(a, "Tracing allocations in process %d (language: %s)... Ctrl-C to quit."
                      % (a.pid, lang))
        allocs = obj.maps["allocs"].raw_text(a.json)
        while True:
            stop = _cli.wait_stop(a.interval or _cli.FOREVER)
            last = stop or not a.interval
            items = allocs.items() if last else allocs.pop_items()
            if a.json:
                JSON.write(top(items, a.top_count, a.top_size))
            else:
                print(report(items, lang, a.top_count, a.top_size), flush=True)
            if last:
                return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
