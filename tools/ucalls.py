"""Count method calls (and with -L, time them) in a Java, Perl, PHP, Python,
Ruby or Tcl process from its runtime's USDT probes, and optionally its
syscalls (raw_syscalls tracepoints).  Python (Debian's 3.11 fires its
function__entry probe only for frames entered from C): calls are counted at
function__return, and -L times only the calls whose entry probe fires.

examples:
    ucalls -l java 185        # trace Java calls and print statistics on ^C
    ucalls -l python 2020 1   # trace Python calls and print every second
    ucalls -l java 185 -S     # trace Java calls and syscalls
    ucalls 6712 -S            # trace only syscall counts (language detected)
    ucalls -l ruby 1344 -T 10 # trace top 10 Ruby method calls
    ucalls -l ruby 1344 -L    # trace Ruby calls including latency
    ucalls -l php 443 -LS     # trace PHP calls and syscalls with latency
    ucalls -l python 2020 -mL # trace Python calls including latency in ms
"""
from __future__ import annotations


import corebpf
from corebpf.syscalls import name as syscall_name

from . import _cli, _jsonl, _ulang

PROG = "ucalls"
LANGS = ("java", "perl", "php", "python", "ruby", "tcl")


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__)
    p.add_argument("pid", type=_cli.pid_type, help="process to trace")
    p.add_argument("interval", type=_cli.positive_int, nargs="?",
                   help="print every this many seconds")
    p.add_argument("-l", "--language", choices=LANGS + ("none",),
                   help="language to trace (none: syscalls only; default: detected)")
    p.add_argument("-T", "--top", type=_cli.positive_int,
                   help="print only this many of the most frequent (or slowest) calls")
    p.add_argument("-L", "--latency", action="store_true",
                   help="time calls from entry to return (not recursive calls)")
    p.add_argument("-S", "--syscalls", action="store_true", help="also count syscalls")
    p.add_argument("-m", "--milliseconds", action="store_true",
                   help="times in milliseconds (default: microseconds)")
    _jsonl.add_args(p)
    return p.parse_args(argv)


F = _jsonl.Field
JSON = _jsonl.Intervals("one object per interval, or one at the end: calls counted", rows=[
    F("kind", "string", "method or syscall (-S)", get=lambda d: d[0]),
    F("method", "string", "class.method, or the syscall's name", get=lambda d: d[1]),
    F("calls", "integer", "calls counted", get=lambda d: d[2]),
    F("total_ns", "integer", "time in the calls timed (-L)", "ns", optional=True,
      get=lambda d: d[3]),
])


def table(methods, syscalls, latency: bool, top=None) -> list:
    """[(kind, name, calls, total ns or None)] in bcc's order (most last)."""
    data = [("method", k.clazz + "." + k.method, v.num_calls, v.total_ns) for k, v in methods]
    data += [("syscall", syscall_name(nr), v.num_calls, v.total_ns) for nr, v in syscalls]
    data.sort(key=lambda d: d[3] if latency else d[2])
    if top:
        data = data[-top:]
    return [d if latency else d[:3] + (None,) for d in data]


def report(methods, syscalls, latency: bool, ms: bool, top=None) -> str:
    """One report: methods [(method key, info)] and syscalls [(nr, info)]."""
    data = [d[1:] for d in table(methods, syscalls, latency, top)]
    lines = [""]
    if latency:
        lines.append("%-50s %8s %8s" % ("METHOD", "# CALLS", "TIME (ms)" if ms else "TIME (us)"))
        for name, n, ns in data:
            lines.append("%-50s %8d %6.2f" % (name, n, ns / (1e6 if ms else 1e3)))
    else:
        lines.append("%-50s %8s" % ("METHOD", "# CALLS"))
        lines.extend("%-50s %8d" % (name, n) for name, n, _ in data)
    return "\n".join(lines)


def run(argv=None):
    a = parse(argv)
    lang = a.language or _ulang.detect_language(LANGS, a.pid)
    if lang == "none":
        lang = None
    if not lang and not a.syscalls:
        raise _cli.UsageError(f"nothing to trace in process {a.pid} (no language "
                              "detected or -l none): use -l LANGUAGE or -S")
    _cli.setup(a)
    with corebpf.Object.open(PROG) as obj:
        obj.rodata.targ_tgid = a.pid
        obj.rodata.targ_latency = a.latency
        if lang:
            _ulang.method_rodata(obj, lang)
            obj.rodata.targ_count_returns = bool(_ulang.METHODS[lang].get("count_returns"))
        for name in ("method_entry", "method_return"):
            obj.programs[name].autoload = bool(lang)
        for name in ("sys_enter", "sys_exit"):
            obj.programs[name].autoload = a.syscalls
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        obj.load()
        if lang:
            spec = _ulang.METHODS[lang]
            _ulang.attach_all(obj.programs["method_entry"], spec["entry"], a.pid)
            _ulang.attach_all(obj.programs["method_return"], spec["ret"], a.pid)
        if a.syscalls:
            obj.attach("sys_enter", "sys_exit")
        _jsonl.status(a, "Tracing calls in process %d (language: %s)... Ctrl-C to quit."
                      % (a.pid, lang or "none"))
        if lang and _ulang.METHODS[lang].get("extra"):
            _jsonl.status(a, _ulang.METHODS[lang]["extra"])
        if a.syscalls:
            _jsonl.status(a, "Attached kernel tracepoints for syscall tracing.")
        print(end="", flush=True)
        calls, sysc = obj.maps["calls"].raw_text(a.json), obj.maps["syscalls"]
        while True:
            stop = _cli.wait_stop(a.interval or _cli.FOREVER)
            take = (lambda m: m.items()) if stop or not a.interval else (lambda m: m.pop_items())
            methods, syscalls = take(calls) if lang else [], take(sysc) if a.syscalls else []
            if a.json:
                JSON.write(table(methods, syscalls, a.latency, a.top))
            else:
                print(report(methods, syscalls, a.latency, a.milliseconds, a.top), flush=True)
            if stop or not a.interval:
                if a.syscalls:
                    _jsonl.status(a, "Detaching kernel probes, please wait...")
                return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
