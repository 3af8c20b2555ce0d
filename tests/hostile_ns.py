"""A JIT's perf map planted by its (hostile) user, and `profile -U` over it.

Run as root in a private mount namespace (`unshare -m --propagation private
python3 -m tests.hostile_ns SCENARIO`), from the checkout: /tmp becomes a
tmpfs of this namespace only, `nobody` starts a process that spins in code
it wrote into anonymous memory (as a JIT does), and `nobody` (or root, for
the files nobody could not make) puts at /tmp/perf-PID.map:

    ok       a regular file of nobody's naming the spinning code  (must be used)
    fifo     a FIFO                                          (used to hang profile)
    secret   a symlink to a root-only file naming the code   (used to print it)
    zero     a symlink to /dev/zero                          (used to eat memory)
    foreign  a regular file of another user's (uid 1)        (not the process's user)
    huge     nobody's file: one good line, then a 1 TiB hole (read only up to a cap)

then runs `profile -U -f -p PID 2` under a 4 GiB address-space limit and
prints a JSON line: exit status, output, stderr, whether it had to be killed.
"""
from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import time

NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
SPIN = r"""
import ctypes, mmap, platform
m = mmap.mmap(-1, 4096, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS,
              prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
m.write(CODE)
addr = ctypes.addressof(ctypes.c_char.from_buffer(m))
print("%x" % addr, flush=True)
ctypes.CFUNCTYPE(None)(addr)()
"""
LOOP = {"x86_64": b"\xeb\xfe", "aarch64": b"\x00\x00\x00\x14"}     # jmp . / b .


def as_nobody(script: str):
    subprocess.run(NOBODY + ["/bin/sh", "-c", script], check=True, cwd="/")


def main(scenario: str) -> int:
    subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=1777", "corebpf-hostile", "/tmp"],
                   check=True)
    code = "CODE = %r\n" % LOOP[platform.machine()] + SPIN
    spin = subprocess.Popen(NOBODY + ["/usr/bin/python3", "-c", code], stdout=subprocess.PIPE,
                            cwd="/")
    try:
        addr = spin.stdout.readline().decode().strip()
        pid = spin.pid
        path = f"/tmp/perf-{pid}.map"
        line = f"{addr} 100 corebpf_jit_%s\n"
        if scenario == "ok":
            as_nobody(f"printf '{line % 'ok'}' > {path}")
        elif scenario == "fifo":
            as_nobody(f"mkfifo {path}")
        elif scenario == "secret":
            with open("/tmp/corebpf-secret", "w") as f:
                f.write(line.replace("corebpf_jit_%s", "COREBPF_SECRET_%s") % "root")
            os.chmod("/tmp/corebpf-secret", 0o600)
            as_nobody(f"ln -s /tmp/corebpf-secret {path}")
        elif scenario == "zero":
            as_nobody(f"ln -s /dev/zero {path}")
        elif scenario == "foreign":
            with open(path, "w") as f:
                f.write(line % "foreign")
            os.chown(path, 1, 1)
        elif scenario == "huge":
            as_nobody(f"printf '{line % 'big'}' > {path} && truncate -s 1T {path}")
        else:
            raise SystemExit(f"unknown scenario {scenario}")
        time.sleep(0.2)

        def limit():
            resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))
        p = subprocess.Popen([sys.executable, "-m", "corebpf", "profile", "-U", "-f", "-p",
                              str(pid), "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             preexec_fn=limit)
        killed = False
        try:
            out, err = p.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
            killed = True
        print(json.dumps({"rc": p.returncode, "out": out.decode("utf-8", "replace"),
                          "err": err.decode("utf-8", "replace"), "killed": killed,
                          "pid": pid}))
    finally:
        spin.kill()
        spin.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
