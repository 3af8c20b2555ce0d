"""--json: JSON Lines output and its JSON Schema, from one declaration per tool.

A tool declares what it prints once, at module level:

    JSON = _jsonl.Events("one object per exec()", [
        _jsonl.Field("pid", "integer", "process ID"),
        _jsonl.Field("comm", "string", "command name", get=lambda e: e.comm),
        ...])                               # or _jsonl.Histograms(...)

and the same declaration gives `corebpf schema TOOL` (JSON.schema(PROG)),
the objects (JSON.record(e) -> dict; Writer checks nothing at run time, the
tests validate real output against the schema) and the field list in the
docs.  Rules (docs/DEVELOPING.md, "--json"):
- One JSON object per line, ASCII only (json.dumps' ensure_ascii), so no
  byte of it can drive a terminal and the SafeStream passes it unchanged.
- Text from records is decoded raw (ring_buffer(..., raw_text=True));
  bytes that are not UTF-8 become lone surrogates U+DC80..U+DCFF (Python's
  surrogateescape), written as the escape `\\udcNN` where NN is the byte:
  never dropped, and `s.encode("utf-8", "surrogateescape")` gives the bytes
  back.
- Every object carries `time_ns` (wall clock, ns since the epoch, when the
  tool read it).  Lost events are the object {"lost": N} (and bcc's line on
  stderr).  The tool's header goes to stderr, so stdout is JSON only.
"""
from __future__ import annotations

import keyword
import sys
import time
from operator import attrgetter

# JSON Schema types of a Field
TYPES = ("integer", "number", "string", "boolean", "string[]", "integer[]", "integer|null",
         "string|null", "number|null", "frame[]", "string[][]", "value[]", "bucket[]")

# One stack frame (type "frame[]": a stack, innermost frame first; frames())
FRAME = {"type": "object", "description": "one stack frame", "properties": {
    "addr": {"type": "string", "description": "instruction address, hex"},
    "symbol": {"type": ["string", "null"], "description": "function name, null if unknown"},
    "offset": {"type": "integer", "description": "addr - the symbol's start (0 if unknown)"},
    "module": {"type": ["string", "null"],
               "description": "kernel module (kernel for vmlinux) or the mapped file of a "
                              "user address; null if unknown"}},
    "required": ["addr", "symbol", "offset", "module"], "additionalProperties": False}


def frames(addrs, resolve) -> list:
    """A stack for --json (a "frame[]" field): addrs innermost first,
    resolve(addr) -> (name or None, offset, module or None) as
    corebpf.symbols' KernelSymbols/ProcessSymbols.resolve give."""
    out = []
    for a in addrs:
        name, off, mod = resolve(a)
        out.append({"addr": hex(a), "symbol": name, "offset": off if name else 0,
                    "module": mod})
    return out


def _type_schema(t: str) -> dict:
    if t == "string[]":
        return {"type": "array", "items": {"type": "string"}}
    if t == "integer[]":
        return {"type": "array", "items": {"type": "integer"}}
    if t == "frame[]":
        return {"type": "array", "items": FRAME}
    if t == "bucket[]":        # a histogram: buckets() / linear_buckets()
        return {"type": "array", "items": BUCKET}
    if t == "value[]":         # a list of numbers and strings (trace's format values)
        return {"type": "array", "items": {"type": ["integer", "string"]}}
    if t == "string[][]":
        return {"type": "array", "items": {"type": "array", "items": {"type": "string"}}}
    if "|" in t:
        return {"type": t.split("|")}
    return {"type": t}


