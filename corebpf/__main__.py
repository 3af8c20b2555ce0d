"""python3 -m corebpf TOOL [ARGS...]  (for root shells whose PATH lacks the scripts);
python3 -m corebpf --list; python3 -m corebpf features;
python3 -m corebpf exporter [ARGS...] (the Prometheus exporter, corebpf-exporter)."""
import importlib
import pkgutil
import sys


def _tools():
    from . import tools
    return sorted(m.name for m in pkgutil.iter_modules(tools.__path__) if not m.name.startswith("_"))


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        print("tools: " + " ".join(_tools()))
        return 0
    if argv[0] == "--list":
        print("\n".join(_tools()))
        return 0
    if argv[0] == "exporter":
        from .exporter.main import main as exporter
        return exporter(argv[1:])
    if argv[0] == "features":
        from .core import features
        from .core._libbpf import LibbpfUnavailable
        from .core.errors import BPFError
        try:
            for k, v in features.summary().items():
                print(f"{k:14} {v}")
        except (BPFError, LibbpfUnavailable) as e:
            print(f"corebpf: error: {e}", file=sys.stderr)
            return 1
        return 0
    name = argv[0]
    if name not in _tools():
        print(f"corebpf: error: no tool named {name!r} (try --list)", file=sys.stderr)
        return 2
    mod = importlib.import_module(f"corebpf.tools.{name}")
    return mod.main(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
