"""What the block I/O tools share on the Python side: disk names from
/proc/diskstats keyed like the BPF side's device numbers, the -d/--disk
lookup, and attaching the request-tracking programs of bpf_src/blkreq.bpf.h."""
from __future__ import annotations

MINORBITS = 20          # the kernel's internal dev_t: major << 20 | minor


def mkdev(major: int, minor: int) -> int:
    return (major << MINORBITS) | minor


def disks() -> dict:
    """{dev (major << 20 | minor): name} from /proc/diskstats."""
    out = {}
    try:
        with open("/proc/diskstats") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 3:
                    out[mkdev(int(parts[0]), int(parts[1]))] = parts[2]
    except OSError:
        pass
    return out


class DiskNames:
    """dev -> disk name, re-reading /proc/diskstats when a new device shows up."""

    def __init__(self):
        self.names = disks()
        self._reread = set()

    def get(self, dev: int, default=None):
        name = self.names.get(dev)
        if name is None and dev not in self._reread:
            self._reread.add(dev)
            self.names = disks()
            name = self.names.get(dev)
        return default if name is None else name


def disk_dev(name: str, names: dict = None) -> int:
    """The device number of disk `name` (as in /proc/diskstats); UsageError if none."""
    from . import _cli
    for dev, n in (names if names is not None else disks()).items():
        if n == name:
            return dev
    raise _cli.UsageError(f"no such disk {name!r}")


# kprobe variant of blkreq.bpf.h: the accounting functions were renamed over
# time (and are inlined on some kernels), so they are attached by name here.
KPROBE_TARGETS = {
    "issuer__kprobe": ("__blk_account_io_start", "blk_account_io_start"),
    "start__kprobe": ("blk_mq_start_request",),
    "done__kprobe": ("__blk_account_io_done", "blk_account_io_done"),
}


def attach_requests(obj):
    """Attach the chosen variant of the request-tracking programs."""
    if obj.variant != "kprobe":
        obj.attach()
        return
    from . import _cli
    for name, candidates in KPROBE_TARGETS.items():
        if obj.programs[name].autoload:
            _cli.attach_kprobe_any(obj.programs[name], candidates)
    rest = [p.name for p in obj.programs.values()
            if p.autoload and p.name not in KPROBE_TARGETS and p.kind != "perf_event"]
    if rest:
        obj.attach(*rest)

