"""Which capabilities each kind of probe needs, and which this process has.

What each path needs (kernel 5.8+, where CAP_BPF and CAP_PERFMON exist):
  loading programs, maps, ring/perf buffers  CAP_BPF (+ CAP_PERFMON for tracing programs)
  tp_btf, raw_tp, fentry, perf_event, kprobe  CAP_BPF + CAP_PERFMON
  classic tracepoints                         + reading tracefs (mode 0700, root): root or
                                                CAP_DAC_READ_SEARCH; mounting it: CAP_SYS_ADMIN
  uprobes, USDT                               CAP_SYS_ADMIN (the kernel requires it since
                                                uprobes write into the traced process)
  kernel symbols (/proc/kallsyms addresses)   CAP_SYSLOG (kptr_restrict)
  other users' /proc/PID/maps, mem, map_files CAP_SYS_PTRACE / CAP_SYS_ADMIN (symbols)

README "Privileges" says the same for users.
"""
from __future__ import annotations

CAP_DAC_READ_SEARCH, CAP_SYS_ADMIN, CAP_PERFMON, CAP_BPF = 2, 21, 38, 39


def effective_caps():
    """This process's effective capability mask, or None if /proc cannot say."""
    try:
        with open("/proc/self/status", "rb") as f:
            for line in f:
                if line.startswith(b"CapEff:"):
                    return int(line.split()[1], 16)
    except (OSError, ValueError, IndexError):
        pass
    return None


def has_cap(cap: int) -> bool:
    eff = effective_caps()
    return eff is None or bool(eff >> cap & 1)


def capability_hint(kind: str = None) -> str:
    """What to change when the kernel refused a `kind` probe with EPERM/EACCES."""
    if kind in ("uprobe", "usdt"):
        return "" if has_cap(CAP_SYS_ADMIN) else "uprobes need CAP_SYS_ADMIN: run as root"
    if has_cap(CAP_SYS_ADMIN) or (has_cap(CAP_BPF) and has_cap(CAP_PERFMON)):
        return ""
    return "run as root (or with CAP_BPF and CAP_PERFMON)"
