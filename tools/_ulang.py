"""What the language tools (ucalls, uflow, ugc, uobjnew, uthreads) share:
detecting a process's runtime the way bcc does, each runtime's USDT method
probes, and attaching to a process's probes with bcc's advice on failure."""
from __future__ import annotations

import os

from corebpf.user import usdt
from corebpf.symbols.elf import ElfError

# bcc's detection order (bcc_procutils_language)
LANGUAGES = ("java", "node", "perl", "php", "python", "ruby")

# Method probes per runtime: entry probes, return probes, and the 0-based
# probe arguments holding the class (or file) name and the method name, each
# as (pointer arg, length arg or None).  Python 3.11 as Debian builds it fires
# function__entry only for frames entered from C (a handful), while
# function__return fires for every Python function, so counts come from the
# return probe there ("count_returns").
METHODS = {
    "java": dict(entry=("method__entry",), ret=("method__return",),
                 clazz=(1, 2), method=(3, 4),
                 extra="If you do not see any results, make sure you ran java with option "
                       "-XX:+ExtendedDTraceProbes"),
    "perl": dict(entry=("sub__entry",), ret=("sub__return",), clazz=(1, None), method=(0, None)),
    "php": dict(entry=("function__entry",), ret=("function__return",),
                clazz=(3, None), method=(0, None),
                extra="If you do not see any results, make sure the environment variable "
                      "USE_ZEND_DTRACE is set to 1"),
    "python": dict(entry=("function__entry",), ret=("function__return",),
                   clazz=(0, None), method=(1, None), count_returns=True),
    "ruby": dict(entry=("method__entry", "cmethod__entry"),
                 ret=("method__return", "cmethod__return"), clazz=(0, None), method=(1, None)),
    "tcl": dict(entry=("proc__entry",), ret=("proc__return",), clazz=(None, None),
                method=(0, None)),
}

class NoProbes(ElfError):
    """The process lacks the probes a language needs."""


def detect_language(candidates, pid: int):
    """bcc's guess: a language name in the executable's path, then a
    `/lib<language>` mapping; 'c' if only libc is mapped; else None."""
    found = None
    try:
        exe = os.path.realpath(f"/proc/{pid}/exe")
    except OSError:
        exe = ""
    for lang in LANGUAGES:
        if lang in exe:
            found = lang
            break
    if found is None:
        libc = False
        try:
            with open(f"/proc/{pid}/maps") as f:
                for line in f:
                    parts = line.split(None, 5)
                    path = parts[5].strip() if len(parts) == 6 else ""
                    for lang in LANGUAGES:
                        if "/lib" + lang in path:
                            found = lang
                            break
                    if found:
                        break
                    i = path.find("libc")
                    if i >= 0 and path[i + 4:i + 5] in ("-", "."):
                        libc = True
        except OSError:
            pass
        if found is None and libc:
            found = "c"
    return found if found in candidates else None


def language(candidates, args) -> str:
    """-l, else the language detected in process args.pid; one-line error
    when there is neither."""
    lang = args.language or detect_language(candidates, args.pid)
    if not lang:
        from . import _cli
        raise _cli.UsageError(f"no language detected in process {args.pid}; "
                              "use -l to name the language to trace")
    return lang


def method_rodata(obj, lang: str):
    """Set the ulang.bpf.h argument numbers for `lang`'s method probes."""
    spec = METHODS[lang]
    c, cl = spec["clazz"]
    m, ml = spec["method"]
    obj.rodata.targ_class_arg = -1 if c is None else c
    obj.rodata.targ_class_len_arg = -1 if cl is None else cl
    obj.rodata.targ_method_arg = -1 if m is None else m
    obj.rodata.targ_method_len_arg = -1 if ml is None else ml


def attach_all(program, names, pid: int, required: bool = True, cookie: int = 0) -> int:
    """Attach `program` to every probe in `names` that process `pid` has;
    return how many.  With `required`, the first name must exist (NoProbes)."""
    n = 0
    for i, name in enumerate(names):
        try:
            p = usdt.find_probe("", name, pid=pid)
        except ElfError as e:
            if "no such process" in str(e):
                raise
            if required and i == 0:
                raise NoProbes(f"process {pid} has no USDT probe {name} (runtime built "
                               "without --with-dtrace/--enable-dtrace? tplist -p "
                               f"{pid} lists its probes)") from None
            continue
        usdt.attach_probe(program, p, pid, cookie)
        n += 1
    return n
