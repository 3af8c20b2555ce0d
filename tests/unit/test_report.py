"""corebpf.report (flame graph, heat map, pprof) and the unwinder's pieces
that need no kernel: escaping of hostile names, proportions, round trips,
DWARF expressions."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from corebpf.report import flamegraph, heatmap, pprof, xml_text
from corebpf.symbols import unwind

NS = "{http://www.w3.org/2000/svg}"


def frames_of(svg: str) -> list:
    root = ET.fromstring(svg)
    return root, [g for g in root.iter(NS + "g") if g.get("class") == "f"]


def test_xml_text_escapes_markup_and_controls():
    assert xml_text('<a href="x">&\'') == "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
    assert xml_text("a\x00b\x1bc\x7f") == "a\\x00b\\x1bc\\x7f"
    assert xml_text("x\ud800") == "x\\ud800"
    assert xml_text("tab\tok") == "tab\tok"


def test_flame_graph_widths_proportional_and_merged():
    stacks = [([("p", "process"), ("main", "user"), ("a", "user")], 30),
              ([("p", "process"), ("main", "user"), ("b", "user")], 10),
              ([("p", "process"), ("main", "user"), ("a", "user")], 20),
              ([("p", "process"), ("main", "user"), ("sys", "kernel")], 40)]
    root, gs = frames_of(flamegraph.render(stacks))
    total = int(root.get("data-total"))
    plot = float(root.get("data-plot-width"))
    assert total == 100
    by = {(g.get("data-name"), g.get("data-kind")): g for g in gs}
    assert int(by[("a", "user")].get("data-v")) == 50          # merged
    for g in gs:
        w = float(g.find(NS + "rect").get("width"))
        assert abs(w - int(g.get("data-v")) / total * plot) < 0.01
    assert by[("sys", "kernel")].find(NS + "rect").get("fill") != \
        by[("a", "user")].find(NS + "rect").get("fill")


def test_flame_graph_hostile_names_stay_text():
    evil = "</text><script>alert(1)</script>\x01"
    root, gs = frames_of(flamegraph.render([([(evil, "user")], 1)], title=evil))
    assert not list(root.iter(NS + "script"))[1:]                # only our own script
    names = [g.get("data-name") for g in gs]
    assert "</text><script>alert(1)</script>\\x01" in names


def test_flame_graph_empty():
    root, gs = frames_of(flamegraph.render([]))
    assert root.get("data-total") == "0" and len(gs) == 1


def test_heat_map_cells():
    cols = [(0, {3: 5, 5: 1}), (1, {}), (2, {4: 7})]
    root = ET.fromstring(heatmap.render(cols, unit="usecs"))
    cells = [c for c in root.iter(NS + "rect") if c.get("class") == "c"]
    assert root.get("data-columns") == "3" and root.get("data-rows") == "3"
    assert len(cells) == 9
    got = {(int(c.get("data-t")), int(c.get("data-b"))): int(c.get("data-n")) for c in cells}
    assert got[(0, 3)] == 5 and got[(2, 4)] == 7 and got[(1, 4)] == 0
    fills = {(int(c.get("data-t")), int(c.get("data-b"))): c.get("fill") for c in cells}
    assert fills[(1, 4)] == "rgb(255,255,255)" and fills[(2, 4)] != fills[(0, 5)]
    assert heatmap.bucket_range(0) == (0, 0) and heatmap.bucket_range(4) == (8, 15)


def test_pprof_round_trip():
    pytest.importorskip("google.protobuf")
    stacks = [([("p", "process"), ("main", "user"), ("leaf", "user")], 7),
              ([("p", "process"), ("main", "user"), ("vfs_read", "kernel")], 3)]
    prof = pprof.decode(pprof.encode(stacks, sample_type="samples", unit="count",
                                     period_type=("cpu", "nanoseconds"), period=10101010))
    s = prof.string_table
    assert s[0] == "" and s[prof.sample_type[0].type] == "samples"
    names = {f.id: s[f.name] for f in prof.function}
    leafs = {names[prof.location[x.location_id[0] - 1].line[0].function_id]: x.value[0]
             for x in prof.sample}
    assert leafs == {"leaf": 7, "vfs_read": 3}
    assert all(s[l.key] == "comm" and s[l.str] == "p" for x in prof.sample for l in x.label)
    kernel = [f for f in prof.function if s[f.name] == "vfs_read"]
    assert s[kernel[0].filename] == "[kernel]"


# x86_64 PLT entries: CFA = rsp + 8 + ((rip & 15) >= 11 ? 8 : 0)
PLT = bytes([0x77, 0x08, 0x80, 0x00, 0x3F, 0x1A, 0x3B, 0x2A, 0x33, 0x24, 0x22])


@pytest.mark.parametrize("rip,cfa", [(0x1000, 0x7008), (0x100B, 0x7010)])
def test_dwarf_expression_plt(rip, cfa):
    assert unwind.evaluate(PLT, {7: 0x7000, 16: rip}, lambda a: None) == cfa


def test_dwarf_expression_unknown_register_and_deref():
    assert unwind.evaluate(bytes([0x75, 0x00]), {}, lambda a: None) is None   # breg5, unknown
    mem = {0x10: 0x1234}
    assert unwind.evaluate(bytes([0x40, 0x06]), {}, mem.get) == 0x1234         # lit16; deref


def test_cfi_step_and_frame_pointer_step():
    stack = bytes(8) + (0x401000).to_bytes(8, "little")     # [sp] = saved rbp, [sp+8] = ra
    sp = 0x7000

    def read(a):
        off = a - sp
        return int.from_bytes(stack[off:off + 8], "little") if 0 <= off <= 8 else None
    # CFA = rsp + 16; rbp at CFA-16, ra at CFA-8
    row = (7, 16, None, ((6, 0, -16), (16, 0, -8)))
    new = unwind.Unwinder._cfi_step(row, {7: sp, 6: 5, 16: 0x400000}, read, 7, 16)
    assert new[16] == 0x401000 and new[7] == sp + 16 and new[6] == 0
    undefined_ra = (7, 8, None, ((16, 4, None),))
    assert unwind.Unwinder._cfi_step(undefined_ra, {7: sp}, read, 7, 16) is None
    fp = unwind.Unwinder._fp_step({7: sp - 64, 6: sp}, read, 7, 16, 6)
    assert fp[16] == 0x401000 and fp[7] == sp + 16


def test_arches_cover_the_dump():
    for arch in unwind.ARCHES.values():
        assert max(arch.dwarf_to_slot.values()) < arch.nregs and arch.ip_slot < arch.nregs
        assert arch.sp in arch.dwarf_to_slot
