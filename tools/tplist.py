"""List kernel tracepoints, or the USDT probes of a binary or a process
(read from tracefs and from the ELF .note.stapsdt notes; nothing is attached).

examples:
    tplist                          # every kernel tracepoint
    tplist -v 'sched:sched_switch'  # one tracepoint with its fields
    tplist 'block:*'                # the block tracepoints
    tplist -l /usr/bin/python3.11   # USDT probes of a binary (or a library: -l c)
    tplist -p 181 'python:*'        # USDT probes in PID 181's executable and libraries
    tplist -vv -l postgres 'postgresql:query__*'   # locations and argument specs
"""
from __future__ import annotations

import fnmatch
import os
import re

from corebpf import features

from corebpf.user import usdt
from corebpf.symbols.elf import ElfError, resolve_binary

from . import _cli, _jsonl

PROG = "tplist"


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__, short_verbose=False)
    p.add_argument("-p", "--pid", type=_cli.pid_type, help="list the USDT probes of this process")
    p.add_argument("-l", "--lib", default="",
                   help="list the USDT probes of this library or executable")
    p.add_argument("-v", dest="variables", action="count", default=0,
                   help="more detail: fields of tracepoints; -v probe counts, -vv "
                        "locations and arguments of USDT probes")
    p.add_argument("filter", nargs="?",
                   help="wildcard pattern of the tracepoints or probes to list")
    _jsonl.add_args(p)
    return p.parse_args(argv)


F = _jsonl.Field
JSON = _jsonl.Events("one object per tracepoint or USDT probe listed", [
    F("kind", "string", "tracepoint or usdt"),
    F("name", "string", "category:event (tracepoint) or provider:probe (usdt)"),
    F("fields", "string[]", "the tracepoint's fields, 'type name' (tracepoints with -v)",
      optional=True),
    F("path", "string", "the binary holding the probe (usdt)", optional=True),
    F("provider", "string", "the probe's provider (usdt)", optional=True),
    F("probe", "string", "the probe's name (usdt)", optional=True),
    F("semaphore", "string", "the semaphore's address, hex, 0x0 if none (usdt)",
      optional=True),
    F("locations", "string[]", "address of each location, hex (usdt)", optional=True),
    F("arguments", "string[][]", "each location's argument specs (usdt)", optional=True),
])


def _object(**values) -> dict:
    from types import SimpleNamespace
    rec = SimpleNamespace(**{f.name: None for f in JSON.fields[1:]})
    rec.__dict__.update(values)
    return JSON.record(rec)


_FIELD = re.compile(r"field:([^;]*);")


def tracepoint_fields(fmt_text: str) -> list:
    """'    <type> <name>;' lines for a tracepoint format file (bcc's rules)."""
    out = []
    for line in fmt_text.splitlines():
        m = _FIELD.search(line)
        if m is None:
            continue
        parts = m.group(1).split()
        name, typ = parts[-1], " ".join(parts[:-1])
        if "__data_loc" in typ or name.startswith("common_"):
            continue
        out.append("    %s %s;" % (typ, name))
    return out


def list_tracepoints(pattern, verbose: int, emit, json=None):
    root = os.path.join(features.tracefs(), "events")
    for cat in os.listdir(root):
        cdir = os.path.join(root, cat)
        if not os.path.isdir(cdir):
            continue
        for ev in os.listdir(cdir):
            edir = os.path.join(cdir, ev)
            if not os.path.isdir(edir):
                continue
            name = f"{cat}:{ev}"
            if pattern and not fnmatch.fnmatch(name, pattern):
                continue
            fields = []
            if verbose:
                try:
                    with open(os.path.join(edir, "format")) as f:
                        fields = tracepoint_fields(f.read())
                except OSError:
                    pass
            if json:
                fields = [l.strip().rstrip(";") for l in fields] if verbose else None
                json(_object(kind="tracepoint", name=name, fields=fields))
                continue
            emit(name)
            for line in fields:
                emit(line)


def format_probe(p, verbose: int) -> list:
    """tplist's lines for one probe at verbosity 0, 1 or 2."""
    if not verbose:
        return ["%s %s:%s" % (p.path, p.provider, p.name)]
    out = ["%s:%s [sema 0x%x]" % (p.provider, p.name, p.semaphore)]
    if verbose == 1:
        out.append("  %d location(s)" % len(p.locations))
        out.append("  %d argument(s)" % p.num_arguments)
        return out
    for i, loc in enumerate(p.locations, 1):
        out.append("  location #%d %s 0x%x" % (i, p.path, loc.address))
        for j, arg in enumerate(loc.args, 1):
            out.append("    argument #%d %s" % (j, arg))
    return out


def list_usdt(pid, lib: str, pattern, verbose: int, emit, json=None):
    if pid:
        probes = usdt.process_probes(pid)     # none: nothing to list (bcc exits 0 too)
    else:
        path = resolve_binary(lib)
        probes = usdt.probes(path)
        if not probes:
            raise ElfError(f"{path}: no USDT probes (no .note.stapsdt notes)")
    seen = set()
    for p in probes:
        name = f"{p.provider}:{p.name}"
        if pattern and not fnmatch.fnmatch(name, pattern):
            continue
        if name in seen:
            continue
        seen.add(name)
        if json:
            json(_object(kind="usdt", name=name, path=p.path, provider=p.provider,
                         probe=p.name, semaphore=hex(p.semaphore),
                         locations=[hex(l.address) for l in p.locations],
                         arguments=[[str(x) for x in l.args] for l in p.locations]))
            continue
        for line in format_probe(p, verbose):
            emit(_cli.escape(line))         # the binary's notes: another user's text


def run(argv=None):
    a = parse(argv)
    out = _cli.Output(json=a.json)
    json = out.obj if a.json else None
    try:
        if a.pid or a.lib:
            list_usdt(a.pid, a.lib, a.filter, min(a.variables, 2), out, json)
        else:
            list_tracepoints(a.filter, a.variables, out, json)
    finally:
        out.flush()
    return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
