"""The command-line tools: one module per bcc tool (NAME.py with
`main(argv) -> int`); modules whose name starts with "_" are their shared
helpers."""


def names() -> list:
    """Every tool's name, sorted (`corebpf list`, `python3 -m corebpf --list`)."""
    import os
    here = os.path.dirname(os.path.abspath(__file__))
    return sorted(f[:-3] for f in os.listdir(here)
                  if f.endswith(".py") and not f.startswith("_"))


def summary(name: str) -> str:
    """What tool `name` shows, in one line: the first sentence of its docstring."""
    import importlib
    doc = importlib.import_module(f"{__name__}.{name}").__doc__ or ""
    para = " ".join(doc.strip().split("\n\n")[0].split())
    if ". " in para:
        para = para[:para.index(". ")]
    return para.rstrip(".")
