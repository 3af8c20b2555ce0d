"""The package layout (docs/DEVELOPING.md, "Architecture"): imports go one way.

    tools, __main__, doctor  ->  exporter  ->  corebpf (public names)  ->  compiler -> user -> symbols -> core

A module may import its own package and the packages below it, never one
above; the library never imports the tools; and no two library modules
import each other, directly or around a loop, even from inside a function
(a lazy import is still a dependency).  The graph is read from the source
with `ast`, so the test needs no privilege and imports nothing.
"""
from __future__ import annotations

import ast
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PKG = os.path.join(ROOT, "corebpf")

# lower number = lower layer; a module may import only layers <= its own
LAYERS = {
    "corebpf.core": 0,
    "corebpf.histogram": 0,
    "corebpf.syscalls": 0,
    "corebpf._early": 0,
    "corebpf.report": 0,        # renderers (flame graph, heat map, pprof): a leaf
    "corebpf.symbols": 1,
    "corebpf.user": 2,
    "corebpf.compiler": 3,
    "corebpf": 4,               # the public facade (corebpf/__init__.py)
    "corebpf.exporter": 4.5,    # the Prometheus exporter: tools' objects, not the tools
    "corebpf.tools": 5,
    "corebpf.__main__": 6,
    "corebpf.doctor": 6,        # `corebpf doctor` runs the tools
}


def layer(mod: str) -> tuple:
    """(layer, owner) of a dotted module name: the longest LAYERS prefix."""
    best = None
    for name in LAYERS:
        if mod == name or mod.startswith(name + "."):
            if best is None or len(name) > len(best):
                best = name
    assert best is not None, mod
    return LAYERS[best], best


def modules():
    """{dotted name: path} of every module of the package and the tools."""
    out = {}
    for base, pkgname in ((PKG, "corebpf"), (os.path.join(ROOT, "tools"), "corebpf.tools")):
        for dirpath, dirs, files in os.walk(base):
            dirs[:] = [d for d in dirs if d not in ("__pycache__", "bpf", "tools")]
            rel = os.path.relpath(dirpath, base)
            prefix = pkgname if rel == "." else pkgname + "." + rel.replace(os.sep, ".")
            for f in files:
                if f.endswith(".py"):
                    name = prefix if f == "__init__.py" else f"{prefix}.{f[:-3]}"
                    out[name] = os.path.join(dirpath, f)
    return out


MODULES = modules()


def imports(name: str, path: str) -> set:
    """Every corebpf module `name` imports, at any depth of its code."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    is_pkg = path.endswith("__init__.py")
    package = name if is_pkg else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            # `from pkg import sub` imports the submodule when there is one
            targets = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in MODULES else mod
                       for a in node.names]
        else:
            continue
        for t in targets:
            if t == "corebpf" or t.startswith("corebpf."):
                while t not in MODULES and "." in t:
                    t = t.rpartition(".")[0]
                if t in MODULES and t != name:
                    found.add(t)
    return found


GRAPH = {name: imports(name, path) for name, path in MODULES.items()}


def test_the_layout_is_what_the_docs_describe():
    for pkg in ("core", "symbols", "user", "compiler"):
        assert f"corebpf.{pkg}" in MODULES, f"corebpf/{pkg}/__init__.py missing"
    assert len([m for m in MODULES if m.startswith("corebpf.tools.")]) > 50


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_go_down_the_layers(name):
    mine, owner = layer(name)
    for dep in sorted(GRAPH[name]):
        theirs, dep_owner = layer(dep)
        if dep_owner == owner:
            continue
        assert theirs <= mine, (f"{name} (layer {owner}) imports {dep} (layer {dep_owner}): "
                                "imports must go down (docs/DEVELOPING.md, Architecture)")


def test_library_modules_form_no_cycle():
    lib = {n: {d for d in deps if not d.startswith("corebpf.tools") and d != "corebpf"}
           for n, deps in GRAPH.items()
           if not n.startswith("corebpf.tools") and n not in ("corebpf", "corebpf.__main__")}
    state = {}

    def visit(n, stack):
        state[n] = 1
        for d in sorted(lib.get(n, ())):
            if state.get(d) == 1:
                cycle = stack[stack.index(d):] + [d]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if d not in state:
                visit(d, stack + [d])
        state[n] = 2

    for n in sorted(lib):
        if n not in state:
            visit(n, [n])


def test_the_graph_reader_sees_lazy_and_relative_imports():
    # object.py imports features at the top and events inside a method
    deps = GRAPH["corebpf.core.object"]
    assert {"corebpf.core.features", "corebpf.core.events", "corebpf.core.maps"} <= deps
    assert "corebpf.core.errors" in GRAPH["corebpf.symbols.elf"]