class Field:
    """One member of a tool's JSON objects: name (stable: part of the
    interface), JSON type, description, unit (ns, us, bytes...), and how to
    get it from a record (default: the record's attribute of that name;
    get(record) otherwise).  optional: present only with some options;
    absent(): whether it is left out of every record of this run (known
    once the options are applied), so line() keeps its compiled form."""

    def __init__(self, name: str, type: str, description: str, unit: str = None,
                 get=None, optional: bool = False, absent=None):
        if type not in TYPES:
            raise ValueError(f"field {name}: type {type!r} is not one of {TYPES}")
        self.name, self.type, self.description, self.unit = name, type, description, unit
        self._attr = get is None          # the record's attribute of that name
        self.get = get or attrgetter(name)
        self.optional = optional
        self.absent = absent

    def schema(self) -> dict:
        s = _type_schema(self.type)
        s["description"] = self.description + (f" ({self.unit})" if self.unit else "")
        return s


TIME_NS = Field("time_ns", "integer", "wall clock when the tool read it, since the epoch", "ns")
LOST = {"type": "object", "description": "events the kernel could not hand over "
                                         "(also on stderr)",
        "properties": {"lost": {"type": "integer", "minimum": 1}},
        "required": ["lost"], "additionalProperties": False}


def _object(fields, description: str) -> dict:
    return {"type": "object", "description": description,
            "properties": {f.name: f.schema() for f in fields},
            "required": [f.name for f in fields if not f.optional],
            "additionalProperties": False}


class Events:
    """An event tool: one object per event, with the fields given."""

    kind = "events"

    def __init__(self, description: str, fields):
        self.description = description
        self.fields = [TIME_NS, *fields]
        self._gets = [(f.name, f.get) for f in fields]
        self._optional = {f.name for f in fields if f.optional}
        self._fields = fields
        self._fast = None           # compiled at first use (json is imported only for --json)

    def line(self, r) -> str:
        """The JSON text of record(r) (replaced by its compiled form at first use:
        optional fields that say whether this run has them (absent) are
        compiled in or left out)."""
        fields = [f for f in self._fields if not (f.absent and f.absent())]
        if any(f.optional and not f.absent for f in fields):
            self.line = lambda r: dumps(self.record(r))
        else:
            self.line = self._compile_line(fields)
        return self.line(r)

    @staticmethod
    def _compile_line(fields):
        """line(r): the JSON text of record(r) straight from a %-format (as
        fast as the text formatters; strings through json's C escaper)."""
        from json.encoder import encode_basestring_ascii
        ns = {"_t": time.time_ns, "_s": encode_basestring_ascii, "_any": dumps,
              "_b": lambda v: "true" if v else "false",
              "_f": lambda v: float.__repr__(float(v)),
              "_sl": lambda v: "[" + ",".join(map(encode_basestring_ascii, v)) + "]"}
        fmt, args = ['"time_ns":%d'], ["_t()"]
        for i, f in enumerate(fields):
            if f._attr:
                v = f"r.{f.name}"
            else:
                ns[f"_g{i}"] = f.get
                v = f"_g{i}(r)"
            conv = {"integer": ("%d", v), "string": ("%s", f"_s({v})"),
                    "number": ("%s", f"_f({v})"), "boolean": ("%s", f"_b({v})"),
                    "string[]": ("%s", f"_sl({v})")}.get(f.type, ("%s", f"_any({v})"))
            fmt.append(f'"{f.name}":{conv[0]}')
            args.append(conv[1])
        src = "lambda r: %r %% (%s,)" % ("{" + ",".join(fmt) + "}", ", ".join(args))
        return eval(src, ns)

    @staticmethod
    def _compile(fields):
        """record() without extras as one dict display (per event: no loop,
        plain fields read as attributes)."""
        ns = {"_t": time.time_ns}
        items = ['"time_ns": _t()']
        for i, f in enumerate(fields):
            if not f.name.isidentifier() or keyword.iskeyword(f.name):
                raise ValueError(f"field name {f.name!r} is not an identifier")
            if f._attr:
                items.append(f'"{f.name}": r.{f.name}')
            else:
                ns[f"_g{i}"] = f.get
                items.append(f'"{f.name}": _g{i}(r)')
        return eval("lambda r: {" + ", ".join(items) + "}", ns)

    def record(self, r, **extra) -> dict:
        """The object for record `r`; `extra` gives fields the record does not
        carry (or overrides them); optional fields that are None are left out."""
        if not extra and not self._optional:
            if self._fast is None:
                self._fast = self._compile(self._fields)
            return self._fast(r)
        d = {"time_ns": time.time_ns()}
        for name, get in self._gets:
            d[name] = extra[name] if name in extra else get(r)
        for name in self._optional:
            if d[name] is None:
                del d[name]
        return d

    def schema(self, prog: str) -> dict:
        return {"$schema": "https://json-schema.org/draft/2020-12/schema",
                "title": f"{prog} --json", "description": "JSON Lines: each line is one of these",
                "oneOf": [_object(self.fields, self.description), LOST]}


