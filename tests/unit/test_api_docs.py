"""The public API is documented: every public name (corebpf.__all__, the
public modules, and the public methods and properties of the public classes)
has a docstring, the docstrings being the source of truth, and docs/API.md
names every one of them.  No privilege needed."""
from __future__ import annotations

import inspect
import os
import re
import types

import pytest

import corebpf

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
API_MD = os.path.join(ROOT, "docs", "API.md")


def _members(obj):
    """(qualified name, object) of the public callables and properties of a
    public class or module, as corebpf defines them (not what Python or the
    standard library adds: OSError.errno, tuple.count...)."""
    out = []
    if isinstance(obj, types.ModuleType):
        for n, v in vars(obj).items():
            if n.startswith("_") or getattr(v, "__module__", None) != obj.__name__:
                continue
            # functools.lru_cache keeps __wrapped__: cached probes count too
            if inspect.isfunction(v) or inspect.isclass(v) or hasattr(v, "__wrapped__"):
                out.append((n, v))
        return out
    seen = set()
    for klass in obj.__mro__:
        if not klass.__module__.startswith("corebpf"):
            continue
        for n, v in vars(klass).items():
            if n.startswith("_") or n in seen:
                continue
            seen.add(n)
            if isinstance(v, (staticmethod, classmethod)):
                v = v.__func__
            if inspect.isfunction(v) or isinstance(v, property):
                out.append((n, v))
    return out


def public_names():
    """{'Object', 'Object.open', 'features.tracepoint_exists', ...}: object."""
    out = {}
    for name in corebpf.__all__:
        if name.startswith("__"):
            continue
        obj = getattr(corebpf, name)
        out[name] = obj
        if inspect.isclass(obj) or isinstance(obj, types.ModuleType):
            for n, v in _members(obj):
                out[f"{name}.{n}"] = v
    return out


PUBLIC = public_names()


def test_the_public_surface_is_what_the_issue_asks_for():
    must = ["Object.open", "Object.load", "Object.attach", "Object.ring_buffer",
            "Object.perf_buffer", "Program.attach_tracepoint", "Program.attach_raw_tracepoint",
            "Program.attach_kprobe", "Program.attach_uprobe", "Program.attach_usdt",
            "Program.attach_perf", "Program.set_attach_target", "Map.items", "Map.sum",
            "Map.print_log2_hist", "Map.print_linear_hist", "Map.delete_batch",
            "RingBuffer.poll", "PerfBuffer.poll", "Stacks.kernel", "Stacks.user",
            "SymbolCache.ksym", "ksym", "sym", "trace_fields"]
    missing = [m for m in must if m not in PUBLIC]
    assert not missing, missing


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_every_public_name_has_a_docstring(name):
    obj = PUBLIC[name]
    if isinstance(obj, property):
        doc = obj.fget.__doc__
    else:
        doc = inspect.getdoc(obj)
    assert doc and doc.strip(), f"corebpf.{name} has no docstring"


def test_api_md_names_every_public_name():
    with open(API_MD, encoding="utf-8") as f:
        text = f.read()
    missing = []
    for name in sorted(PUBLIC):
        short = name.rsplit(".", 1)[-1]
        # named in code: `Map.items`, `m.items()`, `.items`, `has_btf()` in a
        # list of the module's functions
        if not re.search(r"[`.]" + re.escape(short) + r"\b", text):
            missing.append(name)
    assert not missing, "docs/API.md does not mention: " + ", ".join(missing)


def test_public_names_import_without_cost_until_used():
    # the lazily exported names resolve (and a wrong one is an AttributeError)
    for name in corebpf._LAZY:
        assert getattr(corebpf, name) is not None
    with pytest.raises(AttributeError):
        corebpf.no_such_name
