"""corebpf-exporter without privilege: log2 slots -> Prometheus buckets, the
--listen and --collectors arguments, the TOML config file's checks."""
from __future__ import annotations

import argparse
import sys

import pytest

from corebpf.exporter import collectors, main


def test_log2_slots_become_cumulative_le_buckets():
    slots = [0] * 65
    slots[1] = 2        # 0-1 us: below 2 us
    slots[4] = 3        # 8-15 us: below 16 us
    slots[30] = 1       # beyond 2^26 us: only in +Inf
    b = collectors.log2_buckets(slots)
    assert len(b) == collectors.HIST_TOP + 1
    assert b[0] == ("2e-06", 2)
    assert b[2] == ("8e-06", 2)
    assert b[3] == ("1.6e-05", 5)
    assert b[-2] == ("67.108864", 5)
    assert b[-1] == ("+Inf", 6)


def test_merge_hists_sums_slots_and_ns():
    acc = {}
    collectors.merge_hists(acc, ("vda", "write"), [0, 1, 2], 10)
    collectors.merge_hists(acc, ("vda", "write"), [0, 3, 0], 5)
    assert acc == {("vda", "write"): [[0, 4, 2], 15]}


@pytest.mark.parametrize("text,want", [
    ("127.0.0.1:10095", ("127.0.0.1", 10095)),
    (":9000", ("", 9000)),
    ("[::1]:10095", ("::1", 10095)),
    ("[::]:1", ("::", 1)),
])
def test_listen_address(text, want):
    assert main.listen_address(text) == want


@pytest.mark.parametrize("text", ["10095", "host:", "host:0", "host:65536", "h:x", "h:-1"])
def test_listen_address_rejects(text):
    with pytest.raises(argparse.ArgumentTypeError):
        main.listen_address(text)


def test_collector_list():
    assert main.collector_list("runqlat, biolatency") == ["runqlat", "biolatency"]
    with pytest.raises(argparse.ArgumentTypeError, match="no collector 'x'"):
        main.collector_list("runqlat,x")
    with pytest.raises(argparse.ArgumentTypeError):
        main.collector_list(",")


needs_tomllib = pytest.mark.skipif(sys.version_info < (3, 11), reason="tomllib is Python 3.11+")


@needs_tomllib
def test_config_file(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text('collectors = ["biolatency"]\nlisten = ":10095"\n'
                 '[biolatency]\nper_disk = false\n[syscount]\nlatency = true\n')
    assert main.load_config(str(p)) == {
        "collectors": ["biolatency"], "listen": ("", 10095),
        "options": {"biolatency": {"per_disk": False}, "syscount": {"latency": True}}}


@needs_tomllib
@pytest.mark.parametrize("text,msg", [
    ("collectors = 3\n", "collectors must be a list of names"),
    ('collectors = ["nope"]\n', "no collector 'nope'"),
    ('listen = "x"\n', "is not HOST:PORT"),
    ("[biolatency]\nper_disk = 1\n", "per_disk must be bool, not 1"),
    ("[biolatency]\ncolour = true\n", "[biolatency] has no option 'colour'"),
    ("[runqlat]\nx = 1\n", "[runqlat] has no option 'x'"),
    ("biolatency = 1\n", "[biolatency] must be a table"),
    ("[bogus]\n", "unknown key or collector 'bogus'"),
    ("[syscount]\ncomm_top = -1\n", "comm_top must be 0-10000, not -1"),
    ("[syscount]\ncomm_top = true\n", "comm_top must be int, not True"),
    ("[biolatency\n", "c.toml: "),
])
def test_config_file_errors(tmp_path, text, msg):
    p = tmp_path / "c.toml"
    p.write_text(text)
    with pytest.raises(main.UsageError) as e:
        main.load_config(str(p))
    assert msg in str(e.value)
    assert "\n" not in str(e.value)


def test_base_tools_do_not_import_prometheus_client():
    import subprocess
    code = ("import sys, corebpf, corebpf.tools.biolatency, corebpf.tools.execsnoop, "
            "corebpf.exporter.collectors; "
            "print('prometheus_client' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "False"


def test_exposition_round_trips_through_the_official_parser():
    """Our text writer against prometheus_client's parser, hostile label
    values (irq and disk names come from the kernel, comms from users)."""
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
    from prometheus_client.parser import text_string_to_metric_families
    from corebpf.exporter.exposition import render
    nasty = 'a"b\\c\nd}{,=\u00e9'
    c = collectors.counter("x_events_total", 'help with "quotes" \\ and\nnewline',
                           ["irq"], {(nasty,): 3, ("plain",): 2.5})
    slots = [0] * 65
    slots[3] = 7
    h = collectors.histogram("x_latency_seconds", "h", ["disk"], {(nasty,): [slots, 12345]})
    g = GaugeMetricFamily("x_up", "g", value=1)
    text = render([c, h, g]).decode()
    got = {(s.name, tuple(sorted(s.labels.items()))): s.value
           for f in text_string_to_metric_families(text) for s in f.samples}
    assert got[("x_events_total", (("irq", nasty),))] == 3
    assert got[("x_events_total", (("irq", "plain"),))] == 2.5
    assert got[("x_latency_seconds_bucket", (("disk", nasty), ("le", "8e-06")))] == 7
    assert got[("x_latency_seconds_bucket", (("disk", nasty), ("le", "+Inf")))] == 7
    assert got[("x_latency_seconds_sum", (("disk", nasty),))] == 12345e-9
    assert got[("x_up", ())] == 1
    fams = {f.name: f for f in text_string_to_metric_families(text)}
    assert fams["x_events"].documentation == 'help with "quotes" \\ and\nnewline'
    assert fams["x_latency_seconds"].type == "histogram"


def test_top_n_caps_labels_and_never_goes_down():
    top = collectors.TopN(2)
    assert top.fold({"c": 1}) == {"c": 1, "other": 0}
    assert top.fold({"a": 10, "c": 1}) == {"a": 10, "c": 1, "other": 0}
    seen = top.fold({"a": 20, "b": 6, "c": 50, "d": 3})
    assert seen == {"a": 20, "c": 50, "other": 6 + 3}
    top = collectors.TopN(2)
    assert top.fold({"a": 10, "b": 5, "c": 1}) == {"a": 10, "b": 5, "other": 1}
    seen = top.fold({"a": 20, "b": 6, "c": 50, "d": 3})
    assert seen == {"a": 20, "b": 6, "other": 53}
    prev = seen
    for counts in ({"a": 21, "b": 6, "c": 60, "d": 9, "e": 1}, {"a": 30, "b": 9, "c": 61,
                                                                 "d": 9, "e": 4}):
        cur = top.fold(counts)
        assert all(cur[k] >= prev.get(k, 0) for k in cur)
        assert sum(cur.values()) == sum(counts.values())
        prev = cur
