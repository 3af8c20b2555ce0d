"""Where the packaged CO-RE objects live (the lowest layer: imports nothing).

The package carries one set of objects per architecture, corebpf/bpf/ARCH/
(build.py --arch): the BPF byte code is the same instruction set everywhere,
but what a program reads from `struct pt_regs` (kprobe and uprobe arguments,
syscall wrappers) and the kernel headers it was compiled against are not.
The set is chosen by the machine this runs on (os.uname().machine, which is
what platform.machine() returns, without importing platform).
"""
import os

# (no pathlib: importing it costs ~14 ms of start-up)
MACHINES = {"x86_64": "x86", "aarch64": "arm64"}
MACHINE = os.uname().machine
ARCH = MACHINES.get(MACHINE)        # None: an architecture without objects
BPF_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bpf")
OBJ_DIR = os.path.join(BPF_DIR, ARCH or MACHINE)


def unsupported() -> str:
    """Why this machine cannot run the packaged objects ('' if it can)."""
    if ARCH:
        return ""
    return (f"no BPF objects for this machine's architecture ({MACHINE}): "
            f"corebpf is built for {' and '.join(MACHINES)}")


def object_path(name: str) -> str:
    """Path of packaged object `name` for this machine (or `name` itself if it is a path)."""
    if os.sep in name or name.endswith(".o"):
        return name
    return os.path.join(OBJ_DIR, f"{name}.bpf.o")