def buckets(slots, low_slot: int = 1) -> list:
    """bcc's log2 slots (slot 0 unused, slot 1 = 0..1, slot k = 2^(k-1)..2^k-1,
    corebpf.histogram) as [{low, high, count}] up to the last non-zero slot."""
    vals = list(slots)
    last = max((i for i, v in enumerate(vals) if v), default=0)
    out = []
    for i in range(low_slot, last + 1):
        low, high = (1 << i) >> 1, (1 << i) - 1
        if low == high:
            low -= 1
        out.append({"low": low, "high": high, "count": int(vals[i])})
    return out


def linear_buckets(slots, step: int = 1) -> list:
    """Linear slots (slot i = i*step..(i+1)*step-1) up to the last non-zero one."""
    vals = list(slots)
    last = max((i for i, v in enumerate(vals) if v), default=-1)
    return [{"low": i * step, "high": (i + 1) * step - 1, "count": int(vals[i])}
            for i in range(last + 1)]


BUCKET = {"type": "object", "properties": {
    "low": {"type": "integer", "description": "lowest value counted here (unit)"},
    "high": {"type": "integer", "description": "highest value counted here (unit)"},
    "count": {"type": "integer", "minimum": 0}},
    "required": ["low", "high", "count"], "additionalProperties": False}


class Histograms:
    """A histogram tool: one object per interval, {time_ns, unit, histograms:
    [{KEY FIELDS..., buckets: [{low, high, count}]}]}; keys: the fields that
    name a histogram (disk, comm, ...) where the tool keeps several.
    totals=True: a tool that prints a table of totals instead without its
    histogram option (hardirqs, softirqs): {time_ns, unit, totals: [{KEY
    FIELDS..., total}]} (write_totals)."""

    kind = "histograms"

    def __init__(self, description: str, units, keys=(), extra=(), totals: bool = False,
                 fields=()):
        self.description = description
        self.units = list(units)
        self.keys = list(keys)
        self.extra = list(extra)        # per-histogram fields besides keys (sums, counts)
        self.totals = totals
        self.fields = list(fields)      # the interval's own (funclatency's total and count)

    def write_totals(self, unit: str, rows):
        """Print one interval of totals: rows = [(key dict, total)]."""
        sys.stdout.write(dumps({"time_ns": time.time_ns(), "unit": unit,
                                "totals": [{**k, "total": int(t)} for k, t in rows]}) + "\n")
        sys.stdout.flush()

    def interval(self, unit: str, hists, **values) -> dict:
        """hists: [(key dict, buckets list, extra dict or None)]; values: the
        interval's fields (fields=...) by name."""
        return {"time_ns": time.time_ns(), "unit": unit, **values,
                "histograms": [{**k, **(x or {}), "buckets": b} for k, b, x in hists]}

    def write(self, unit: str, hists, linear_step: int = 0, **values):
        """Print one interval: hists = [(key dict, slot counts)] (log2 slots,
        or linear ones of width linear_step); values: the interval's fields."""
        conv = (lambda s: linear_buckets(s, linear_step)) if linear_step else buckets
        sys.stdout.write(dumps(self.interval(unit, [(k, conv(s), None) for k, s in hists],
                                             **values)) + "\n")
        sys.stdout.flush()

    def schema(self, prog: str) -> dict:
        hist = _object([*self.keys, *self.extra], "one histogram")
        hist["properties"]["buckets"] = {"type": "array", "items": BUCKET}
        hist["required"].append("buckets")
        interval = {"type": "object", "description": self.description, "properties": {
            "time_ns": TIME_NS.schema(),
            "unit": {"enum": self.units, "description": "unit of low and high"},
            "histograms": {"type": "array", "items": hist}},
            "required": ["time_ns", "unit", "histograms"], "additionalProperties": False}
        for f in self.fields:
            interval["properties"][f.name] = f.schema()
            if not f.optional:
                interval["required"].append(f.name)
        shapes = [interval]
        if self.totals:
            row = _object(self.keys, "one row of the table")
            row["properties"]["total"] = {"type": "integer", "description": "total (unit)"}
            row["required"].append("total")
            shapes.append({"type": "object", "description": self.description + " (totals)",
                           "properties": {"time_ns": TIME_NS.schema(),
                                          "unit": interval["properties"]["unit"],
                                          "totals": {"type": "array", "items": row}},
                           "required": ["time_ns", "unit", "totals"],
                           "additionalProperties": False})
        return {"$schema": "https://json-schema.org/draft/2020-12/schema",
                "title": f"{prog} --json", "description": "JSON Lines: each line is one of these",
                "oneOf": [*shapes, LOST]}


