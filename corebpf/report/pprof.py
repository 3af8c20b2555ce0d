"""Profiles in pprof's format (gzipped profile.proto), for `go tool pprof`,
Grafana Pyroscope and Parca.

The schema is google/pprof's proto/profile.proto (in proto/ beside this
file); `profile_pb2.py` is protoc's output for it, checked in (generated
by protoc 3.21.12: `cd corebpf/report/proto && protoc --python_out=..
profile.proto`).  Checked in rather than compiled at build time so that
neither building the wheel nor installing it needs protoc; that generated
code is the serialized schema plus builder calls, and works with every
protobuf runtime from 3.20 to 7.x (tests/unit/test_report.py round-trips
through the installed one).  Only this module imports protobuf, when a
profile is written: `pip install 'corebpf[pprof]'`.
"""
from __future__ import annotations

import gzip
import time

from . import KERNEL, PROCESS


class PprofUnavailable(RuntimeError):
    pass


def _module():
    try:
        from . import profile_pb2
    except ImportError as e:
        raise PprofUnavailable("--pprof needs the protobuf package "
                               "(pip install 'corebpf[pprof]', or Debian's python3-protobuf)"
                               ) from e
    return profile_pb2


def build(stacks, sample_type: str = "samples", unit: str = "count",
          period_type: tuple = None, period: int = 0, duration_ns: int = 0,
          start_ns: int = None, comment: str = ""):
    """A profile_pb2.Profile of [(frames root->leaf [(name, kind)], value)]:
    one Sample per stack (locations leaf first, as pprof wants), one
    Location and Function per distinct (name, kind); kernel frames carry
    the [kernel] file name, the task name at the root is a pprof label
    ("comm") rather than a frame."""
    pb = _module()
    prof = pb.Profile()
    strings = {"": 0}
    prof.string_table.append("")

    def s(text: str) -> int:
        i = strings.get(text)
        if i is None:
            i = strings[text] = len(prof.string_table)
            prof.string_table.append(text)
        return i

    prof.sample_type.add(type=s(sample_type), unit=s(unit))
    if period_type:
        prof.period_type.type = s(period_type[0])
        prof.period_type.unit = s(period_type[1])
        prof.period = period
    prof.time_nanos = start_ns if start_ns is not None else time.time_ns()
    prof.duration_nanos = duration_ns
    if comment:
        prof.comment.append(s(comment))
    # One mapping for every location, marked symbolized: pprof then neither
    # looks for the binaries nor tries to symbolize the addresses itself.
    prof.mapping.add(id=1, filename=s("[corebpf]"), has_functions=True)
    locations = {}
    comm_key = s("comm")
    for frames, value in stacks:
        if value <= 0:
            continue
        ids = []
        comm = None
        for name, kind in frames:
            if kind == PROCESS:
                comm = name
                continue
            key = (name, kind)
            loc = locations.get(key)
            if loc is None:
                loc = len(locations) + 1
                locations[key] = loc
                prof.function.add(id=loc, name=s(name), system_name=s(name),
                                  filename=s("[kernel]" if kind == KERNEL else ""))
                prof.location.add(id=loc, mapping_id=1).line.add(function_id=loc)
            ids.append(loc)
        sample = prof.sample.add(location_id=list(reversed(ids)), value=[int(value)])
        if comm is not None:
            sample.label.add(key=comm_key, str=s(comm))
    return prof


def encode(stacks, **kw) -> bytes:
    """The gzipped serialized profile (what `go tool pprof` reads)."""
    return gzip.compress(build(stacks, **kw).SerializeToString())


def decode(data: bytes):
    """A profile_pb2.Profile from (gzipped or plain) serialized bytes."""
    pb = _module()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return pb.Profile.FromString(data)
