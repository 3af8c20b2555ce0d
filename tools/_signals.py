"""What the signal tools (killsnoop, sigsnoop) share: the -s LIST argument
type and the in-kernel signal filter of bpf_src/signals.bpf.h."""
from __future__ import annotations

import argparse

MAX_SIGNAL = 64


def signal_list(text: str) -> frozenset:
    """argparse type: a comma-separated list of signal numbers (0..64)."""
    out = set()
    for part in text.split(","):
        part = part.strip()
        try:
            sig = int(part)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid signal: {part!r}") from None
        if sig < 0 or sig > MAX_SIGNAL:
            raise argparse.ArgumentTypeError(f"invalid signal: {part} (0..{MAX_SIGNAL})")
        out.add(sig)
    return frozenset(out)


signal_list.lo, signal_list.hi = 0, MAX_SIGNAL    # see tools/_cli.py, "numbers"


def set_filter(obj, signals):
    """Configure the object's signal filter (None or empty: every signal)."""
    if not signals:
        return
    lo = hi = 0
    for sig in signals:
        if sig < 64:
            lo |= 1 << sig
        else:
            hi |= 1 << (sig - 64)
    obj.rodata.targ_sig_filter = True
    obj.rodata.targ_sigs_lo = lo
    obj.rodata.targ_sigs_hi = hi
