"""Histogram text against bcc's print_log2_hist / print_linear_hist layout
(golden text: bcc's format strings applied by hand to these counts)."""
from corebpf import histogram

NARROW = """\
     usecs               : count     distribution
         0 -> 1          : 0        |                                        |
         2 -> 3          : 0        |                                        |
         4 -> 7          : 0        |                                        |
         8 -> 15         : 0        |                                        |
        16 -> 31         : 0        |                                        |
        32 -> 63         : 0        |                                        |
        64 -> 127        : 3        |*****                                   |
       128 -> 255        : 1        |*                                       |
       256 -> 511        : 22       |****************************************|
       512 -> 1023       : 14       |*************************               |
      1024 -> 2047       : 1        |*                                       |
"""

WIDE_TAIL = """\
               nsecs                         : count     distribution
                   0 -> 1                    : 1        |********************|
                   2 -> 3                    : 0        |                    |
"""

LINEAR = """\
     runqlen       : count     distribution
        0          : 10       |****************************************|
        1          : 0        |                                        |
        2          : 3        |************                            |
"""


def slots(d):
    v = [0] * 65
    for k, n in d.items():
        v[k] = n
    return v


def test_log2_narrow():
    assert histogram.format_log2(slots({7: 3, 8: 1, 9: 22, 10: 14, 11: 1}), "usecs") == NARROW


def test_log2_wide_when_slot_over_32():
    text = histogram.format_log2(slots({1: 1, 40: 1}), "nsecs")
    assert text.startswith(WIDE_TAIL)
    last = text.splitlines()[-1]
    assert last == "%20d -> %-20d : %-8d |%-20s|" % (1 << 39, (1 << 40) - 1, 1, "*" * 20)
    assert len(text.splitlines()) == 41


def test_empty_histogram_prints_nothing():
    assert histogram.format_log2([0] * 65, "usecs") == ""
    assert histogram.format_linear([0] * 10, "x") == ""


def test_only_slot_zero_prints_nothing_but_header_rule():
    # bcc: header only if idx_max > 0; slot 0 is never printed
    assert histogram.format_log2([5] + [0] * 64, "usecs") == ""


def test_linear():
    assert histogram.format_linear([10, 0, 3], "runqlen") == LINEAR


def test_stars_rounding_matches_bcc_loop():
    # 40 * 1 / 3 = 13.33 -> 13 stars; 40 * 2 / 3 = 26.67 -> 26
    text = histogram.format_log2(slots({1: 1, 2: 2, 3: 3}), "v")
    rows = text.splitlines()[1:]
    assert [r.split("|")[1].count("*") for r in rows] == [13, 26, 40]


def test_sections():
    text = histogram.format_sections([("vda", slots({1: 2}))], "usecs", "disk", str)
    assert text == ("\ndisk = vda\n"
                    "     usecs               : count     distribution\n"
                    "         0 -> 1          : 2        |****************************************|\n")
    assert histogram.format_sections([(7, slots({1: 1}))], "usecs").startswith("\nBucket ptr = 7\n")


def test_json_form():
    h = histogram.json_hist(slots({1: 1, 3: 4}), "usecs", ("disk", "vda"))
    assert h["val_type"] == "usecs" and h["disk"] == "vda"
    assert h["data"] == [{"interval-start": 0, "interval-end": 1, "count": 1},
                         {"interval-start": 2, "interval-end": 3, "count": 0},
                         {"interval-start": 4, "interval-end": 7, "count": 4}]
