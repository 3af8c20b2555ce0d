"""The Prometheus text format (0.0.4) of prometheus_client metric families,
written here for speed: prometheus_client's generate_latest() validates and
escapes every label of every sample (~50 us a sample on the bench machine,
most of a scrape's time with ~600 samples); here a series' labels are
escaped once and its buckets share them."""
from __future__ import annotations

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _escape(value: str) -> str:
    if "\\" in value or "\n" in value or '"' in value:
        value = value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
    return value


def _help(doc: str) -> str:
    return doc.replace("\\", "\\\\").replace("\n", "\\n")


def _value(v) -> str:
    if v == float("inf"):
        return "+Inf"
    if v == float("-inf"):
        return "-Inf"
    if v != v:
        return "NaN"
    if float(v).is_integer() and abs(v) < 1 << 53:
        return "%d" % v
    return repr(float(v))


def render(families) -> bytes:
    """Text exposition of metric families (counters get their _total suffix)."""
    out = []
    for fam in families:
        name = fam.name + "_total" if fam.type == "counter" else fam.name
        out.append(f"# HELP {name} {_help(fam.documentation)}\n# TYPE {name} {fam.type}\n")
        labels_of = {}
        for s in fam.samples:
            if s.name.endswith("_created"):
                continue
            key = tuple((k, v) for k, v in s.labels.items() if k != "le")
            text = labels_of.get(key)
            if text is None:
                text = labels_of[key] = ",".join(f'{k}="{_escape(v)}"' for k, v in key)
            le = s.labels.get("le")
            if le is not None:
                lab = f'{text},le="{le}"' if text else f'le="{le}"'
            else:
                lab = text
            out.append(f"{s.name}{{{lab}}} {_value(s.value)}\n" if lab else
                       f"{s.name} {_value(s.value)}\n")
    return "".join(out).encode()
