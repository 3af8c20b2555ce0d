"""Load-only runs (`corebpf doctor`): a tool's own code parses its options,
picks its probe variants and loads its programs into the kernel, and stops
where it would attach, so the answer to "does this tool run here, and how"
is the tool's own, with nothing attached.

    with loadonly.enabled():
        try:
            tool.main(argv)
        except loadonly.Loaded as e:
            e.name, e.kinds, e.variant      # what was loaded

`Loaded` is a BaseException: a tool's error handling (BPFError, Exception)
lets it through, and the tool's `with Object...` blocks close what it opened.
"""
from __future__ import annotations

_on = False


class Loaded(BaseException):
    """Raised, in a load-only run, where a tool would attach."""

    def __init__(self, name: str, kinds, variant: str = None):
        super().__init__(name)
        self.name = name
        self.kinds = list(kinds)
        self.variant = variant


class enabled:
    """Context manager: load-only runs while inside."""

    def __enter__(self):
        global _on
        self._prev, _on = _on, True
        return self

    def __exit__(self, *exc):
        global _on
        _on = self._prev
        return False


def active() -> bool:
    return _on


def stop(name: str, kinds, variant: str = None):
    """Raise Loaded(...) in a load-only run (called after a load, before any attach)."""
    if _on:
        raise Loaded(name, kinds, variant)
