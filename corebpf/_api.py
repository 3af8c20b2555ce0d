"""The public Object and Program: the object model of corebpf.core plus the
attach calls that need symbol tables and USDT notes (corebpf.user), which the
core layer below may not import.

    obj = corebpf.Object.open("strlen_count.bpf.o")
    obj.load()
    obj.programs["count"].attach_uprobe("c:strlen")
    obj.programs["query"].attach_usdt(provider="postgresql", name="query__start", pid=pid)
"""
from __future__ import annotations

import os

from .core import object as _core


class Program(_core.Program):
    __doc__ = _core.Program.__doc__

    def attach_uprobe(self, binary: str, func: str = None, offset: int = 0, pid: int = -1,
                      retprobe: bool = False, cookie: int = 0,
                      ref_ctr_offset: int = 0) -> _core.Link:
        """Attach a SEC("uprobe") program (retprobe=True: uretprobe) to a user function.

        `binary` may be "lib:func" (bcc's name and sym: "c:strlen",
        "/usr/bin/bash:readline"), or give the function as `func`; a library
        is named as bcc names it (c, pthread, a path, an executable on PATH,
        mapped in `pid` first).  offset: bytes into the function, or the file
        offset itself when no function is named.  A GNU indirect function
        (strlen, memcpy...) is probed at the implementation this machine
        uses.  pid > 0 limits it to that process.  Raises ElfError (no such
        library/function/process), AttachError, MissingFeature (no uprobes).
        """
        from .user import uprobes
        if func is None and ":" in binary and not os.path.exists(binary):
            binary, _, func = binary.rpartition(":")
        p = pid if pid and pid > 0 else None
        if func:
            path, off = uprobes.function_site(binary, func, p)
            off += offset
        else:
            path, off = uprobes.resolve(binary, p), offset
        uprobes.require_uprobes()
        link = super().attach_uprobe(path, offset=off, pid=pid if p else -1,
                                     retprobe=retprobe, cookie=cookie,
                                     ref_ctr_offset=ref_ctr_offset)
        link.target = f"{path}:{func or hex(off)}"
        return link

    def attach_uretprobe(self, binary: str, func: str = None, offset: int = 0,
                         pid: int = -1, cookie: int = 0) -> _core.Link:
        """attach_uprobe(..., retprobe=True): runs when the function returns
        (SEC("uretprobe") programs; PT_REGS_RC(ctx) is the return value)."""
        return self.attach_uprobe(binary, func, offset, pid, retprobe=True, cookie=cookie)

    def attach_usdt(self, binary: str = None, provider: str = "", name: str = "",
                    pid: int = -1, cookie: int = 0) -> _core.Link:
        """Attach a SEC("usdt") program to USDT probe provider:name.

        The probe is looked up in `binary` (a path, library or executable, as
        for attach_uprobe) or, without one, in every file mapped into process
        `pid` (bcc's USDT(pid=...)); provider "" matches any provider.  pid > 0
        also limits the probe to that process.  The BPF side reads the
        arguments with bpf_usdt_arg(ctx, i, &val) (0-based; bcc's
        bpf_usdt_readarg(i + 1, ...)).  Raises ElfError (no such process,
        binary or probe), AttachError, MissingFeature (no uprobes; pid -1 on a
        position-independent binary where the kernel has no BPF cookies, 5.15).
        """
        from .user import usdt
        if not name:
            raise usdt.ElfError("attach_usdt needs a probe name", 22)
        probe = usdt.find_probe(provider, name, binary, pid if pid and pid > 0 else None)
        return usdt.attach_probe(super(), probe, pid, cookie, multi=self.multi)


class Object(_core.Object):
    __doc__ = _core.Object.__doc__
    _program_class = Program