LOADAVG = Field("loadavg", "string", "/proc/loadavg when the tool read the interval")


class Intervals:
    """An interval or summary tool (vfsstat, syscount, the top tools): one
    object per interval (or one at exit), {time_ns, FIELDS..., rows: [{COLUMNS...}]}:
    fields are the interval's own values (counters, the interval's length),
    rows the table it prints (None: no table), each row from one item
    through the columns' get (as Events' fields), or a dict by name; an
    optional column that is None in a row is left out.  Counts are those of
    the interval, not per second."""

    kind = "intervals"

    def __init__(self, description: str, fields=(), rows=None):
        self.description = description
        self.fields = list(fields)
        self.rows = None if rows is None else list(rows)

    def record(self, items=(), **values) -> dict:
        d = {"time_ns": time.time_ns()}
        for f in self.fields:
            if values.get(f.name) is not None or not f.optional:
                d[f.name] = values[f.name]
        if self.rows is not None:
            rows = []
            for it in items:
                row = {}
                for f in self.rows:
                    v = it.get(f.name) if isinstance(it, dict) else f.get(it)
                    if v is not None or not f.optional:
                        row[f.name] = v
                rows.append(row)
            d["rows"] = rows
        return d

    def write(self, items=(), **values):
        """Print one interval (record() gives the object): items = the
        table's rows (records for the columns' get, or dicts), values = the
        interval's fields by name."""
        sys.stdout.write(dumps(self.record(items, **values)) + "\n")
        sys.stdout.flush()

    def schema(self, prog: str) -> dict:
        obj = _object([TIME_NS, *self.fields], self.description)
        if self.rows is not None:
            obj["properties"]["rows"] = {"type": "array",
                                         "items": _object(self.rows, "one row of the table")}
            obj["required"].append("rows")
        return {"$schema": "https://json-schema.org/draft/2020-12/schema",
                "title": f"{prog} --json", "description": "JSON Lines: each line is one of these",
                "oneOf": [obj, LOST]}


class Either:
    """A tool whose modes print different objects (tcpcong: a table, or -d
    histograms): each line is one of the specs' objects; the tool writes
    through the spec of its mode."""

    kind = "either"

    def __init__(self, *specs):
        self.specs = specs
        self.description = "; ".join(s.description for s in specs)

    def schema(self, prog: str) -> dict:
        shapes = [x for s in self.specs for x in s.schema(prog)["oneOf"] if x is not LOST]
        return {"$schema": "https://json-schema.org/draft/2020-12/schema",
                "title": f"{prog} --json", "description": "JSON Lines: each line is one of these",
                "oneOf": [*shapes, LOST]}


