"""Activity stats from high-level languages: method calls, garbage
collections, object allocations, class loads, exceptions and thread starts
per second, for every Java, Node.js, Perl, PHP, Python, Ruby and Tcl process
(found by name, as bcc does, each interval), from their runtimes' USDT probes.
Python (Debian's 3.11 fires function__entry only for frames entered from C):
calls are counted at function__return.

examples:
  ustat              # stats for all languages, 1 second refresh
  ustat -C           # don't clear the screen
  ustat -l java      # Java processes only
  ustat 5            # 5 second summaries
  ustat 5 10         # 5 second summaries, 10 times only
"""
from __future__ import annotations

import os
import re
import sys
import time

import corebpf

from . import _cli, _jsonl

PROG = "ustat"
COLUMNS = ("method", "gc", "objnew", "cload", "excp", "thread")     # ustat.h order
M, GC, NEW, CL, EX, TH = range(6)

# per language: process names (bcc's; a version suffix such as python3.11
# or tclsh8.6 is accepted too) and probe -> column
LANGS = {
    "java": (("java",), {"gc__begin": GC, "mem__pool__gc__begin": GC, "thread__start": TH,
                         "class__loaded": CL, "object__alloc": NEW, "method__entry": M,
                         "ExceptionOccurred__entry": EX}),
    "node": (("node",), {"gc__start": GC}),
    "perl": (("perl",), {"sub__entry": M}),
    "php": (("php",), {"function__entry": M, "compile__file__entry": CL,
                       "exception__thrown": EX}),
    "python": (("python",), {"function__return": M, "gc__start": GC}),
    "ruby": (("ruby", "irb"), {"method__entry": M, "cmethod__entry": M, "gc__mark__begin": GC,
                               "gc__sweep__begin": GC, "object__create": NEW,
                               "hash__create": NEW, "string__create": NEW,
                               "array__create": NEW, "require__entry": CL,
                               "load__entry": CL, "raise": EX}),
    "tcl": (("tclsh", "wish"), {"proc__entry": M, "obj__create": NEW}),
}


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__)
    p.add_argument("-l", "--language", choices=sorted(LANGS),
                   help="language to trace (default: all languages)")
    p.add_argument("-C", "--noclear", action="store_true", help="don't clear the screen")
    p.add_argument("-S", "--sort", choices=sorted(COLUMNS),
                   help="sort by this field (descending order)")
    p.add_argument("-r", "--maxrows", default=20, type=_cli.positive_int,
                   help="maximum rows to print, default 20")
    p.add_argument("-d", "--debug", action="store_true",
                   help="print the processes and probes attached to")
    _cli.interval_count(p, interval_default=1)
    _jsonl.add_args(p)
    return p.parse_args(argv)


F = _jsonl.Field
JSON = _jsonl.Intervals("one object per interval: events per process in the interval", fields=[
    F("interval_s", "integer", "the interval", "s"), _jsonl.LOADAVG,
], rows=[
    F("pid", "integer", "process ID"),
    F("language", "string", "the runtime (java, node, perl, php, python, ruby, tcl)"),
    F("cmdline", "string", "its command line, arguments joined by spaces"),
    *(F(c, "integer", f"{c} events in the interval (not per second)") for c in COLUMNS),
])


def _name_rx(names) -> re.Pattern:
    return re.compile("^(?:%s)[0-9.]*$" % "|".join(map(re.escape, names)))


def find_targets(langs, raw: bool = False) -> dict:
    """{pid: (language, command line)} of the processes whose name is one of
    the languages' process names (not this one: ustat is a Python process);
    raw: the command line exact (for --json), not with U+FFFD for bytes that
    are not UTF-8."""
    rxs = [(lang, _name_rx(LANGS[lang][0])) for lang in langs]
    out = {}
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        pid = int(entry)
        try:
            with open(f"/proc/{pid}/comm") as f:
                comm = f.read().strip()
            lang = next((lang for lang, rx in rxs if rx.match(comm)), None)
            if lang is None:
                continue
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().rstrip(b"\0").replace(b"\0", b" ") if raw else \
                    f.read().replace(b"\0", b" ")
                cmd = cmd.decode("utf-8", "surrogateescape" if raw else "replace")
        except OSError:
            continue            # gone meanwhile
        out[pid] = (lang, cmd)
    return out


