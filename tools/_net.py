"""What the network tools share: address and TCP state/flag formatting, port
lists, the BPF-side port sets, DNS answers (tcpconnect -d), kernel symbols
(tcpdrop) and systemd journal records (tcpstates -Y).
"""
from __future__ import annotations

import argparse
import os
import socket
import time

from . import _cli, _jsonl

AF_INET, AF_INET6 = 2, 10

# include/net/tcp_states.h (bcc.tcp.tcpstate)
TCP_STATES = {
    1: "ESTABLISHED", 2: "SYN_SENT", 3: "SYN_RECV", 4: "FIN_WAIT1", 5: "FIN_WAIT2",
    6: "TIME_WAIT", 7: "CLOSE", 8: "CLOSE_WAIT", 9: "LAST_ACK", 10: "LISTEN",
    11: "CLOSING", 12: "NEW_SYN_RECV",
}

# TCP header flag bits, in the order bcc.tcp.flags2str names them
TCP_FLAGS = ((0x01, "FIN"), (0x02, "SYN"), (0x04, "RST"), (0x08, "PSH"),
             (0x10, "ACK"), (0x20, "URG"), (0x40, "ECE"), (0x80, "CWR"))


def state2str(state: int) -> str:
    """TCP state name ('ESTABLISHED'), or the number for unknown states."""
    return TCP_STATES.get(state, str(state))


def flags2str(flags: int) -> str:
    """TCP header flags as 'SYN|ACK'."""
    return "|".join(name for bit, name in TCP_FLAGS if flags & bit)


def ntop(family: int, raw) -> str:
    """Text form of an address held in a 16-byte array (IPv4: first 4 bytes)."""
    raw = bytes(raw)
    if family == AF_INET:
        return socket.inet_ntop(socket.AF_INET, raw[:4])
    return socket.inet_ntop(socket.AF_INET6, raw[:16])


def ipver(family: int) -> int:
    """bcc's IP column: 4 or 6."""
    return 4 if family == AF_INET else 6


def json_addr(name: str, description: str, attr: str = None) -> _jsonl.Field:
    """--json: an address field (text form) from the record's 16-byte array
    `attr` (default: `name`) and its family."""
    attr = attr or name
    return _jsonl.Field(name, "string", description,
                        get=lambda e: ntop(e.family, getattr(e, attr)))


JSON_IP = _jsonl.Field("ip", "integer", "IP version, 4 or 6", get=lambda e: ipver(e.family))


def time_prefix(a, ts_us=0, first_ts=0, header=False) -> str:
    """tcplife/tcpstates: the optional -T TIME and -t TIME(s) columns (header or values)."""
    out = ""
    if a.time:
        v = "TIME" if header else time.strftime("%H:%M:%S")
        out += ("%s," % v) if a.csv else ("%-8s " % v)
    if a.timestamp:
        if header:
            out += "TIME(s)," if a.csv else "%-9s " % "TIME(s)"
        else:
            delta = (ts_us - first_ts) / 1e6
            out += ("%.6f," % delta) if a.csv else ("%-9.6f " % delta)
    return out


# -- arguments ----------------------------------------------------------------------

def port_list(text: str) -> list:
    """argparse type: '80,81' -> [80, 81]."""
    out = []
    for part in text.split(","):
        part = part.strip()
        try:
            port = int(part)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid port: {part!r}") from None
        if not 0 <= port <= 65535:
            raise argparse.ArgumentTypeError(f"port out of range: {part}")
        out.append(port)
    return out


port_list.lo, port_list.hi = 0, 65535         # u16 ports (see tools/_cli.py, "numbers")


def netns_id(text: str) -> int:
    """argparse type: a network namespace id (the inode number of /proc/PID/ns/net)."""
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid integer: {text!r}") from None
    if not 0 <= v < 2**32:
        raise argparse.ArgumentTypeError(f"out of range: {text}")
    return v


netns_id.lo, netns_id.hi = 0, 2**32 - 1       # u32 targ_netns


def add_family(parser):
    """bcc's mutually exclusive -4/--ipv4 and -6/--ipv6."""
    g = parser.add_mutually_exclusive_group()
    g.add_argument("-4", "--ipv4", action="store_true", help="trace IPv4 family only")
    g.add_argument("-6", "--ipv6", action="store_true", help="trace IPv6 family only")


def family_of(args) -> int:
    """The address family -4/-6 selects (0: both)."""
    if getattr(args, "ipv4", False):
        return AF_INET
    if getattr(args, "ipv6", False):
        return AF_INET6
    return 0


class PortSets:
    """The PORT_SET maps of an object: switch them on before load, fill after."""

    def __init__(self, obj, **sets):
        self.obj = obj
        self.sets = {name: ports for name, ports in sets.items() if ports}
        for name in self.sets:
            obj.rodata[f"{name}_on"] = True

    def fill(self):
        for name, ports in self.sets.items():
            m = self.obj.maps[name]
            for port in ports:
                m[port] = 1


def prepare_decoders(*maps):
    """Build the maps' key/value decoders now, before the tool prints its first
    line.  (CPython 3.11: a Ctrl-C landing inside namedtuple()'s internal
    eval() makes the interpreter exit through SIGINT at the end even though
    the tool caught the KeyboardInterrupt; keep that work out of the window
    where users and tests press Ctrl-C.)"""
    for m in maps:
        m.key_codec, m.value_codec


