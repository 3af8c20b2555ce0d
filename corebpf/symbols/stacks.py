"""Stack ids from a BPF_MAP_TYPE_STACK_TRACE map, turned into bcc's output.

    st = Stacks(obj.maps["stack_traces"])         # symbols: a fresh SymbolCache
    kernel = st.kernel(key.kernel_stack_id, show_offset=True, show_module=True)
    user = st.user(key.user_stack_id, key.pid)
    print("\\n".join(multiline(kernel, user, key.name, key.pid, count)))
    st.warning("could not be displayed")          # bcc's WARNING line, or None

Stack id semantics (bpf_get_stackid): >= 0 is a stack; -EFAULT means "no
stack in this context" (a kernel stack of a sample taken in user mode, a user
stack of a kernel thread) and prints as nothing; any other negative id is a
stack that was lost (-ENOMEM: the map is full; -EEXIST: a hash collision)
and prints as `[Missed Kernel Stack]` / `[Missed User Stack]`.
"""
from __future__ import annotations

import errno

from .syms import SymbolCache

MISSED_KERNEL = "[Missed Kernel Stack]"
MISSED_USER = "[Missed User Stack]"


class Unwound(tuple):
    """A user stack unwound in user space (--unwind dwarf): its addresses,
    innermost first.  Stands where a stack id would: empty = no stack."""
    __slots__ = ()


def missing(stack_id) -> bool:
    """True if a stack was lost (not merely absent: -EFAULT)."""
    return not isinstance(stack_id, tuple) and stack_id < 0 and stack_id != -errno.EFAULT


def present(stack_id) -> bool:
    """True if there is a stack to print (a stack id >= 0, a non-empty Unwound)."""
    return len(stack_id) > 0 if isinstance(stack_id, tuple) else stack_id >= 0


class Stacks:
    """Read and symbolize stacks of one stack map, counting the lost ones."""

    def __init__(self, stack_map, syms: SymbolCache = None):
        self.map = stack_map
        self.syms = syms or SymbolCache()
        self.lost = 0
        self.enomem = False
        self.collision = False
        self._ips = {}

    def addresses(self, stack_id) -> list:
        """Addresses of a stack, innermost first ([] for a negative id)."""
        if isinstance(stack_id, tuple):
            return list(stack_id)
        if stack_id < 0:
            return []
        ips = self._ips.get(stack_id)
        if ips is None:
            ips = self._ips[stack_id] = self.map.stack(stack_id)
        return ips

    def check(self, stack_id: int) -> bool:
        """Count stack_id if it is a lost stack; return True if it is."""
        if not missing(stack_id):
            return False
        self.lost += 1
        self.enomem = self.enomem or stack_id == -errno.ENOMEM
        self.collision = self.collision or stack_id == -errno.EEXIST
        return True

    def kernel(self, stack_id: int, show_offset: bool = False, show_module: bool = False,
               first_ip: int = 0, suffix: str = "", skip_probe: bool = False) -> list:
        """Kernel frames innermost first; [MISSED_KERNEL] for a lost stack.

        first_ip: the sampled instruction pointer, put first unless the stack
        already starts with it.  suffix: appended to each name (profile -a).
        skip_probe: drop the leading frames of the probe itself (the BPF
        program and the raw tracepoint glue that called it).
        """
        if missing(stack_id):
            return [MISSED_KERNEL]
        ips = self.kernel_addresses(stack_id, first_ip, skip_probe)
        sym = self.syms.ksym
        return [sym(a, show_offset, show_module) + suffix for a in ips]

    def kernel_addresses(self, stack_id: int, first_ip: int = 0,
                         skip_probe: bool = False) -> list:
        """Addresses of a kernel stack, innermost first; first_ip, when given, is
        put in front (the probed function, which a kprobe's stack starts after);
        skip_probe drops the tracing frames a kprobe stack begins with."""
        ips = self.addresses(stack_id)
        if present(stack_id) and first_ip and (not ips or ips[0] != first_ip):
            ips = [first_ip] + ips
        if skip_probe:
            n = 0
            kernel = self.syms.kernel
            while n < len(ips) and _probe_frame_at(kernel, ips, n):
                n += 1
            ips = ips[n:]
        return ips

    def user(self, stack_id: int, pid: int, show_offset: bool = False,
             show_module: bool = False) -> list:
        """User frames of process pid, innermost first; [MISSED_USER] for a lost stack."""
        if missing(stack_id):
            return [MISSED_USER]
        proc = self.syms.process(pid)
        return [proc.sym(a, show_offset, show_module) for a in self.addresses(stack_id)]

    def warning(self, what: str = "could not be displayed", collisions: bool = False):
        """bcc's stderr line for lost stacks, or None.  what: "could not be
        displayed" (profile) or "lost and could not be displayed" (offcputime);
        collisions: also suggest a bigger map after -EEXIST (profile)."""
        if not self.lost:
            return None
        hint = self.enomem or (collisions and self.collision)
        return (f"WARNING: {self.lost} stack traces {what}."
                + (" Consider increasing --stack-storage-size." if hint else ""))


_BPF_CALLERS = ("bpf_trace_run",)    # what runs a raw tracepoint's BPF program
_PROBE_PREFIXES = ("bpf_trace_run", "__bpf_trace_", "__traceiter_", "bpf_prog_")


def _probe_frame(name, offset, module) -> bool:
    """A frame of the probe machinery (BPF programs sit in kallsyms' [bpf])."""
    return bool(name) and (module == "bpf" or name.startswith(_PROBE_PREFIXES))


def _probe_frame_at(kernel, ips: list, n: int) -> bool:
    """Whether frame n of kernel stack `ips` is the probe machinery's.  A
    frame outside the kernel image called by bpf_trace_run* is the BPF
    program (raw tracepoints): known so without kallsyms, whose read the
    symbols' per-boot cache otherwise spares the exit."""
    if n + 1 < len(ips) and not kernel.at_hand(ips[n]) and kernel.at_hand(ips[n + 1]) \
            and (kernel.resolve(ips[n + 1])[0] or "").startswith(_BPF_CALLERS):
        return True
    return _probe_frame(*kernel.resolve(ips[n]))


def multiline(kernel, user, comm: str, pid: int, value: int, delimiter: bool = False) -> list:
    """bcc's multi-line stack: kernel frames, `--` (delimiter), user frames,
    the process line, the value and an empty line.  kernel/user: frame texts
    innermost first, or None when that side is not shown."""
    out = [f"    {f}" for f in kernel or ()]
    if delimiter:
        out.append("    --")
    out.extend(f"    {f}" for f in user or ())
    out.append("    %-16s %s (%d)" % ("-", comm, pid))
    out.append("        %d\n" % value)
    return out


def folded(comm: str, user, kernel, value: int, delimiter: bool = False) -> str:
    """bcc's folded line: comm;user root->leaf;[-;]kernel root->leaf value.
    user/kernel: frame texts innermost first (None: not shown)."""
    parts = [comm]
    if user is not None:
        parts.extend(reversed(user) if user != [MISSED_USER] else user)
    if delimiter:
        parts.append("-")
    if kernel is not None:
        parts.extend(reversed(kernel) if kernel != [MISSED_KERNEL] else kernel)
    return "%s %d" % (";".join(parts), value)
