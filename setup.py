"""Build hook: compile the BPF objects (build.py) before packaging them.

Everything else is declared in pyproject.toml.  clang is needed here, at
build time only; the wheel carries the compiled objects.
"""
import os
import sys

from setuptools import setup
from setuptools.command.build_py import build_py

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


class BuildWithBPF(build_py):
    def run(self):
        import build as bpf_build
        try:
            bpf_build.build()
        except bpf_build.BuildError as e:
            raise SystemExit(f"build.py: error: {e}")
        super().run()


def console_scripts():
    """One script per tool module (tools/NAME.py -> NAME = corebpf.tools.NAME:main),
    bcc's language names (tools/_aliases.py: javacalls = ucalls -l java, ...),
    the `corebpf` command (list, doctor, TOOL ...) and the Prometheus exporter."""
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tools")
    names = sorted(f[:-3] for f in os.listdir(here)
                   if f.endswith(".py") and not f.startswith("_"))
    scope = {}
    with open(os.path.join(here, "_aliases.py")) as f:
        exec(compile(f.read(), "_aliases.py", "exec"), scope)
    return [f"{n} = corebpf.tools.{n}:main" for n in names] + \
        [f"{n} = corebpf.tools._aliases:{n}" for n in sorted(scope["ALIASES"])] + [
        "corebpf = corebpf.__main__:main",
        "corebpf-exporter = corebpf.exporter.main:main"]


setup(cmdclass={"build_py": BuildWithBPF},
      entry_points={"console_scripts": console_scripts()})