# -- DNS answers (tcpconnect -d) --------------------------------------------------------

def _dns_name(pkt: bytes, off: int):
    """Decode a (possibly compressed) name at off: (name, offset after it)."""
    labels = []
    end = None
    for _ in range(64):
        if off >= len(pkt):
            raise ValueError("truncated name")
        n = pkt[off]
        if n & 0xC0 == 0xC0:
            if off + 1 >= len(pkt):
                raise ValueError("truncated pointer")
            if end is None:
                end = off + 2
            off = ((n & 0x3F) << 8) | pkt[off + 1]
            continue
        off += 1
        if n == 0:
            return ".".join(labels), (end if end is not None else off)
        labels.append(_cli.text(pkt[off:off + n]))     # from the network: any bytes
        off += n
    raise ValueError("name too long")


def parse_dns_answer(pkt: bytes):
    """(question name, [addresses]) of a DNS response with one question and A/AAAA
    answers; None for anything else (queries, truncated or malformed packets)."""
    import struct
    try:
        if len(pkt) < 12:
            return None
        _id, flags, qd, an, _ns, _ar = struct.unpack_from("!6H", pkt, 0)
        aa = flags & 0x0400
        if not flags & 0x8000 or qd != 1 or (an == 0 and not aa):
            return None
        qname, off = _dns_name(pkt, 12)
        off += 4
        addrs = []
        for _ in range(an):
            _name, off = _dns_name(pkt, off)
            rtype, _cls, _ttl, rdlen = struct.unpack_from("!HHIH", pkt, off)
            off += 10
            rdata = pkt[off:off + rdlen]
            off += rdlen
            if rtype == 1 and rdlen == 4:
                addrs.append(socket.inet_ntop(socket.AF_INET, rdata))
            elif rtype == 28 and rdlen == 16:
                addrs.append(socket.inet_ntop(socket.AF_INET6, rdata))
        return qname, addrs
    except (ValueError, struct.error):
        return None


class DnsCache:
    """address -> (name, time seen), bounded and expiring like bcc's TTLCache."""

    def __init__(self, maxsize=10240, ttl=86400.0):
        self.maxsize = maxsize
        self.ttl = ttl
        self._d = {}

    def add(self, addr: str, name: str, now: float = None):
        now = time.monotonic() if now is None else now
        self._d.pop(addr, None)
        self._d[addr] = (name, now)
        while len(self._d) > self.maxsize:
            del self._d[next(iter(self._d))]

    def get(self, addr: str, now: float = None):
        now = time.monotonic() if now is None else now
        hit = self._d.get(addr)
        if hit is None:
            return None
        if now - hit[1] > self.ttl:
            del self._d[addr]
            return None
        return hit


DNS_DELAY_MS = 100


def dns_text(cache: DnsCache, daddr: str, now: float = None) -> str:
    """tcpconnect -d's QUERY column for a connect to daddr."""
    now = time.monotonic() if now is None else now
    hit = cache.get(daddr, now)
    if hit is None:
        return "localhost" if daddr in ("127.0.0.1", "::1") else "No DNS Query"
    name, seen = hit
    diff_ms = (now - seen) * 1000
    return name + (" (%.3fms)" % diff_ms if diff_ms > DNS_DELAY_MS else "")


# -- kernel symbols (tcpdrop stacks) ------------------------------------------------------

class KernelSymbols:
    """Address -> 'name+0xoff' from /proc/kallsyms, read on first use."""

    def __init__(self, path="/proc/kallsyms"):
        self.path = path
        self._addrs = None
        self._names = None

    def _load(self):
        rows = []
        with open(self.path, "rb") as f:
            for line in f:
                parts = line.split()
                if len(parts) < 3 or parts[1] not in b"tTwW":
                    continue
                addr = int(parts[0], 16)
                if addr:
                    rows.append((addr, parts[2].decode("ascii", "replace")))
        rows.sort()
        self._addrs = [a for a, _ in rows]
        self._names = [n for _, n in rows]

    def resolve(self, addr: int, offset: bool = True) -> str:
        import bisect
        if self._addrs is None:
            self._load()
        i = bisect.bisect_right(self._addrs, addr) - 1
        if i < 0:
            return "[unknown]"
        name = self._names[i]
        return "%s+0x%x" % (name, addr - self._addrs[i]) if offset else name


# -- systemd journal (tcpstates -Y) ---------------------------------------------------------

JOURNAL_SOCKET = "/run/systemd/journal/socket"


class Journal:
    """Send records to journald over its native datagram protocol (what
    python-systemd's journal.send() does, without the module)."""

    def __init__(self, path: str = None):
        self.path = path or os.environ.get("COREBPF_JOURNAL_SOCKET") or JOURNAL_SOCKET
        if not os.path.exists(self.path):
            raise OSError(f"no systemd journal socket at {self.path}")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)

    @staticmethod
    def encode(fields: dict) -> bytes:
        import struct
        out = []
        for key, value in fields.items():
            v = str(value).encode("utf-8")
            k = key.encode("ascii")
            if b"\n" in v:
                out.append(k + b"\n" + struct.pack("<Q", len(v)) + v + b"\n")
            else:
                out.append(k + b"=" + v + b"\n")
        return b"".join(out)

    def send(self, **fields):
        self.sock.sendto(self.encode(fields), self.path)

    def close(self):
        self.sock.close()
