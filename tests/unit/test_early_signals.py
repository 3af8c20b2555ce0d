"""corebpf/_early.py: a tool run holds its stop signals from the package's
first import; a program that only imports the library is left alone."""
from __future__ import annotations

import subprocess
import sys

from corebpf import _early


def _mask_after_import(argv0_code):
    out = subprocess.run([sys.executable, "-c", argv0_code], capture_output=True, text=True,
                         check=True).stdout
    return out.strip()


def test_a_program_importing_corebpf_keeps_its_signals():
    assert _mask_after_import(
        "import signal, corebpf; print(sorted(signal.pthread_sigmask(signal.SIG_BLOCK, [])))"
    ) == "[]"


def test_tool_runs_are_recognised(monkeypatch):
    monkeypatch.setattr(sys, "orig_argv", ["python3", "-m", "corebpf", "opensnoop"],
                        raising=False)
    assert _early._is_tool_run()
    monkeypatch.setattr(sys, "orig_argv", ["python3", "-m", "pytest"], raising=False)
    monkeypatch.setattr(sys, "argv", ["/usr/lib/python3/pytest"])
    assert not _early._is_tool_run()
    # a console script named after a tool (pip's bin/opensnoop)
    monkeypatch.setattr(sys, "orig_argv", ["/opt/corebpf/bin/python3", "/opt/corebpf/bin/opensnoop"],
                        raising=False)
    monkeypatch.setattr(sys, "argv", ["/opt/corebpf/bin/opensnoop"])
    assert _early._is_tool_run()
    monkeypatch.setattr(sys, "argv", ["/usr/bin/_cli"])
    assert not _early._is_tool_run()


def test_a_tool_run_holds_them_before_setup():
    # the console-script path: argv[0] names a tool, checked at the first import
    code = ("import sys, signal; sys.argv[0] = '/usr/bin/opensnoop'; import corebpf; "
            "print(sorted(int(s) for s in signal.pthread_sigmask(signal.SIG_BLOCK, [])))")
    held = _mask_after_import(code)
    assert held == str(sorted(int(s) for s in _early.STOP_SIGNALS))


def test_console_scripts_of_language_names_are_tool_runs(monkeypatch, tmp_path):
    # bcc's names (javacalls...) have no tools/NAME.py: their pip stub imports corebpf.tools
    stub = tmp_path / "javacalls"
    stub.write_text("#!/usr/bin/python3\nimport re\nimport sys\n"
                    "from corebpf.tools._aliases import javacalls\n")
    monkeypatch.setattr(sys, "orig_argv", ["/usr/bin/python3", str(stub)], raising=False)
    monkeypatch.setattr(sys, "argv", [str(stub)])
    assert _early._is_tool_run()
    other = tmp_path / "myscript"
    other.write_text("#!/usr/bin/python3\nimport corebpf\n")
    monkeypatch.setattr(sys, "argv", [str(other)])
    assert not _early._is_tool_run()
