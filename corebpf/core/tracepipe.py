"""bpf_trace_printk() / bpf_printk() output, read from the kernel's trace_pipe
as bcc's BPF.trace_readline(), trace_fields() and trace_print() read it.

trace_pipe is one pipe for the whole machine: every program's printk lines
arrive there, and a line read by one reader is gone for the others.  It
suits hello-world programs and debugging; tools send records through ring
buffers (Object.ring_buffer) instead.
"""
from __future__ import annotations

import collections
import os
import re

from . import features

TraceFields = collections.namedtuple("TraceFields", "task pid cpu flags ts msg")
TraceFields.__doc__ = ("One trace_pipe line: task (comm), pid, cpu, flags (irq/preempt "
                       "state), ts (seconds since boot), msg (the printk text).")

# "           <...>-1234    [001] d..31  1234.567890: bpf_trace_printk: text"
# (a "(  1234)" tgid column appears with the record-tgid trace option)
_LINE = re.compile(r"^\s*(.*?)-(\d+)\s+(?:\(\s*[-\d]+\)\s+)?\[(\d+)\]\s+(\S+)\s+"
                   r"(\d+\.\d+):\s+[^:]*:\s?(.*)$")


class _Pipe:
    fd = -1
    buf = b""


def _fd() -> int:
    if _Pipe.fd < 0:
        _Pipe.fd = os.open(os.path.join(features.tracefs(), "trace_pipe"),
                           os.O_RDONLY | os.O_CLOEXEC)
    return _Pipe.fd


def trace_readline(nonblocking: bool = False):
    """The next line of trace_pipe (str, no newline); with nonblocking=True, None
    when no line is ready.  Raises MissingFeature without tracefs."""
    fd = _fd()
    os.set_blocking(fd, not nonblocking)
    while b"\n" not in _Pipe.buf:
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            return None
        if not chunk:
            return None
        _Pipe.buf += chunk
    line, _, _Pipe.buf = _Pipe.buf.partition(b"\n")
    return line.decode("utf-8", "replace")


def parse_trace_line(line: str):
    """A TraceFields from one trace_pipe line, or None for lines that are not
    events (such as "CPU:1 [LOST 3 EVENTS]")."""
    m = _LINE.match(line)
    if m is None:
        return None
    task, pid, cpu, flags, ts, msg = m.groups()
    return TraceFields(task, int(pid), int(cpu), flags, float(ts), msg)


def trace_fields(nonblocking: bool = False):
    """The next trace_pipe event as TraceFields(task, pid, cpu, flags, ts, msg)
    (bcc's trace_fields(), with str instead of bytes); None only with
    nonblocking=True when nothing is ready.  Lines that are not events are
    skipped."""
    while True:
        line = trace_readline(nonblocking)
        if line is None:
            return None
        f = parse_trace_line(line)
        if f is not None:
            return f


def trace_print(fmt: str = None, file=None):
    """Print trace_pipe lines until interrupted (bcc's trace_print()): as they
    are, or formatted with fmt.format(*fields), e.g. "{1} {5}" for pid and
    message.  Writes to `file` (default sys.stdout), flushing each line."""
    import sys
    out = file or sys.stdout
    while True:
        if fmt is None:
            line = trace_readline()
        else:
            f = trace_fields()
            line = fmt.format(*f)
        out.write(line + "\n")
        out.flush()
