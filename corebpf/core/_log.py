"""libbpf's log: captured through libbpf_set_print and attached to errors.

By default WARN and INFO lines are kept (the last few hundred) and shown
only inside errors; `set_verbose(True)` or COREBPF_DEBUG=1 also asks for
DEBUG lines and prints everything live to stderr.
"""
from __future__ import annotations

import collections
import os
import sys

WARN, INFO, DEBUG = 0, 1, 2
_lines = collections.deque(maxlen=400)
_verbose = bool(os.environ.get("COREBPF_DEBUG"))
_installed = None


_pending = []       # an exception raised inside the callback (Ctrl-C), re-raised later


def _callback_impl(level, fmt, ap):
    try:
        return _format(level, fmt, ap)
    except BaseException as e:          # never let it vanish inside C
        _pending.append(e)
        return 0


def _on_error(_type, exc, _tb):
    # an exception raised before _callback_impl's try ran (Ctrl-C on entry)
    _pending.append(exc)
    return 0


def reraise():
    """Raise an exception that arrived while libbpf was calling back (e.g. Ctrl-C)."""
    if _pending:
        e = _pending.pop()
        _pending.clear()
        raise e


def _format(level, fmt, ap):
    if level == DEBUG and not _verbose:
        # hundreds of these per object (open, CO-RE, load): nothing else
        # here, not even an import statement (~20 us each)
        return 0
    from ._libbpf import ffi, libc
    out = ffi.new("char **")
    n = libc.vasprintf(out, fmt, ap)
    if n < 0:
        return 0
    try:
        text = ffi.string(out[0], n).decode("utf-8", "replace")
    finally:
        libc.free(out[0])
    for line in text.splitlines():
        _lines.append(line)
    if _verbose:
        sys.stderr.write(text if text.endswith("\n") else text + "\n")
    return 0


def install():
    """Route libbpf's log here (once per process)."""
    global _installed
    if _installed is None:
        from ._libbpf import ffi, lib
        _installed = ffi.callback("int(int, const char *, void *)", _callback_impl,
                                  onerror=_on_error)
        lib().libbpf_set_print(_installed)


def set_verbose(on: bool = True):
    """Show libbpf's full log live on stderr."""
    global _verbose
    _verbose = bool(on)


def verbose() -> bool:
    return _verbose


def take() -> list:
    """Return and forget the captured lines."""
    out = [ln for ln in _lines if ln is not None]
    _lines.clear()
    return out


def clear():
    _lines.clear()