class Attacher:
    """Attaches the counting program to the probes of a process; each
    binary's probes are read once."""

    def __init__(self, obj, multi: bool):
        self.multi = multi
        self.prog = obj.programs["count_uprobe" if multi else "count_usdt"]
        self.notes = {}

    def probes(self, path: str) -> list:
        from corebpf.user import usdt
        from corebpf.symbols.elf import ElfError
        found = self.notes.get(path)
        if found is None:
            try:
                found = self.notes[path] = usdt.probes(path)
            except ElfError:
                found = self.notes[path] = []
        return found

    def attach(self, pid: int, lang: str) -> list:
        """Links of `lang`'s probes in process `pid`, each with its column as
        cookie; [] when it has none (a runtime built without them)."""
        from corebpf.user import usdt
        from corebpf.symbols.elf import ElfError, process_binaries
        wanted = LANGS[lang][1]
        links = []
        try:
            paths = process_binaries(pid)
        except ElfError:
            return links            # gone
        for path in paths:
            for p in self.probes(path):
                if p.name not in wanted:
                    continue
                try:
                    if not self.multi:
                        links.append(usdt.attach_probe(self.prog, p, pid, cookie=wanted[p.name]))
                        continue
                    for loc in p.locations:
                        if loc.offset is not None:
                            links.append(self.prog.attach_uprobe(
                                p.path, offset=loc.offset, pid=pid, cookie=wanted[p.name],
                                ref_ctr_offset=p.semaphore_offset or 0))
                except corebpf.BPFError:
                    continue        # the process went away, or its probe cannot be attached
        return links


def ordered(rows, targets, sort=None, maxrows=20) -> list:
    """[(pid, [6 counts])] of the table, in its order."""
    items = [(pid, rows.get(pid, [0] * 6)) for pid in targets]
    if sort:
        col = COLUMNS.index(sort)
        items.sort(key=lambda kv: -kv[1][col])
    else:
        items.sort(key=lambda kv: kv[0])
    return items[:maxrows]


def json_rows(rows, targets, sort=None, maxrows=20) -> list:
    return [{"pid": pid, "language": targets[pid][0], "cmdline": targets[pid][1],
             **{col: int(c[i]) for i, col in enumerate(COLUMNS)}}
            for pid, c in ordered(rows, targets, sort, maxrows)]


def report(rows, targets, interval: int, sort=None, maxrows=20) -> list:
    """bcc's table lines: rows {pid: [6 counts]}, targets {pid: (lang, cmdline)}."""
    lines = ["%-6s %-20s %-10s %-6s %-10s %-8s %-6s %-6s" % (
        "PID", "CMDLINE", "METHOD/s", "GC/s", "OBJNEW/s", "CLOAD/s", "EXC/s", "THR/s")]
    for pid, c in ordered(rows, targets, sort, maxrows):
        rates = (int(c[i] / interval) for i in (M, GC, NEW, CL, EX, TH))
        lines.append("%-6d %-20s %-10d %-6d %-10d %-8d %-6d %-6d" % (
            pid, _cli.printable(targets[pid][1][:20], ""), *rates))
    return lines


def run(argv=None):
    a = parse(argv)
    _cli.setup(a)
    langs = [a.language] if a.language else list(LANGS)
    from corebpf.core import umulti
    multi = umulti.available() and not os.environ.get("COREBPF_NO_UPROBE_MULTI")
    with corebpf.Object.open(PROG) as obj:
        obj.programs["count_uprobe"].autoload = multi
        obj.programs["count_usdt"].autoload = not multi
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        obj.load()
        counts = obj.maps["counts"]
        attacher = Attacher(obj, multi)
        attached = {}                       # pid -> links

        def rescan():
            targets = find_targets(langs, a.json)
            for pid in [p for p in attached if p not in targets]:
                for link in attached.pop(pid):
                    link.destroy()
                    obj.links.remove(link)
            for pid, (lang, _) in targets.items():
                if pid not in attached:
                    attached[pid] = attacher.attach(pid, lang)
                    if a.debug:
                        sys.stderr.write("attached to %s process %d: %d probes\n"
                                         % (lang, pid, len(attached[pid])))
            return targets

        targets = rescan()
        _jsonl.status(a, "Tracing... Output every %d secs. Hit Ctrl-C to end" % a.interval)
        remaining = a.count
        while True:
            stop = _cli.wait_stop(a.interval)
            rows = {k: list(v.events) for k, v in counts.pop_items()}
            rows = {p: r for p, r in rows.items() if p in targets}
            if a.json:
                JSON.write(json_rows(rows, targets, a.sort, a.maxrows), interval_s=a.interval,
                           loadavg=_cli.loadavg())
            else:
                if a.noclear:
                    print()
                else:
                    _cli.clear_screen()
                out = [_cli.loadavg_line()]
                out += report(rows, targets, a.interval, a.sort, a.maxrows)
                print("\n".join(out), flush=True)
            remaining -= 1
            if stop or remaining == 0:
                _jsonl.status(a, "Detaching...")
                return 0
            targets = rescan()


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
