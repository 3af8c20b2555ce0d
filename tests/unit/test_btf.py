"""BTF decoding of event and map types from a compiled object (no privilege:
opening an object only parses the ELF)."""
from __future__ import annotations

import struct

import pytest

import corebpf
from corebpf.core.btf import Btf, BtfFormatError, cstr


@pytest.fixture
def obj(test_object):
    with corebpf.Object.open(str(test_object)) as o:
        yield o


def test_event_record_fields(obj):
    codec = obj.event_codec("events")
    assert codec.record._fields == ("pid", "neg", "magic", "comm", "tag", "raw", "small", "inner")
    raw = bytearray(codec.size)
    struct.pack_into("<Ii Q", raw, 0, 42, -3, 2**63)
    raw[16:16 + 5] = b"bash\0"
    raw[32:32 + 3] = b"abc"
    raw[48:52] = b"\x00\x01\x00\x02"
    struct.pack_into("<3H", raw, 52, 1, 2, 65535)
    struct.pack_into("<II", raw, 60, 5, 6)
    r = codec.decode(bytes(raw))
    assert (r.pid, r.neg, r.magic) == (42, -3, 2**63)
    assert r.comm == "bash" and r.tag == "abc"
    assert r.raw == b"\x00\x01\x00\x02"          # __u8[] stays bytes, NULs kept
    assert r.small == (1, 2, 65535)
    assert (r.inner.a, r.inner.b) == (5, 6)
    assert codec.decode(codec.encode(r)) == r


def test_right_sized_record_decodes_short_tail():
    """A struct whose last member is an array decodes from a shorter buffer."""
    with corebpf.Object.open("opensnoop") as o:
        codec = o.event_codec("events")
        head = codec.min_size
        raw = bytearray(head) + b"/tmp/x\0"
        r = codec.decode(bytes(raw))
        assert r.buf == b"/tmp/x\0"
        assert codec.size > len(raw)


def test_map_types_from_btf(obj):
    counts = obj.maps["counts"]
    assert counts.key_codec.decode(struct.pack("<I", 5)) == 5
    v = counts.value_codec.decode(struct.pack("<Q", 9) + b"comm\0".ljust(16, b"\0"))
    assert v.count == 9 and v.comm == "comm"
    k = obj.maps["skeys"].key_codec
    assert k.encode({"pid": 1, "slot": 2}) == struct.pack("<II", 1, 2)


def test_rodata_layout_before_load(obj):
    assert set(obj.rodata.names()) >= {"targ_pid", "magic", "tag", "make_bad"}
    obj.rodata.magic = 2**64 - 1
    assert obj.rodata.magic == 2**64 - 1
    obj.rodata.tag = "x" * 40                       # truncated to the array
    assert obj.rodata.tag == "x" * 16


def test_cstr():
    assert cstr(b"abc\0def") == "abc"
    # text from other users: undecodable bytes and control characters escaped
    assert cstr(b"\xff\0") == "\\xff"
    assert cstr(b"a\x1b]0;x\x07\nb\tc\0") == "a\\x1b]0;x\\x07\\x0ab\\x09c"
    assert cstr("\u202eevil\u00e9".encode()) == "\\u202eevil\u00e9"
    # exact text on request (JSON escapes by construction)
    assert cstr(b"a\x1bb\0", raw=True) == "a\x1bb"


def test_records_decode_text_escaped_or_raw(obj):
    """char[] fields of records are escaped for the terminal by default,
    exact with raw_text=True; rodata out of range is a one-line ConfigError."""
    tid = obj.btf.datasec(".rodata")["tag"][0]
    raw = b"\x1b[2Jx\n" + bytes(16 - 5)
    assert obj.btf.codec(tid).decode(raw) == "\\x1b[2Jx\\x0a"
    assert obj.btf.codec(tid, raw_text=True).decode(raw) == "\x1b[2Jx\n"
    from corebpf import ConfigError
    with pytest.raises(ConfigError, match="magic.*does not fit 64 bits"):
        obj.rodata.magic = 2**64


def test_bad_btf():
    with pytest.raises(BtfFormatError):
        Btf(b"\0" * 40)


def test_event_record_text_is_escaped_unless_raw(obj):
    """The generated record decoder escapes char[] text from other users
    (comm, names); raw_text=True keeps it exact."""
    raw = bytearray(obj.event_codec("events").size)
    raw[16:16 + 12] = b"ev\x1b[2J\nil\xff\0"
    raw[32:32 + 4] = "\u202eab".encode()[:4]
    r = obj.event_codec("events").decode(bytes(raw))
    assert r.comm == "ev\\x1b[2J\\x0ail\\xff" and r.tag == "\\u202ea"
    r = obj.event_codec("events", raw_text=True).decode(bytes(raw))
    assert r.comm == "ev\x1b[2J\nil\udcff" and r.tag == "\u202ea"


@pytest.mark.parametrize("tool", ["opensnoop", "execsnoop", "biosnoop", "tcpconnect"])
def test_decode_span_matches_decode_of_the_slice(tool):
    """The ring buffer consumer decodes records in place (decode_span over
    the mapped pages, bounded by the record's end): the same records as
    decoding a copy of each, for full and right-sized (short-tail) records,
    with whatever follows the record left out."""
    with corebpf.Object.open(tool) as o:
        for raw_text in (False, True):
            codec = o.event_codec("events", raw_text)
            full = bytes((i * 7 + 3) % 256 for i in range(codec.size))
            for size in sorted({codec.size, getattr(codec, "min_size", codec.size),
                                getattr(codec, "min_size", codec.size) + 5}):
                rec = full[:size]
                big = b"\x1b" * 13 + rec + b"\xee" * 64
                assert codec.decode_span(big, 13, 13 + size) == codec.decode(rec)
