"""perf events: open sampling events and attach BPF programs to them.

    links = perf.attach_sampling(obj.programs["do_sample"], freq=49)

opens one sampling event per online CPU (or the CPUs given), attaches the
program to each and returns the links.  The links belong to the program's
Object, and each link owns its perf event fd: `obj.close()` disables the
events and closes every fd.  With `hardware=True` the CPU-cycles counter is
tried first; machines without a hardware PMU (most VMs) fall back to the
software cpu-clock event, as bcc's profile does.
"""
from __future__ import annotations

import errno
import os


from ._libbpf import ffi, libc
from .errors import AttachError

# uapi/linux/perf_event.h
TYPE_HARDWARE, TYPE_SOFTWARE = 0, 1
COUNT_HW_CPU_CYCLES = 0
COUNT_SW_CPU_CLOCK = 0
FLAG_FD_CLOEXEC = 1 << 3
_FREQ_BIT = 1 << 10                 # perf_event_attr.freq

# __NR_perf_event_open per machine (no libc wrapper exists).
_NR = {"x86_64": 298, "aarch64": 241, "arm64": 241, "riscv64": 241, "loongarch64": 241,
       "s390x": 331, "ppc64le": 319, "ppc64": 319, "i686": 336, "i386": 336,
       "armv7l": 364}

EVENT_NAMES = {(TYPE_HARDWARE, COUNT_HW_CPU_CYCLES): "cycles",
               (TYPE_SOFTWARE, COUNT_SW_CPU_CLOCK): "cpu-clock"}


def _syscall_nr() -> int:
    m = os.uname().machine
    if m not in _NR:
        raise AttachError(errno.ENOSYS, "perf_event_open",
                          message=f"perf_event_open syscall number unknown on {m}")
    return _NR[m]


def max_sample_rate():
    """kernel.perf_event_max_sample_rate (Hz), or None if unreadable."""
    try:
        with open("/proc/sys/kernel/perf_event_max_sample_rate") as f:
            return int(f.read())
    except (OSError, ValueError):
        return None


def perf_event_open(type_: int, config: int, cpu: int = -1, pid: int = -1,
                    freq: int = 0, period: int = 0, config1: int = 0, config2: int = 0,
                    what: str = None) -> int:
    """Open a perf event; return its fd (close it, or hand it to a link).

    freq (Hz) or period (events per sample) selects the sampling mode.
    config1/config2: the PMU's extra config words (kprobe/uprobe PMUs: the
    function name or path pointer and the offset); `what` names the event
    in errors.  Raises AttachError with errno (ENOENT: no such event here,
    e.g. no hardware PMU; ESRCH: no such pid; EINVAL: bad frequency or CPU).
    """
    attr = ffi.new("struct perf_event_attr *")
    attr.type = type_
    attr.size = ffi.sizeof("struct perf_event_attr")
    attr.config = config
    attr.config1 = config1
    attr.config2 = config2
    if freq:
        attr.sample_period_or_freq = freq
        attr.flags = _FREQ_BIT
    else:
        attr.sample_period_or_freq = period or 1
    fd = libc.syscall(ffi.cast("long", _syscall_nr()), attr, ffi.cast("int", pid),
                      ffi.cast("int", cpu), ffi.cast("int", -1),
                      ffi.cast("unsigned long", FLAG_FD_CLOEXEC))
    if fd < 0:
        err = ffi.errno or errno.EINVAL
        name = what or EVENT_NAMES.get((type_, config), f"type {type_} config {config}")
        where = f"{name} on CPU {cpu}" if cpu >= 0 else name
        if pid >= 0:
            where += f" for PID {pid}"
        hint = None
        if err == errno.EINVAL and freq and (max_sample_rate() or freq) < freq:
            hint = f"frequency above kernel.perf_event_max_sample_rate ({max_sample_rate()})"
        elif err == errno.ENOENT and type_ == TYPE_HARDWARE:
            hint = "no hardware PMU"
        raise AttachError(err, "perf_event_open", where, hint=hint)
    return int(fd)


def attach_sampling(program, freq: int = 0, period: int = 0, cpus=None, pid: int = -1,
                    hardware: bool = False) -> list:
    """Attach `program` (SEC("perf_event")) to a sampling event on each CPU.

    cpus: CPU numbers (default: every online CPU); pid: sample only this
    thread (default: everything on those CPUs).  hardware=True tries the
    CPU-cycles counter first and falls back to software cpu-clock if the
    machine has none.  Returns the links (owned by the program's Object;
    `links[0].target` names the event used).  Raises AttachError.
    """
    from . import features
    if not freq and not period:
        raise ValueError("attach_sampling needs freq or period")
    cpus = list(features.online_cpus() if cpus is None else cpus)
    events = [(TYPE_SOFTWARE, COUNT_SW_CPU_CLOCK)]
    if hardware:
        events.insert(0, (TYPE_HARDWARE, COUNT_HW_CPU_CYCLES))
    links = []
    try:
        for i, (type_, config) in enumerate(events):
            try:
                fds = [perf_event_open(type_, config, cpu, pid, freq, period) for cpu in cpus[:1]]
            except AttachError as e:
                if i + 1 < len(events) and e.errno in (errno.ENOENT, errno.EOPNOTSUPP,
                                                       errno.ENODEV):
                    continue
                raise
            name = EVENT_NAMES[(type_, config)]
            for n, cpu in enumerate(cpus):
                fd = fds[0] if n == 0 else perf_event_open(type_, config, cpu, pid, freq, period)
                try:
                    link = program.attach_perf_event(fd)
                except BaseException:
                    os.close(fd)
                    raise
                link.target = f"{name} cpu {cpu}" + (f" pid {pid}" if pid >= 0 else "")
                links.append(link)
            return links
    except BaseException:
        for link in links:
            link.destroy()
            if link in program._obj.links:
                program._obj.links.remove(link)
        raise
    return links


def can_sample() -> bool:
    """True if a software cpu-clock sampling event opens here (what profile,
    runqlen and the sampling multitools use; closed at once).  False without
    CAP_PERFMON when kernel.perf_event_paranoid forbids it."""
    from . import features
    try:
        cpu = next(iter(features.online_cpus()), 0)
        os.close(perf_event_open(TYPE_SOFTWARE, COUNT_SW_CPU_CLOCK, cpu=cpu, freq=99))
    except AttachError:
        return False
    return True