class Document:
    """A tool whose --json prints bcc's own JSON document (biolatpcts -j,
    tcpsubnet -J), kept as bcc prints it (no time_ns): `document` is that
    object's JSON Schema, which `corebpf schema TOOL` prints and the tests
    validate the real output against."""

    kind = "document"

    def __init__(self, description: str, document: dict):
        self.description = description
        self.document = {"type": "object", "description": description, **document}

    def schema(self, prog: str) -> dict:
        return {"$schema": "https://json-schema.org/draft/2020-12/schema",
                "title": f"{prog} --json", "description": "JSON Lines: each line is one of these "
                                                         "(bcc's document)",
                "oneOf": [self.document, LOST]}


def add_args(parser, short: bool = False):
    """--json (and -j where bcc or corebpf had it: an alias, JSON not bcc's
    Python-dict text)."""
    names = ("-j", "--json") if short else ("--json",)
    parser.add_argument(*names, dest="json", action="store_true",
                        help="print JSON Lines: one object per line, described by "
                             "`corebpf schema TOOL`")


_ENCODE = None         # one encoder (json.dumps with options builds one per call)


def dumps(obj) -> str:
    """One line of JSON, ASCII only (non-UTF-8 bytes as \\udcNN, controls as \\uNNNN)."""
    global _ENCODE
    if _ENCODE is None:
        import json     # not at module top: text runs never import json
        _ENCODE = json.JSONEncoder(ensure_ascii=True, separators=(",", ":")).encode
    return _ENCODE(obj)


def header(text: str):
    """The tool's 'attached' line, on stderr in JSON mode (stdout stays JSON)."""
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def status(a, text: str):
    """A tool's status line (its header, "Detaching..."): on stdout, or on
    stderr with --json (stdout stays JSON only)."""
    if a.json:
        header(text)
    else:
        print(text, flush=True)


def raw(b) -> str:
    """Bytes a tool decodes itself (argv, a path) for JSON: exact, non-UTF-8
    bytes as lone surrogates (see the module docstring)."""
    return bytes(b).decode("utf-8", "surrogateescape")


class Custom:
    """spec for ring() whose record(e) is the tool's own (fields it computes
    with its state: a disk name table, options): a dict, a list of dicts
    (several objects for one record), or None (nothing)."""

    def __init__(self, record):
        self.record = record


def ring(obj, a, spec, text, header_text: str, map_name: str = "events", raw: bool = False):
    """The ring buffer of an event tool, --json or not: text(record) -> a line
    (None: nothing) for bcc's output, spec.record(record) with --json (text
    decoded raw).  Prints the header (stderr with --json); returns (rb, out)
    for _cli.event_loop(rb, out).  raw: records as bytes (the tool decodes them)."""
    from . import _cli
    out = _cli.Output(json=a.json)
    if a.json:
        def show(e):
            d = spec.record(e)
            if isinstance(d, list):
                for x in d:
                    out.obj(x)
            elif d is not None:
                out.obj(d)
    else:
        def show(e):
            line = text(e)
            if line is not None:
                out(line)
    if a.json and isinstance(spec, Events):
        line = spec.line

        def show(e):
            out(line(e))
    rb = obj.ring_buffer(map_name, show, raw=raw, raw_text=a.json)
    if a.json:
        header(header_text)
    else:
        print(header_text, flush=True)
    return rb, out


def schema_of(name: str):
    """The schema of tool `name` (None if it has no --json yet)."""
    import importlib
    mod = importlib.import_module(f"corebpf.tools.{name}")
    spec = getattr(mod, "JSON", None)
    return spec.schema(name) if spec is not None else None
