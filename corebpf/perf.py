"""Software perf events as attach points: timed sampling on every CPU.

    links = perf.attach_cpu_clock(obj.programs["sample"], freq=99)

`attach_cpu_clock` opens one software `cpu-clock` perf event per online CPU
(kernels with no hardware PMU, virtual machines among them, still have it)
and attaches a `SEC("perf_event")` program to each; the program then runs in
the context of whatever task the timer interrupted.  Each link is owned by
the program's Object (closing the Object detaches and closes the events);
each link owns its perf event fd.
"""
from __future__ import annotations

import errno
import os
import platform
import struct

from . import features
from ._libbpf import ffi, libc
from .errors import AttachError, MissingFeature

PERF_TYPE_SOFTWARE = 1
PERF_COUNT_SW_CPU_CLOCK = 0
PERF_FLAG_FD_CLOEXEC = 1 << 3
_ATTR_FREQ = 1 << 10            # perf_event_attr bit field: sample_freq, not period
_ATTR_SIZE = 128                # PERF_ATTR_SIZE_VER7: accepted by 5.x+ kernels
# perf_event_open(2) has no libc wrapper.
_SYSCALL_NR = {"x86_64": 298, "aarch64": 241, "arm64": 241, "riscv64": 241,
               "ppc64le": 319, "s390x": 331, "i686": 336, "armv7l": 364}


def _attr(ev_type: int, config: int, sample: int, freq: bool) -> bytearray:
    """A struct perf_event_attr: type, size, config, sample_period|freq, ..., flags."""
    buf = bytearray(_ATTR_SIZE)
    struct.pack_into("<IIQQQQQ", buf, 0, ev_type, _ATTR_SIZE, config, sample, 0, 0,
                     _ATTR_FREQ if freq else 0)
    return buf


def perf_event_open(attr: bytearray, pid: int = -1, cpu: int = -1, group_fd: int = -1,
                    flags: int = PERF_FLAG_FD_CLOEXEC) -> int:
    """Return a perf event fd; raise OSError with the kernel's errno."""
    nr = _SYSCALL_NR.get(platform.machine())
    if nr is None:
        raise OSError(errno.ENOSYS, f"perf_event_open: unknown syscall number on "
                                    f"{platform.machine()}")
    fd = libc.syscall(ffi.cast("long", nr), ffi.cast("void *", ffi.from_buffer(attr)),
                      ffi.cast("int", pid), ffi.cast("int", cpu), ffi.cast("int", group_fd),
                      ffi.cast("unsigned long", flags))
    if fd < 0:
        err = ffi.errno
        raise OSError(err, os.strerror(err))
    return int(fd)


def open_cpu_clock(cpu: int, freq: int = None, period: int = None, pid: int = -1) -> int:
    """Open a cpu-clock sampling event on `cpu`, `freq` samples/s or every `period` ns."""
    if (freq is None) == (period is None):
        raise ValueError("give exactly one of freq and period")
    attr = _attr(PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CPU_CLOCK,
                 freq if freq is not None else period, freq is not None)
    return perf_event_open(attr, pid=pid, cpu=cpu)


def attach_cpu_clock(program, freq: int = None, period: int = None, cpus=None) -> list:
    """Attach `program` (a SEC("perf_event") Program of a loaded Object) to a
    cpu-clock sampling event on each CPU in `cpus` (default: every online CPU).

    Returns the links (also kept by the Object).  Raises MissingFeature when
    the kernel has no software perf events, AttachError otherwise.
    """
    if freq is None and period is None:
        freq = 49
    links = []
    for cpu in (features.online_cpus() if cpus is None else cpus):
        try:
            fd = open_cpu_clock(cpu, freq=freq, period=period)
        except OSError as e:
            if e.errno == errno.ENODEV and cpus is None:
                continue            # went offline since we looked
            if e.errno in (errno.ENOENT, errno.EOPNOTSUPP, errno.ENOSYS):
                raise MissingFeature("software perf events (cpu-clock sampling; "
                                     f"perf_event_open: {e.strerror})") from None
            raise AttachError(e.errno, "perf_event_open", f"cpu-clock on CPU {cpu}") from None
        owned = len(program._obj.links)
        try:
            links.append(program.attach_perf_event(fd))
        except BaseException:
            if len(program._obj.links) == owned:
                os.close(fd)        # no link took ownership of it
            raise
    return links
