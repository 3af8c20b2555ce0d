"""The wheel carries the compiled objects: installed into a fresh venv, a
tool runs with no clang anywhere on PATH (clang is a build-time tool only)."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.helpers import Tool

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.usefixtures("root")


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                    str(tmp / "dist"), str(ROOT)], check=True)
    wheels = list((tmp / "dist").glob("corebpf-*.whl"))
    assert len(wheels) == 1 and wheels[0].name.endswith("-py3-none-any.whl")
    subprocess.run([sys.executable, "-m", "venv", str(tmp / "venv")], check=True)
    subprocess.run([str(tmp / "venv/bin/pip"), "install", "-q", str(wheels[0])], check=True)
    return tmp / "venv"


def _machine(path) -> int:
    """e_machine of an ELF file."""
    with open(path, "rb") as f:
        head = f.read(20)
    assert head[:4] == b"\x7fELF", path
    return int.from_bytes(head[18:20], "little")


def test_wheel_contents_are_pure_python_plus_objects(venv):
    site = next((venv / "lib").glob("python3*/site-packages"))
    sources = {p.name[:-len(".bpf.c")] for p in (ROOT / "bpf_src").glob("*.bpf.c")}
    assert len(sources) >= 50
    for arch in ("x86", "arm64"):
        d = site / "corebpf" / "bpf" / arch
        objs = {p.name[:-len(".bpf.o")] for p in d.glob("*.bpf.o")}
        assert objs == sources, f"{arch}: {sorted(sources ^ objs)}"
        assert all(_machine(d / f"{n}.bpf.o") == 247 for n in objs)      # EM_BPF
    # each set was compiled for its own architecture (pt_regs layout, kernel
    # types), not copied from the other
    x86, arm = (site / "corebpf/bpf" / a / "filelife.bpf.o" for a in ("x86", "arm64"))
    assert x86.read_bytes() != arm.read_bytes()
    assert not list((site / "corebpf").rglob("*.so"))


def test_installed_tool_runs_without_clang(venv):
    bindir = venv / "bin"
    env = {"PATH": str(bindir), "PYTHONUNBUFFERED": "1"}
    assert shutil.which("clang", path=env["PATH"]) is None
    assert not any(shutil.which(f"clang-{v}", path=env["PATH"]) for v in range(10, 30))
    m = "corebpf-wheel-" + uuid.uuid4().hex[:8]
    p = subprocess.Popen([str(bindir / "execsnoop")], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env, cwd="/")
    header = p.stdout.readline().decode()
    assert header.split()[:2] == ["COMM", "PID"], p.stderr.read().decode()
    subprocess.run(["/bin/echo", m], stdout=subprocess.DEVNULL)
    time.sleep(0.5)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=20)
    assert p.returncode == 0, err.decode()
    assert f"/bin/echo {m}" in out.decode()


def test_python_m_entry_point(venv):
    r = subprocess.run([str(venv / "bin/python"), "-m", "corebpf", "--list"],
                       capture_output=True, text=True, env={"PATH": str(venv / "bin")}, cwd="/")
    assert r.returncode == 0 and {"execsnoop", "opensnoop", "biolatency"} <= set(r.stdout.split())
    r = subprocess.run([str(venv / "bin/python"), "-m", "corebpf.tools.opensnoop", "-h"],
                       capture_output=True, text=True, cwd="/")
    assert r.returncode == 0 and "--full-path" in r.stdout


def test_wheel_carries_the_licences(venv):
    """The licence texts (README "Licence") travel with the wheel."""
    site = next((venv / "lib").glob("python3*/site-packages"))
    info = next(site.glob("corebpf-*.dist-info"))
    names = {p.name for p in info.rglob("LICENSE*")}
    assert {"LICENSE", "LICENSE.GPL-2.0", "LICENSE.LGPL-2.1", "LICENSE.BSD-2-Clause"} <= names
    meta = (info / "METADATA").read_text()
    assert "Apache-2.0 AND GPL-2.0-only AND (LGPL-2.1-only OR BSD-2-Clause)" in meta


def test_corebpf_command_and_schema_in_the_wheel(venv):
    site = next((venv / "lib").glob("python3*/site-packages"))
    assert (site / "corebpf" / "doctor.schema.json").is_file()
    r = subprocess.run([str(venv / "bin/corebpf"), "doctor", "--json", "opensnoop"],
                       capture_output=True, text=True, env={"PATH": str(venv / "bin")}, cwd="/")
    assert r.returncode == 0, r.stderr
    import json
    rep = json.loads(r.stdout)
    assert rep["corebpf"]["package"] == str(site / "corebpf")
    assert rep["tools"]["opensnoop"]["runs"], rep["tools"]


def test_language_names_are_installed(venv):
    # bcc's 28 names (javacalls = ucalls -l java, ...) are console scripts too
    from corebpf.tools._aliases import ALIASES
    bindir = venv / "bin"
    missing = [n for n in ALIASES if not (bindir / n).exists()]
    assert not missing, missing
    r = subprocess.run([str(bindir / "pythonstat"), "-h"], capture_output=True, text=True,
                       cwd="/")
    assert r.returncode == 0 and r.stdout.startswith("usage: ustat ")


def test_own_tool_compiled_with_clang_runs_with_only_the_wheel(venv, tmp_path):
    """docs/API.md's path: `corebpf compile` on a box with clang, against the
    headers the wheel ships; the object and script then run where there is
    only the wheel (no clang on PATH)."""
    site = next((venv / "lib").glob("python3*/site-packages"))
    only_wheel = {"PATH": str(venv / "bin"), "PYTHONUNBUFFERED": "1"}
    r = subprocess.run([str(venv / "bin/corebpf"), "--include-dir"], capture_output=True,
                       text=True, env=only_wheel, cwd="/")
    inc = Path(r.stdout.strip())
    assert r.returncode == 0 and inc == site / "corebpf" / "include"
    assert (inc / "corebpf.bpf.h").is_file() and (inc / "bpf" / "bpf_helpers.h").is_file()
    assert (inc / "vmlinux" / "x86" / "vmlinux.h").is_file() and (inc / "ustack.bpf.h").is_file()

    ex = tmp_path / "hello_perf_output"
    shutil.copytree(ROOT / "examples" / "hello_perf_output", ex)
    src = ex / "hello_perf_output.bpf.c"
    # without clang: one line saying so
    r = subprocess.run([str(venv / "bin/corebpf"), "compile", str(src)], capture_output=True,
                       text=True, env=only_wheel, cwd="/")
    assert r.returncode == 1 and r.stderr.startswith("corebpf compile: error: no clang"), r
    assert r.stderr.count("\n") == 1
    # the development box: clang on PATH
    dev = dict(only_wheel, PATH=str(venv / "bin") + os.pathsep + os.environ["PATH"])
    r = subprocess.run([str(venv / "bin/corebpf"), "compile", str(src)], capture_output=True,
                       text=True, env=dev, cwd="/")
    assert r.returncode == 0 and r.stderr == "", r.stderr
    assert (ex / "hello_perf_output.bpf.o").is_file()

    # the production box: the wheel only
    assert shutil.which("clang", path=only_wheel["PATH"]) is None
    t = WheelScript(venv, ex / "hello_perf_output.py", env=only_wheel)
    try:
        assert t.lines[0].split() == ["TIME(s)", "COMM", "PID", "MESSAGE"]
        child = subprocess.Popen([sys.executable, "-c",
                                  "import os\nif os.fork() == 0: os._exit(0)\nos.wait()"])
        child.wait()
        line = t.wait_for(lambda ln: ln.split()[2:3] == [str(child.pid)]
                          and ln.endswith("Hello, perf_output!"))
    finally:
        rc = t.stop()
    assert rc == 0 and line is not None, (t.lines, t.stderr)


class WheelScript(Tool):
    """A script run by the venv's python with exactly `env` (Tool's line
    reading, waiting and stopping)."""

    def __init__(self, venv, script, env, timeout=30):
        self.cmd = [str(venv / "bin/python"), str(script)]
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env=env, cwd="/")
        self.lines = []
        self._buf = b""
        self.wait_ready(timeout)
