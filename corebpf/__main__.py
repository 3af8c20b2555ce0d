"""corebpf: bcc's tracing tools on libbpf and CO-RE.

usage:
  corebpf list                  every tool, with what it shows
  corebpf TOOL [ARGS...]        run a tool (corebpf TOOL -h: its options)
  corebpf doctor [--json] [TOOL...]
                                what this host can trace: kernel, libbpf, BTF,
                                tracefs, capabilities, probe kinds, and whether
                                each tool runs here (loaded, not attached)
  corebpf features              the kernel feature probes, one per line
  corebpf schema TOOL           the JSON Schema of TOOL --json (JSON Lines)
  corebpf exporter [ARGS...]    the Prometheus exporter (corebpf-exporter)
  corebpf compile FILE.bpf.c [-o FILE.bpf.o] [--arch x86|arm64]
                                your own BPF C -> a CO-RE object (needs clang)
  corebpf skel FILE.bpf.o       a Python module stub for an object
  corebpf --include-dir         where corebpf.bpf.h, libbpf's and vmlinux.h are
  corebpf --list                tool names only
  corebpf --version

Also `python3 -m corebpf ...`.  The tools are installed as commands too:
NAME-corebpf in /usr/sbin and plain NAME in /usr/lib/corebpf/bin (Debian
package), or NAME in the virtualenv's bin (pip).
"""
import sys

USAGE = "usage: corebpf list | doctor [--json] | features | schema TOOL | TOOL [ARGS...]  (corebpf -h)"


def _error(text: str, status: int = 2) -> int:
    print(f"corebpf: error: {text}", file=sys.stderr)
    return status


def _list() -> int:
    from . import tools
    for name in tools.names():
        print(f"{name:16} {tools.summary(name)}")
    return 0


def _features() -> int:
    from .core import features
    from .core._libbpf import LibbpfUnavailable
    from .core.errors import BPFError
    try:
        for k, v in features.summary().items():
            print(f"{k:14} {v}")
    except (BPFError, LibbpfUnavailable) as e:
        return _error(str(e), 1)
    return 0


def _doctor(argv) -> int:
    import argparse

    from . import doctor

    class OneLine(argparse.ArgumentParser):
        def error(self, message):
            sys.exit(_error(message.replace("\n", " ")))
    return doctor.main(argv, parser_class=OneLine)


def _schema(argv) -> int:
    """corebpf schema TOOL: the JSON Schema of the tool's --json lines."""
    import json

    from . import tools
    if len(argv) != 1 or argv[0].startswith("-"):
        return _error("usage: corebpf schema TOOL")
    if argv[0] not in tools.names():
        return _error(f"no tool named {argv[0]!r} (corebpf list shows them)")
    from .tools import _jsonl
    schema = _jsonl.schema_of(argv[0])
    if schema is None:
        return _error(f"{argv[0]} has no --json yet", 1)
    print(json.dumps(schema, indent=2))
    return 0


def _aliases():
    from .tools import _aliases as aliases
    return sorted(aliases.ALIASES)


def _compile(argv) -> int:
    """corebpf compile: BPF C -> a CO-RE object (corebpf.toolchain)."""
    from .toolchain import main_compile
    return main_compile(argv)


def _skel(argv) -> int:
    """corebpf skel: a Python module stub for an object (corebpf.skel)."""
    from .skel import main as skel
    return skel(argv)


def _include_dir(argv) -> int:
    """corebpf --include-dir: where the headers `corebpf compile` uses are."""
    from .toolchain import INCLUDE_DIR
    if argv:
        return _error("--include-dir takes no arguments")
    print(INCLUDE_DIR)
    return 0


# The toolchain's subcommands, one function each (argv after the subcommand).
_TOOLCHAIN = {"compile": _compile, "skel": _skel, "--include-dir": _include_dir}


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in ("list", "doctor", "features", "--list", "schema"):
        try:
            rc = _command(argv)
            sys.stdout.flush()              # here, not at exit: a closed pipe is caught
            return rc
        except BrokenPipeError:             # `corebpf list | head`
            import os
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
    return _command(argv)


def _command(argv) -> int:
    from . import tools
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(__doc__.strip())
        return 0 if argv else 2
    cmd, rest = argv[0], argv[1:]
    if cmd == "--list":
        print("\n".join(tools.names()))
        return 0
    if cmd in ("-V", "--version"):
        from . import __version__
        print(f"corebpf {__version__}")
        return 0
    if cmd == "list":
        return _list()
    if cmd == "features":
        return _features()
    if cmd == "schema":
        return _schema(rest)
    if cmd == "doctor":
        return _doctor(rest)
    if cmd == "exporter":
        from .exporter.main import main as exporter
        return exporter(rest)
    if cmd in _TOOLCHAIN:
        return _TOOLCHAIN[cmd](rest)
    if cmd in tools.names():     # a tool (before the language names: one import less)
        import importlib
        return importlib.import_module(f"corebpf.tools.{cmd}").main(rest)
    if cmd in _aliases():
        from .tools import _aliases as aliases
        return aliases.run_alias(cmd, rest)
    return _error(f"no tool named {cmd!r} (corebpf list shows them; corebpf -h: the commands)")


if __name__ == "__main__":
    sys.exit(main())
