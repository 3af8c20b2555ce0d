"""One exception tree for corebpf; the only place that turns errno into errors.

Every error carries the libbpf call, the object/program/map it concerned,
the libbpf log lines captured during the call and a hint, so a tool can print
a single useful line and a developer can still see the verifier log.
"""
from __future__ import annotations

import errno as _errno
import os

from . import _log

_HINTS = {
    _errno.EPERM: "run as root (or with CAP_BPF and CAP_PERFMON)",
    _errno.EACCES: "run as root (or with CAP_BPF and CAP_PERFMON)",
}


class BPFError(OSError):
    """A libbpf or kernel operation failed.

    Attributes: errno, call (libbpf function), target (program/map/object
    name), log (libbpf log lines captured during the call), hint.
    """

    def __init__(self, err: int, call: str, target: str = "", message: str = "",
                 log=None, hint: str = None):
        err = abs(err) if err else 0
        super().__init__(err, message or (os.strerror(err) if err else "failed"))
        self.call = call
        self.target = target
        self.log = list(log or [])
        self.hint = _HINTS.get(err, "") if hint is None else hint

    def __str__(self):
        where = f"{self.target}: " if self.target else ""
        text = f"{where}{self.call}: {self.strerror}"
        if self.hint:
            text += f" ({self.hint})"
        return text

    def log_tail(self, lines: int = 20) -> str:
        """Return the last `lines` lines of the captured libbpf log."""
        return "\n".join(self.log[-lines:])


class LoadError(BPFError):
    """A program failed to load; `log` holds the verifier log."""

    def __str__(self):
        base = super().__str__()
        # Point at the verifier's last words: usually the reason.
        reason = _verifier_reason(self.log)
        return f"{base}: {reason}" if reason else base


class AttachError(BPFError):
    """A program could not be attached to its hook."""


class MapError(BPFError):
    """A map operation failed."""


class MissingFeature(BPFError):
    """The running kernel lacks something a tool needs; message names it."""

    def __init__(self, feature: str, detail: str = ""):
        super().__init__(_errno.EOPNOTSUPP, "feature", message=feature)
        self.feature = feature
        self.detail = detail

    def __str__(self):
        return self.feature + (f" ({self.detail})" if self.detail else "")


class NoAccess(BPFError):
    """Something exists but this process may not use it (tracefs mode 0700 for
    a user with capabilities, a missing capability); message names the fix."""

    def __init__(self, message: str, err: int = _errno.EACCES):
        super().__init__(err, "access", message=message, hint="")

    def __str__(self):
        return self.strerror


class ConfigError(BPFError):
    """Bad use of the library: unknown program, map or config variable."""

    def __init__(self, message: str):
        super().__init__(_errno.EINVAL, "config", message=message)

    def __str__(self):
        return self.strerror


class LibbpfError(BPFError):
    """libbpf itself is missing or too old."""

    def __init__(self, message: str):
        super().__init__(_errno.ENOSYS, "libbpf", message=message)

    def __str__(self):
        return self.strerror


def _verifier_reason(log) -> str:
    """The most telling line of a failed load's log."""
    lines = [ln.strip() for ln in log if ln.strip()]
    for ln in reversed(lines):
        low = ln.lower()
        if ln.startswith("libbpf:") and ("failed to" in low or "error" in low) \
                and "BEGIN" not in ln and "END" not in ln:
            continue
        if "processed" in low and "insns" in low:
            continue
        if ln.startswith("--") or ln.startswith("libbpf: prog"):
            continue
        if "verification time" in low or "stack depth" in low:
            continue
        return ln[:200]
    return ""


def check_ptr(ptr, call: str, target: str = "", cls=BPFError):
    """Return ptr, or raise cls with errno (libbpf 1.x: NULL + errno)."""
    from ._libbpf import ffi
    if ptr == ffi.NULL:
        err = ffi.errno or _errno.EINVAL
        raise cls(err, call, target, log=_log.take())
    return ptr


def check_int(ret: int, call: str, target: str = "", cls=BPFError) -> int:
    """Return ret, or raise cls for a negative libbpf return (-errno)."""
    if ret < 0:
        raise cls(-ret, call, target, log=_log.take())
    return ret
